package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEndpoints(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text, admin, health string
	}{
		{"[admin]\nlisten = \"unix:/run/wharf/admin.sock\"\n", "unix:/run/wharf/admin.sock", "error"},
		{"[admin]\nlisten = \"0.0.0.0:9123\"\n[metrics]\nlisten = \":9122\"\n", "http://127.0.0.1:9123", "http://127.0.0.1:9122/healthz"},
		{"[admin]\nlisten = \"[::]:9123\"\ntls = true\n", "https://[::1]:9123", "error"},
		{"[admin]\nlisten = \"192.0.2.1:9123\"\n[metrics]\nlisten = \"[::1]:9122\"\n", "http://192.0.2.1:9123", "http://[::1]:9122/healthz"},
		// the rest of the file is not validated: a rejected file still names the API
		{"[admin]\nlisten = \"127.0.0.1:9123\"\n[server]\nbogus = 1\n", "http://127.0.0.1:9123", "error"},
		{"", "error", "error"},
		{"[admin]\nlisten = \"127.0.0.1:0\"\n", "error", "error"},
	} {
		p := filepath.Join(dir, "wharf.toml")
		if err := os.WriteFile(p, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		e, err := ReadEndpoints(p)
		if err != nil {
			t.Fatalf("%q: %v", tc.text, err)
		}
		for _, c := range []struct {
			what, want string
			get        func() (string, error)
		}{{"admin", tc.admin, e.AdminURL}, {"health", tc.health, e.HealthURL}} {
			got, err := c.get()
			if err != nil {
				got = "error"
			}
			if got != c.want {
				t.Errorf("%q: %s = %q (%v), want %q", tc.text, c.what, got, err, c.want)
			}
		}
	}
	p := filepath.Join(dir, "broken.toml")
	os.WriteFile(p, []byte("[admin\n"), 0o600)
	if _, err := ReadEndpoints(p); err == nil || !strings.HasPrefix(err.Error(), p+":2: syntax error") {
		t.Errorf("broken file: %v", err)
	}
}
