package fs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPermissions runs every operation once with exactly the permission it needs and once with
// every permission but that one.
func TestPermissions(t *testing.T) {
	const files = "docs"
	type op struct {
		name  string
		need  Perm
		alt   Perm // a second permission that also allows it (Stat: list or read)
		do    func(tr *Tree) error
		check string // expected text of the refusal
	}
	stor := func(name string, flags int, offset int64) func(*Tree) error {
		return func(tr *Tree) error {
			h, err := tr.GetHandle(name, flags, offset)
			if err != nil {
				return err
			}
			_, _ = h.Write([]byte("data"))
			return h.Close()
		}
	}
	ops := []op{
		{name: "Stat file", need: PermList, alt: PermRead, do: func(tr *Tree) error { _, err := tr.Stat("/docs/a.txt"); return err },
			check: `/docs/a.txt: permission denied (no "list" or "read" permission)`},
		{name: "Stat dir (CWD)", need: PermList, alt: PermRead, do: func(tr *Tree) error { _, err := tr.Stat("/docs/sub"); return err }},
		{name: "ReadDir (LIST)", need: PermList, do: func(tr *Tree) error { _, err := tr.ReadDir("/docs/sub"); return err },
			check: `/docs/sub: permission denied (no "list" permission)`},
		{name: "ReadDir mount point", need: PermList, do: func(tr *Tree) error { _, err := tr.ReadDir("/docs"); return err }},
		{name: "Open dir", need: PermList, do: func(tr *Tree) error {
			f, err := tr.Open("/docs/sub")
			if err == nil {
				_ = f.Close()
			}
			return err
		}},
		{name: "RETR", need: PermRead, do: func(tr *Tree) error {
			h, err := tr.GetHandle("/docs/a.txt", os.O_RDONLY, 0)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, h)
			return h.Close()
		}, check: `/docs/a.txt: permission denied (no "read" permission)`},
		{name: "REST+RETR", need: PermRead, do: func(tr *Tree) error {
			h, err := tr.GetHandle("/docs/a.txt", os.O_RDONLY, 3)
			if err != nil {
				return err
			}
			return h.Close()
		}},
		{name: "Open file", need: PermRead, do: func(tr *Tree) error {
			f, err := tr.Open("/docs/a.txt")
			if err == nil {
				_ = f.Close()
			}
			return err
		}},
		{name: "STOR new", need: PermWrite, do: stor("/docs/new.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0),
			check: `/docs/new.txt: permission denied (no "write" permission)`},
		{name: "STOR overwrite", need: PermWrite, do: stor("/docs/a.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)},
		{name: "APPE", need: PermAppend, do: stor("/docs/a.txt", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0),
			check: `/docs/a.txt: permission denied (no "append" permission)`},
		{name: "APPE new", need: PermAppend, do: stor("/docs/new.txt", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0)},
		{name: "REST+STOR at the end", need: PermAppend, do: stor("/docs/a.txt", os.O_WRONLY|os.O_CREATE, 7)},
		{name: "OpenFile write", need: PermWrite, do: func(tr *Tree) error {
			f, err := tr.OpenFile("/docs/new.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err == nil {
				_ = f.Close()
			}
			return err
		}},
		{name: "DELE", need: PermDelete, do: func(tr *Tree) error { return tr.Remove("/docs/a.txt") },
			check: `/docs/a.txt: permission denied (no "delete" permission)`},
		{name: "RMD", need: PermRmdir, do: func(tr *Tree) error { return tr.RemoveDir("/docs/empty") },
			check: `/docs/empty: permission denied (no "rmdir" permission)`},
		{name: "MKD", need: PermMkdir, do: func(tr *Tree) error { return tr.Mkdir("/docs/newdir", 0o755) },
			check: `/docs/newdir: permission denied (no "mkdir" permission)`},
		{name: "MkdirAll", need: PermMkdir, do: func(tr *Tree) error { return tr.MkdirAll("/docs/n1/n2", 0o755) }},
		{name: "RNFR/RNTO", need: PermRename, do: func(tr *Tree) error { return tr.Rename("/docs/a.txt", "/docs/sub/b.txt") },
			check: `/docs/a.txt: permission denied (no "rename" permission)`},
		{name: "MFMT", need: PermWrite, do: func(tr *Tree) error { return tr.Chtimes("/docs/a.txt", time.Now(), time.Now()) }},
		{name: "AVBL", need: PermList, do: func(tr *Tree) error { _, err := tr.GetAvailableSpace("/docs"); return err }},
		{name: "HASH", need: PermRead, do: func(tr *Tree) error { _, err := tr.ComputeHash("/docs/a.txt", 0, 0, 3); return err }},
	}
	for _, atomic := range []bool{false, true} {
		for _, o := range ops {
			t.Run(fmt.Sprintf("%s/atomic=%v", o.name, atomic), func(t *testing.T) {
				allowed := []Perm{o.need}
				if o.alt != 0 {
					allowed = append(allowed, o.alt)
				}
				for _, p := range allowed {
					dir := t.TempDir()
					writeFiles(t, dir, map[string]string{"a.txt": "content", "sub/": "", "empty/": ""})
					tr := newTree(t, []Mount{{Path: "/" + files, Dir: dir, Perm: p}}, Options{AtomicUploads: atomic})
					if err := o.do(tr); err != nil {
						t.Errorf("with %q: %v", p, err)
					}
				}
				dir := t.TempDir()
				writeFiles(t, dir, map[string]string{"a.txt": "content", "sub/": "", "empty/": ""})
				deny := PermAll &^ o.need &^ o.alt
				tr := newTree(t, []Mount{{Path: "/" + files, Dir: dir, Perm: deny}}, Options{AtomicUploads: atomic})
				err := o.do(tr)
				if !errors.Is(err, os.ErrPermission) {
					t.Fatalf("with %q: err = %v, want a permission error", deny, err)
				}
				checkSafe(t, err, dir)
				if o.check != "" && err.Error() != o.check {
					t.Errorf("error = %q, want %q", err, o.check)
				}
				// nothing was touched on disk
				if got := readFile(t, dir+"/a.txt"); got != "content" {
					t.Errorf("a.txt = %q after a refused %s", got, o.name)
				}
				if len(tempFiles(t, dir)) != 0 {
					t.Error("temporary file left behind")
				}
			})
		}
	}
}

// TestRenamePermissionBothFolders: a rename needs "rename" on the folder of both paths.
func TestRenamePermissionBothFolders(t *testing.T) {
	outer, inner := t.TempDir(), t.TempDir()
	writeFiles(t, outer, map[string]string{"a.txt": "a", "d/": ""})
	tests := []struct {
		name string
		perm Perm
		ok   bool
	}{
		{"rename", PermRename, true},
		{"no rename", PermAll &^ PermRename, false},
	}
	for _, tt := range tests {
		tr := newTree(t, []Mount{
			{Path: "/", Dir: outer, Perm: tt.perm},
			{Path: "/in", Dir: inner, Perm: PermAll},
		}, Options{})
		err := tr.Rename("/a.txt", "/d/a.txt")
		if (err == nil) != tt.ok {
			t.Errorf("%s: rename = %v", tt.name, err)
		}
		if err == nil {
			_ = tr.Rename("/d/a.txt", "/a.txt")
		}
		if err := tr.Rename("/in/x", "/a.txt"); err == nil || !strings.Contains(err.Error(), "across folders") {
			t.Errorf("%s: cross-folder rename = %v", tt.name, err)
		}
	}
}

// TestAlwaysRefused: Chmod, Chown and RemoveAll are refused even with every permission.
func TestAlwaysRefused(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.txt": "a", "d/x": "x"})
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{})
	for name, err := range map[string]error{
		"Chmod":     tr.Chmod("/a.txt", 0o777),
		"Chown":     tr.Chown("/a.txt", 0, 0),
		"RemoveAll": tr.RemoveAll("/d"),
	} {
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("%s = %v", name, err)
		}
		checkSafe(t, err, dir)
	}
	if got := readFile(t, dir+"/d/x"); got != "x" {
		t.Error("RemoveAll removed something")
	}
}
