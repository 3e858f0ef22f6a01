package fs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files (name → content; a name ending in "/" is a directory) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newTree builds a tree over mounts and closes it at the end of the test.
func newTree(t testing.TB, mounts []Mount, opt Options) *Tree {
	t.Helper()
	tr, err := NewTree(mounts, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// readFile returns the content of a real file, or "<missing>".
func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// names returns the names of entries.
func names(entries []os.FileInfo) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name()
	}
	return out
}

// checkSafe fails when err's text shows a real path or an os error's wording.
func checkSafe(t *testing.T, err error, realDirs ...string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, d := range realDirs {
		if strings.Contains(msg, d) {
			t.Errorf("error %q shows the real path %q", msg, d)
		}
	}
	for _, leak := range []string{"openat", "escapes", "lstat", "statat", "syscall"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error %q shows os internals (%q)", msg, leak)
		}
	}
	var pe *PathError
	if !errors.As(err, &pe) {
		t.Errorf("error %q (%T) is not a *PathError", msg, err)
	}
}

// tempFiles lists the temporary upload files left anywhere under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// holdTemp locks a temporary upload file as an upload in progress does, until the test ends.
func holdTemp(t *testing.T, p string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if err := lockTemp(f); err != nil {
		t.Fatal(err)
	}
}
