package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: Parse never panics, fails with Errors only, every line it
// names is in the file, and a valid config can be summarized.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "check", "*.toml"))
	seeds = append(seeds, examplePath)
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(accountsDoc))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data, Options{SkipPathChecks: true})
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 || cfg != nil {
				t.Fatalf("Parse = %v, %v", cfg, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range es {
				if e.Line < 0 || e.Line > lines {
					t.Fatalf("error at line %d of %d: %v", e.Line, lines, e)
				}
			}
			return
		}
		_ = cfg.Summary()
		for _, u := range cfg.Users {
			cfg.Mounts(u)
			cfg.UserLimits(u)
			cfg.UserFilters(u)
		}
	})
}
