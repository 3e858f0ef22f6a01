package fs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSymlinks: symbolic links leading outside a folder cannot be followed by any command;
// links that stay inside work.
func TestSymlinks(t *testing.T) {
	base := t.TempDir()
	folder := filepath.Join(base, "folder")
	sibling := filepath.Join(base, "sibling")
	writeFiles(t, folder, map[string]string{"sub/f.txt": "inside", "sub/deeper/g.txt": "g"})
	writeFiles(t, sibling, map[string]string{"secret.txt": "secret", "dir/s.txt": "s"})
	links := map[string]string{
		"etc":        "/etc",                     // absolute, outside
		"passwd":     "/etc/passwd",              // absolute file, outside
		"sib":        sibling,                    // absolute, a sibling folder
		"sibrel":     "../sibling",               // relative, a sibling folder
		"up":         "../../",                   // relative, climbing out
		"sub/upfile": "../../sibling/secret.txt", // relative file, outside
		"self":       "/" + folder,               // absolute, to the folder itself
		"ok":         "sub",                      // relative, inside
		"okfile":     "sub/f.txt",                // relative file, inside
		"sub/back":   "../sub/deeper",            // climbs and comes back: inside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(folder, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	tr := newTree(t, []Mount{{Path: "/", Dir: folder, Perm: PermAll}}, Options{AtomicUploads: true})

	outside := []struct {
		dir  string // a directory reached through an escaping link
		file string // a file reached through an escaping link
	}{
		{"/etc", "/etc/passwd"},
		{"", "/passwd"},
		{"/sib", "/sib/secret.txt"},
		{"/sib/dir", "/sib/dir/s.txt"},
		{"/sibrel", "/sibrel/secret.txt"},
		{"/up", "/up/sibling/secret.txt"},
		{"", "/sub/upfile"},
		{"/self", "/self/sub/f.txt"},
	}
	for _, o := range outside {
		if o.dir != "" {
			_, err := tr.Stat(o.dir) // CWD
			refused(t, "CWD "+o.dir, err, base)
			_, err = tr.ReadDir(o.dir) // LIST
			refused(t, "LIST "+o.dir, err, base)
			err = tr.Mkdir(o.dir+"/newdir", 0o755)
			refused(t, "MKD "+o.dir+"/newdir", err, base)
			for _, flags := range []int{os.O_WRONLY | os.O_CREATE | os.O_TRUNC, os.O_WRONLY | os.O_CREATE | os.O_APPEND} {
				_, err = tr.GetHandle(o.dir+"/new.txt", flags, 0) // STOR, APPE
				refused(t, "STOR "+o.dir+"/new.txt", err, base)
			}
		}
		_, err := tr.GetHandle(o.file, os.O_RDONLY, 0) // RETR
		refused(t, "RETR "+o.file, err, base)
		_, err = tr.Stat(o.file) // SIZE, MDTM
		refused(t, "SIZE "+o.file, err, base)
		_, err = tr.GetHandle(o.file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
		refused(t, "STOR "+o.file, err, base)
		_, err = tr.GetHandle(o.file, os.O_WRONLY|os.O_CREATE, 2)
		refused(t, "REST+STOR "+o.file, err, base)
		_, err = tr.ComputeHash(o.file, 0, 0, 1)
		refused(t, "HASH "+o.file, err, base)
		if o.dir != "" { // deleting the link itself (below) is fine, deleting through it is not
			err = tr.Remove(o.file)
			refused(t, "DELE "+o.file, err, base)
		}
	}
	if got := readFile(t, filepath.Join(sibling, "secret.txt")); got != "secret" {
		t.Errorf("sibling secret changed: %q", got)
	}
	if entries, _ := os.ReadDir(sibling); len(entries) != 2 {
		t.Errorf("something was created in the sibling folder: %d entries", len(entries))
	}

	// the links themselves are listed (as links), and can be deleted or renamed
	entries, err := tr.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(entries), "etc") {
		t.Errorf("LIST / = %q", names(entries))
	}

	// links inside the folder work
	for path, want := range map[string]string{"/ok/f.txt": "inside", "/okfile": "inside", "/sub/back/g.txt": "g"} {
		h, err := tr.GetHandle(path, os.O_RDONLY, 0)
		if err != nil {
			t.Errorf("RETR %s: %v", path, err)
			continue
		}
		b, _ := io.ReadAll(h)
		_ = h.Close()
		if string(b) != want {
			t.Errorf("RETR %s = %q", path, b)
		}
	}
	if fi, err := tr.Stat("/ok"); err != nil || !fi.IsDir() {
		t.Errorf("CWD /ok: %v, %v", fi, err)
	}
	if entries, err := tr.ReadDir("/ok"); err != nil || !slices.Equal(names(entries), []string{"back", "deeper", "f.txt", "upfile"}) {
		t.Errorf("LIST /ok = %q, %v", names(entries), err)
	}
	h, err := tr.GetHandle("/ok/new.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
	if err != nil {
		t.Fatalf("STOR /ok/new.txt: %v", err)
	}
	_, _ = h.Write([]byte("new"))
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(folder, "sub", "new.txt")); got != "new" {
		t.Errorf("STOR through an inside link wrote %q", got)
	}
	if err := tr.Remove("/etc"); err != nil { // deleting the link itself is fine
		t.Errorf("DELE of a link: %v", err)
	}
	if _, err := os.Stat("/etc/passwd"); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Log(err)
	}
}

func refused(t *testing.T, what string, err error, realDirs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s succeeded", what)
		return
	}
	checkSafe(t, err, realDirs...)
}
