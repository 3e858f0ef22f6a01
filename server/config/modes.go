package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Who may read or write the configuration and key files. The group is not
// warned about being able to read: the usual install gives the service's group
// read access (0640 root:wharf).
const (
	modeGroupOtherWrite = 0o022
	modeOtherRead       = 0o004
)

// resolve returns p made absolute against the base directory (the file's own
// directory with Load), or p itself when it is empty or absolute.
func (c *checker) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if c.opt.BaseDir != "" {
		return filepath.Join(c.opt.BaseDir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// secretFileMode warns about a key file that every user of the host can read.
func (c *checker) secretFileMode(l loc, file string) {
	fi, err := os.Stat(file)
	if err != nil {
		return
	}
	if m := fi.Mode().Perm(); m&modeOtherRead != 0 {
		c.warnf(l, "%s: %q is readable by every user (mode %04o): chmod o-r %s", l, file, m, file)
	}
}

// fileModeWarnings warns about a configuration file that others can change,
// or that every user can read while it holds password hashes or secrets.
func fileModeWarnings(path string, cfg *Config) Errors {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	m := fi.Mode().Perm()
	var out Errors
	if m&modeGroupOtherWrite != 0 {
		out = append(out, Error{File: path, Msg: fmt.Sprintf(
			"warning: the file is writable by its group or by every user (mode %04o), and it decides who logs in: chmod go-w %s",
			m, path)})
	}
	if what := secretsIn(cfg); what != "" && m&modeOtherRead != 0 {
		out = append(out, Error{File: path, Msg: fmt.Sprintf(
			"warning: the file is readable by every user (mode %04o) and holds %s: chmod o-r %s", m, what, path)})
	}
	return out
}

// secretsIn names what cfg holds that no other user of the host should read,
// or returns "".
func secretsIn(cfg *Config) string {
	for _, s := range cfg.Stores {
		if s.SecretKey != "" && s.SecretKeyFile == "" {
			return "a store's secret key"
		}
	}
	if u, err := url.Parse(cfg.Cluster.Redis); err == nil && cfg.Cluster.Redis != "" {
		if _, has := u.User.Password(); has {
			return "the Redis password"
		}
	}
	for _, u := range cfg.Users {
		if u.Password != "" {
			return "password hashes"
		}
	}
	for _, u := range cfg.Admin.Users {
		if u.Password != "" {
			return "password hashes"
		}
	}
	return ""
}
