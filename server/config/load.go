package config

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// Options change how a file is checked.
type Options struct {
	// SkipPathChecks skips every check that looks at the filesystem: folder
	// paths, certificate, key and CA files, the directories of state and log
	// files, the modes of the file and its key files (`wharf check
	// --skip-path-checks`, e.g. for an example file in CI).
	SkipPathChecks bool

	// BaseDir is the directory relative paths in the file (folders,
	// certificate, key and CA files, state, log and secret key files) are
	// resolved against; "" = the working directory. Load sets it to the
	// file's own directory.
	BaseDir string
}

// Load reads and validates the file at path. On failure the error is an
// Errors value holding every problem, sorted by line.
func Load(path string, opt Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, Errors{{File: path, Msg: "cannot read the file: " + err.Error()}}
	}
	if opt.BaseDir == "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, Errors{{File: path, Msg: err.Error()}}
		}
		opt.BaseDir = filepath.Dir(abs)
	}
	cfg, err := Parse(path, data, opt)
	if err != nil {
		return nil, err
	}
	if !opt.SkipPathChecks {
		cfg.Warnings = append(fileModeWarnings(path, cfg), cfg.Warnings...)
	}
	return cfg, nil
}

// Parse validates data, a TOML document; name stands for the file in
// messages and in Config.File. On failure the error is an Errors value
// holding every problem, sorted by line.
func Parse(name string, data []byte, opt Options) (*Config, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{{File: name, Line: pe.Position.Line, Msg: "syntax error: " + pe.Message}}
		}
		return nil, Errors{{File: name, Msg: err.Error()}}
	}
	c := &checker{file: name, lines: indexLines(data), opt: opt}
	cfg := Default()
	cfg.File = name
	c.document(c.newTable(nil, doc), cfg)
	switch {
	case len(doc) == 0:
		c.warnf(nil, "the file sets nothing: every setting is its default (listen on %s) and there are no users, so nobody can log in",
			strings.Join(cfg.Server.Listen, ", "))
	case len(cfg.Users) == 0:
		c.warnf(nil, "no [users.NAME] table: nobody can log in")
	}
	if len(c.errs) > 0 {
		return nil, c.errs.sorted()
	}
	cfg.Warnings = c.warns.sorted()
	return cfg, nil
}

// document decodes and checks every table of the file into cfg.
func (c *checker) document(root *table, cfg *Config) {
	if t := root.sub("server"); t != nil {
		c.server(t, &cfg.Server)
	}
	if t := root.sub("tls"); t != nil {
		c.tls(t, &cfg.TLS)
	}
	if t := root.sub("passive"); t != nil {
		c.passive(t, &cfg.Passive)
	}
	if t := root.sub("active"); t != nil {
		t.boolean("enabled", &cfg.Active.Enabled)
		t.boolean("allow_foreign", &cfg.Active.AllowForeign)
		t.boolean("use_control_address", &cfg.Active.UseControlAddress)
		t.finish()
	}
	if t := root.sub("limits"); t != nil {
		c.limits(t, &cfg.Limits)
	}
	if t := root.sub("ipfilter"); t != nil {
		cfg.IPFilter = c.ipfilter(t)
	}
	if t := root.sub("autoban"); t != nil {
		c.autoban(t, &cfg.Autoban)
	}
	if t := root.sub("metrics"); t != nil {
		if t.str("listen", &cfg.Metrics.Listen) && cfg.Metrics.Listen != "" {
			c.listenAddress(t.loc("listen"), cfg.Metrics.Listen)
		}
		t.finish()
	}
	if t := root.sub("admin"); t != nil {
		c.admin(t, &cfg.Admin)
	}
	if t := root.sub("proxy_protocol"); t != nil {
		c.proxyProtocol(t, &cfg.Proxy)
	}
	if t := root.sub("cluster"); t != nil {
		c.cluster(t, &cfg.Cluster)
	}
	if t := root.sub("log"); t != nil {
		c.log(t, &cfg.Log)
	}
	cfg.Hooks = c.hooks(root)
	if t := root.sub("stores"); t != nil {
		c.readStores(t, cfg)
	}
	if t := root.sub("groups"); t != nil {
		c.groups(t, cfg)
	}
	if t := root.sub("users"); t != nil {
		c.users(t, cfg)
	}
	root.finish()
	c.crossChecks(cfg)
}
