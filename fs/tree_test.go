package fs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

func TestNewTreeErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"file": "x"})
	tests := []struct {
		name   string
		mounts []Mount
	}{
		{"missing dir", []Mount{{Path: "/", Dir: filepath.Join(dir, "nope")}}},
		{"not a dir", []Mount{{Path: "/", Dir: filepath.Join(dir, "file")}}},
		{"relative path", []Mount{{Path: "shared", Dir: dir}}},
		{"twice", []Mount{{Path: "/a", Dir: dir}, {Path: "/a/", Dir: dir}}},
		{"reserved name", []Mount{{Path: "/" + tempPrefix + "x", Dir: dir}}},
		{"second fails", []Mount{{Path: "/", Dir: dir}, {Path: "/b", Dir: filepath.Join(dir, "nope")}}},
	}
	for _, tt := range tests {
		if tr, err := NewTree(tt.mounts, Options{}); err == nil {
			_ = tr.Close()
			t.Errorf("%s: NewTree succeeded", tt.name)
		}
	}
	if tr, err := NewTree(nil, Options{}); err != nil {
		t.Errorf("empty tree: %v", err)
	} else {
		_ = tr.Close()
	}
}

func TestName(t *testing.T) {
	if got := newTree(t, nil, Options{}).Name(); got != "wharf" {
		t.Fatalf("Name() = %q", got)
	}
}

// TestMountResolution covers deepest-mount-wins, mount points replacing real entries, and
// directories synthesized on the way to deeper mounts.
func TestMountResolution(t *testing.T) {
	home, shared, deep := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, home, map[string]string{"a.txt": "home a", "shared/hidden.txt": "under the mount", "sub/": ""})
	writeFiles(t, shared, map[string]string{"b.txt": "shared b"})
	writeFiles(t, deep, map[string]string{"c.txt": "deep c"})
	tr := newTree(t, []Mount{
		{Path: "/", Dir: home, Perm: PermAll},
		{Path: "/shared", Dir: shared, Perm: PermList | PermRead},
		{Path: "/deep/x/y", Dir: deep, Perm: PermAll},
	}, Options{})

	tests := []struct {
		path    string
		content string // "" for a directory
		wantErr error
	}{
		{path: "/a.txt", content: "home a"},
		{path: "a.txt", content: "home a"},
		{path: "/shared/b.txt", content: "shared b"},
		{path: "/shared/../a.txt", content: "home a"},
		{path: "/shared/hidden.txt", wantErr: os.ErrNotExist},
		{path: "/deep/x/y/c.txt", content: "deep c"},
		{path: "/deep/x/y/../../x/y/c.txt", content: "deep c"},
		{path: "/../../../a.txt", content: "home a"},
		{path: "/../../etc/passwd", wantErr: os.ErrNotExist},
		{path: "/deep/nope", wantErr: os.ErrNotExist},
		{path: "/nope.txt", wantErr: os.ErrNotExist},
	}
	for _, tt := range tests {
		fi, err := tr.Stat(tt.path)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Stat(%q) err = %v, want %v", tt.path, err, tt.wantErr)
			}
			checkSafe(t, err, home, shared, deep)
			continue
		}
		if err != nil || fi.IsDir() {
			t.Errorf("Stat(%q) = %v, %v", tt.path, fi, err)
			continue
		}
		h, err := tr.GetHandle(tt.path, os.O_RDONLY, 0)
		if err != nil {
			t.Errorf("GetHandle(%q): %v", tt.path, err)
			continue
		}
		b, _ := io.ReadAll(h)
		_ = h.Close()
		if string(b) != tt.content {
			t.Errorf("%q holds %q, want %q", tt.path, b, tt.content)
		}
	}

	dirs := []struct {
		path string
		want []string
	}{
		{"/", []string{"a.txt", "deep", "shared", "sub"}},
		{"/shared", []string{"b.txt"}},
		{"/deep", []string{"x"}},
		{"/deep/x", []string{"y"}},
		{"/deep/x/y", []string{"c.txt"}},
		{"/deep/x/y/", []string{"c.txt"}},
	}
	for _, d := range dirs {
		fi, err := tr.Stat(d.path)
		if err != nil || !fi.IsDir() {
			t.Errorf("Stat(%q) = %v, %v; want a directory", d.path, fi, err)
		}
		entries, err := tr.ReadDir(d.path)
		if err != nil {
			t.Errorf("ReadDir(%q): %v", d.path, err)
			continue
		}
		if got := names(entries); !slices.Equal(got, d.want) {
			t.Errorf("ReadDir(%q) = %q, want %q", d.path, got, d.want)
		}
	}
	// the mount point's entry describes the mounted folder, under the mount's name
	if fi, err := tr.Stat("/shared"); err != nil || fi.Name() != "shared" || !fi.IsDir() {
		t.Errorf("Stat(/shared) = %v, %v", fi, err)
	}
	if fi, err := tr.Stat("/deep/x/y"); err != nil || fi.Name() != "y" {
		t.Errorf("Stat(/deep/x/y) = %v, %v", fi, err)
	}
	// a real file or directory cannot be created inside a synthesized directory
	if _, err := tr.GetHandle("/deep/new.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0); err == nil {
		t.Error("STOR inside a synthesized directory of a folder succeeded without its parent")
	}
	// mount points and their ancestors cannot be changed
	for _, op := range []struct {
		name string
		do   func() error
	}{
		{"DELE mount point", func() error { return tr.Remove("/shared") }},
		{"RMD mount point", func() error { return tr.RemoveDir("/deep/x/y") }},
		{"RMD ancestor", func() error { return tr.RemoveDir("/deep") }},
		{"RNFR mount point", func() error { return tr.Rename("/shared", "/other") }},
		{"RNFR ancestor", func() error { return tr.Rename("/deep", "/other") }},
		{"RNTO mount point", func() error { return tr.Rename("/a.txt", "/shared") }},
		{"RNTO ancestor", func() error { return tr.Rename("/a.txt", "/deep/x") }},
		{"RNTO other folder", func() error { return tr.Rename("/a.txt", "/deep/x/y/a.txt") }},
		{"STOR over mount point", func() error {
			_, err := tr.GetHandle("/shared", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
			return err
		}},
	} {
		err := op.do()
		if err == nil {
			t.Errorf("%s succeeded", op.name)
		}
		checkSafe(t, err, home, shared, deep)
	}
	if err := tr.Rename("/a.txt", "/deep/x/y/a.txt"); err == nil || !strings.Contains(err.Error(), "cannot rename across folders") {
		t.Errorf("cross-folder rename: %v", err)
	}
	if err := tr.Remove("/shared"); err == nil || !strings.Contains(err.Error(), "mounted folder") {
		t.Errorf("DELE mount point: %v", err)
	}
}

// TestVirtualRoot: without a mount at "/", the root is a read-only directory of mount points.
func TestVirtualRoot(t *testing.T) {
	pub, alice := t.TempDir(), t.TempDir()
	writeFiles(t, pub, map[string]string{"readme": "hello"})
	tr := newTree(t, []Mount{
		{Path: "/pub", Dir: pub, Perm: PermList | PermRead},
		{Path: "/home/alice", Dir: alice, Perm: PermAll},
	}, Options{})

	for _, p := range []string{"/", "", ".", "/..", "/home"} {
		fi, err := tr.Stat(p)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o555 {
			t.Errorf("Stat(%q) = %v, %v", p, fi, err)
		}
	}
	entries, err := tr.ReadDir("/")
	if err != nil || !slices.Equal(names(entries), []string{"home", "pub"}) {
		t.Fatalf("ReadDir(/) = %q, %v", names(entries), err)
	}
	entries, err = tr.ReadDir("/home")
	if err != nil || !slices.Equal(names(entries), []string{"alice"}) {
		t.Fatalf("ReadDir(/home) = %q, %v", names(entries), err)
	}
	if _, err := tr.Stat("/nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(/nope) = %v", err)
	}
	if _, err := tr.ReadDir("/nope"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadDir(/nope) = %v", err)
	}
	refused := []struct {
		name string
		do   func() error
	}{
		{"STOR", func() error {
			_, err := tr.GetHandle("/x.txt", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
			return err
		}},
		{"RETR dir", func() error { _, err := tr.GetHandle("/home", os.O_RDONLY, 0); return err }},
		{"MKD", func() error { return tr.Mkdir("/new", 0o755) }},
		{"MKD existing", func() error { return tr.Mkdir("/home", 0o755) }},
		{"DELE", func() error { return tr.Remove("/pub") }},
		{"RMD", func() error { return tr.RemoveDir("/home") }},
		{"RNFR", func() error { return tr.Rename("/home", "/house") }},
		{"RNTO", func() error { return tr.Rename("/home/alice/f", "/f") }},
		{"MFMT", func() error { return tr.Chtimes("/home", time.Now(), time.Now()) }},
		{"AVBL", func() error { _, err := tr.GetAvailableSpace("/"); return err }},
	}
	for _, r := range refused {
		err := r.do()
		if err == nil {
			t.Errorf("%s in the virtual root succeeded", r.name)
		}
		checkSafe(t, err, pub, alice)
	}
	if err := tr.MkdirAll("/home", 0o755); err != nil {
		t.Errorf("MkdirAll of an existing virtual directory: %v", err)
	}
	// inside a mount, everything works
	h, err := tr.GetHandle("/home/alice/f", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = h.Write([]byte("data"))
	_ = h.Close()
	if got := readFile(t, filepath.Join(alice, "f")); got != "data" {
		t.Errorf("upload = %q", got)
	}
	if n, err := tr.GetAvailableSpace("/home/alice"); err != nil || n <= 0 {
		t.Errorf("GetAvailableSpace = %d, %v", n, err)
	}
}

func TestInvalidNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.txt": "a", tempPrefix + "abc": "partial", "sub/" + tempPrefix + "d/x": "x"})
	holdTemp(t, filepath.Join(dir, tempPrefix+"abc")) // an upload in progress: not swept
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{AtomicUploads: true})

	// NUL bytes
	nul := "/a\x00.txt"
	for name, err := range map[string]error{
		"Stat":      second(tr.Stat(nul)),
		"ReadDir":   second(tr.ReadDir(nul)),
		"RETR":      second(tr.GetHandle(nul, os.O_RDONLY, 0)),
		"STOR":      second(tr.GetHandle(nul, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)),
		"DELE":      tr.Remove(nul),
		"MKD":       tr.Mkdir(nul, 0o755),
		"RNTO":      tr.Rename("/a.txt", nul),
		"RNFR":      tr.Rename(nul, "/b.txt"),
		"Open":      second(tr.Open(nul)),
		"Chtimes":   tr.Chtimes(nul, time.Now(), time.Now()),
		"AVBL":      second(tr.GetAvailableSpace(nul)),
		"HASH":      second(tr.ComputeHash(nul, ftpserver.HASHAlgoSHA256, 0, 1)),
		"RMD":       tr.RemoveDir(nul),
		"RemoveAll": tr.RemoveAll(nul),
	} {
		if !errors.Is(err, ftpserver.ErrFileNameNotAllowed) {
			t.Errorf("%s with a NUL byte: %v", name, err)
		}
		if err != nil && strings.ContainsRune(err.Error(), 0) {
			t.Errorf("%s: error text holds a NUL byte", name)
		}
	}

	// temporary upload names do not exist, and cannot be created
	entries, err := tr.ReadDir("/")
	if err != nil || !slices.Equal(names(entries), []string{"a.txt", "sub"}) {
		t.Errorf("ReadDir(/) = %q, %v", names(entries), err)
	}
	if entries, _ := tr.ReadDir("/sub"); len(entries) != 0 {
		t.Errorf("ReadDir(/sub) = %q", names(entries))
	}
	tmp := "/" + tempPrefix + "abc"
	for name, err := range map[string]error{
		"Stat":     second(tr.Stat(tmp)),
		"Stat dir": second(tr.Stat("/sub/" + tempPrefix + "d/x")),
		"RETR":     second(tr.GetHandle(tmp, os.O_RDONLY, 0)),
		"DELE":     tr.Remove(tmp),
		"RNFR":     tr.Rename(tmp, "/b.txt"),
		"MFMT":     tr.Chtimes(tmp, time.Now(), time.Now()),
		"HASH":     second(tr.ComputeHash(tmp, ftpserver.HASHAlgoMD5, 0, 1)),
	} {
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of a temporary file: %v", name, err)
		}
	}
	for name, err := range map[string]error{
		"RNTO": tr.Rename("/a.txt", tmp),
		"STOR": second(tr.GetHandle("/"+tempPrefix+"new", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)),
		"APPE": second(tr.GetHandle(tmp, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0)),
		"MKD":  tr.Mkdir("/"+tempPrefix+"dir", 0o755),
	} {
		if !errors.Is(err, ftpserver.ErrFileNameNotAllowed) {
			t.Errorf("%s to a temporary name: %v", name, err)
		}
	}
	if got := readFile(t, filepath.Join(dir, tempPrefix+"abc")); got != "partial" {
		t.Errorf("temporary file changed: %q", got)
	}
}

func second[T any](_ T, err error) error { return err }

func TestRemoveAndRmdir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "x", "empty/": "", "full/g": "y"})
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{})
	if err := tr.Remove("/empty"); err == nil || !strings.Contains(err.Error(), "is a directory, use RMD") {
		t.Errorf("DELE of a directory: %v", err)
	}
	if err := tr.RemoveDir("/f"); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("RMD of a file: %v", err)
	}
	if err := tr.RemoveDir("/full"); err == nil || !strings.Contains(err.Error(), "directory not empty") {
		t.Errorf("RMD of a full directory: %v", err)
	}
	if err := tr.RemoveAll("/full"); !errors.Is(err, os.ErrPermission) {
		t.Errorf("RemoveAll: %v", err)
	}
	if err := tr.Remove("/nope"); !errors.Is(err, os.ErrNotExist) || err.Error() != "/nope: no such file or directory" {
		t.Errorf("DELE of a missing file: %v", err)
	}
	if err := tr.Mkdir("/empty", 0o755); !errors.Is(err, os.ErrExist) {
		t.Errorf("MKD of an existing directory: %v", err)
	}
	if err := tr.Remove("/f"); err != nil {
		t.Error(err)
	}
	if err := tr.RemoveDir("/empty"); err != nil {
		t.Error(err)
	}
	if err := tr.MkdirAll("/a/b/c", 0o700); err != nil {
		t.Error(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a", "b", "c")); err != nil || !fi.IsDir() {
		t.Errorf("MkdirAll: %v", err)
	}
	if err := tr.Rename("/full", "/renamed"); err != nil {
		t.Error(err)
	}
	if got := readFile(t, filepath.Join(dir, "renamed", "g")); got != "y" {
		t.Errorf("after rename: %q", got)
	}
	if err := tr.Chmod("/renamed", 0o777); !errors.Is(err, os.ErrPermission) {
		t.Errorf("Chmod: %v", err)
	}
	if err := tr.Chown("/renamed", 0, 0); !errors.Is(err, os.ErrPermission) {
		t.Errorf("Chown: %v", err)
	}
	when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := tr.Chtimes("/renamed/g", when, when); err != nil {
		t.Error(err)
	}
	if fi, err := tr.Stat("/renamed/g"); err != nil || !fi.ModTime().Equal(when) {
		t.Errorf("after Chtimes: %v, %v", fi, err)
	}
}

func TestAferoFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"d/a": "aa", "d/b": "bb", "f": "hello"})
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{AtomicUploads: true})

	d, err := tr.Open("/d")
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.Readdir(1)
	if err != nil || len(first) != 1 || first[0].Name() != "a" {
		t.Errorf("Readdir(1) = %q, %v", names(first), err)
	}
	rest, err := d.Readdirnames(-1)
	if err != nil || !slices.Equal(rest, []string{"b"}) {
		t.Errorf("Readdirnames(-1) = %q, %v", rest, err)
	}
	if _, err := d.Readdir(1); err != io.EOF {
		t.Errorf("Readdir at the end: %v", err)
	}
	if _, err := d.Read(make([]byte, 1)); err == nil {
		t.Error("Read of a directory succeeded")
	}
	_ = d.Close()

	f, err := tr.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if n, err := f.ReadAt(buf, 2); err != nil || string(buf[:n]) != "llo" {
		t.Errorf("ReadAt = %q, %v", buf[:n], err)
	}
	if fi, err := f.Stat(); err != nil || fi.Name() != "f" || fi.Size() != 5 {
		t.Errorf("Stat = %v, %v", fi, err)
	}
	if f.Name() != "/f" {
		t.Errorf("Name = %q", f.Name())
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("Write to a file opened for reading succeeded")
	} else {
		checkSafe(t, err, dir)
	}
	_ = f.Close()

	c, err := tr.Create("/new")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteString("created"); err != nil {
		t.Fatal(err)
	}
	if fi, err := c.Stat(); err != nil || fi.Name() != "new" {
		t.Errorf("Stat of an atomic upload = %v, %v", fi, err)
	}
	if got := readFile(t, filepath.Join(dir, "new")); got != "<missing>" {
		t.Errorf("target visible before Close: %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "new")); got != "created" {
		t.Errorf("after Close: %q", got)
	}
}

func TestComputeHash(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f": "hello world"})
	var transfers int
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermList | PermRead}}, Options{OnTransfer: func(Transfer) { transfers++ }})
	tests := []struct {
		algo       ftpserver.HASHAlgo
		start, end int64
		want       string
	}{
		{ftpserver.HASHAlgoSHA256, 0, 11, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"},
		{ftpserver.HASHAlgoMD5, 0, 11, "5eb63bbbe01eeed093cb22bb8f5acdc3"},
		{ftpserver.HASHAlgoCRC32, 0, 11, "0d4a1185"},
		{ftpserver.HASHAlgoSHA1, 0, 5, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"}, // "hello"
	}
	for _, tt := range tests {
		got, err := tr.ComputeHash("/f", tt.algo, tt.start, tt.end)
		if err != nil || got != tt.want {
			t.Errorf("ComputeHash(%v, %d, %d) = %q, %v; want %q", tt.algo, tt.start, tt.end, got, err, tt.want)
		}
	}
	if _, err := tr.ComputeHash("/", ftpserver.HASHAlgoMD5, 0, 1); err == nil {
		t.Error("hash of a directory succeeded")
	}
	if transfers != 0 {
		t.Errorf("hashing reported %d transfers", transfers)
	}
}
