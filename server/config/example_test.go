package config

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const examplePath = "../../config.example.toml"

// The example file is valid (its paths do not exist here, so without them).
func TestExampleParses(t *testing.T) {
	cfg, err := Load(examplePath, Options{SkipPathChecks: true})
	if err != nil {
		t.Fatalf("config.example.toml:\n%v", err)
	}
	if len(cfg.Users) == 0 || len(cfg.Groups) == 0 || len(cfg.Passive.Overrides) == 0 {
		t.Errorf("example lacks users, groups or overrides: %s", cfg.Summary())
	}
}

// The example shows the defaults of Default() wherever it is not an example
// (certificate, overrides, groups, users).
func TestExampleShowsDefaults(t *testing.T) {
	cfg, err := Load(examplePath, Options{SkipPathChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	cfg.TLS.Certificate, cfg.TLS.Key = "", ""
	cfg.Passive.Overrides = nil
	cfg.Admin.Users = def.Admin.Users
	for name, pair := range map[string][2]any{
		"server":   {cfg.Server, def.Server},
		"tls":      {cfg.TLS, def.TLS},
		"passive":  {cfg.Passive, def.Passive},
		"active":   {cfg.Active, def.Active},
		"limits":   {cfg.Limits, def.Limits},
		"ipfilter": {cfg.IPFilter, def.IPFilter},
		"autoban":  {cfg.Autoban, def.Autoban},
		"metrics":  {cfg.Metrics, def.Metrics},
		"admin":    {cfg.Admin, def.Admin},
		"proxy":    {cfg.Proxy, def.Proxy},
		"cluster":  {cfg.Cluster, def.Cluster},
		"log":      {cfg.Log, def.Log},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("[%s] in the example: %+v\nDefault(): %+v", name, pair[0], pair[1])
		}
	}
}

// An empty file gives Default().
func TestDefaultIsEmptyFile(t *testing.T) {
	for _, data := range []string{"", "# nothing\n\n"} {
		cfg, err := Parse("empty.toml", []byte(data), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), "empty.toml: warning: the file sets nothing") {
			t.Errorf("Parse(%q) warnings = %v, want one about an empty file", data, cfg.Warnings)
		}
		cfg.Warnings = nil
		want := Default()
		want.File = "empty.toml"
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("Parse(%q) = %+v\nwant Default() = %+v", data, cfg, want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := t.TempDir() + "/nope.toml"
	_, err := Load(path, Options{})
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 {
		t.Fatalf("Load = %v, want one Error", err)
	}
	want := path + ": cannot read the file: no such file or directory"
	if err.Error() != want {
		t.Errorf("Load error = %q, want %q", err, want)
	}
}

func TestLoadFile(t *testing.T) {
	path := t.TempDir() + "/wharf.toml"
	if err := os.WriteFile(path, []byte("[server]\nlisten = [\"127.0.0.1:0\"]\nbanner = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, Options{})
	if want := path + ":3: server.banner: must be a string"; err == nil || err.Error() != want {
		t.Errorf("Load error = %v, want %q", err, want)
	}
}
