//go:build linux

package fs

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFastOpen: the one-openat2 path opens plain files in a folder and its subdirectories,
// refuses directories and special files without waiting on a FIFO, leaves symbolic links
// (inside or leading out) to os.Root, and an atomic upload through it replaces the file.
func TestFastOpen(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "folder")
	writeFiles(t, dir, map[string]string{"a.txt": "top", "sub/b.txt": "below", "sub/deep/c.txt": "deep"})
	writeFiles(t, filepath.Join(base, "outside"), map[string]string{"secret.txt": "secret"})
	if err := syscall.Mkfifo(filepath.Join(dir, "sub", "fifo"), 0o666); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for name, target := range map[string]string{"sub/link.txt": "b.txt", "sub/out.txt": "../../outside/secret.txt", "outdir": "../outside"} {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Fatal(err)
		}
	}
	l, err := openLocal(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.fast == nil {
		t.Skip("no openat2 here")
	}

	for name, want := range map[string]string{"a.txt": "top", "sub/b.txt": "below", "sub/deep/c.txt": "deep"} {
		f, handled, err := l.fast.openRead(name)
		if !handled || err != nil {
			t.Fatalf("openRead(%s): handled=%v err=%v", name, handled, err)
		}
		b, _ := io.ReadAll(f)
		_ = f.Close()
		if string(b) != want {
			t.Errorf("%s = %q, want %q", name, b, want)
		}
	}
	start := time.Now()
	if _, handled, err := l.fast.openRead("sub/fifo"); !handled || !errors.Is(err, errNotRegular) {
		t.Errorf("openRead(fifo): handled=%v err=%v, want errNotRegular", handled, err)
	}
	if _, handled, err := l.fast.createTemp("sub/fifo", os.O_WRONLY); !handled || !errors.Is(err, errNotRegular) {
		t.Errorf("createTemp(fifo): handled=%v err=%v, want errNotRegular", handled, err)
	}
	if _, handled, err := l.fast.openRead("sub"); !handled || !errors.Is(err, syscall.EISDIR) {
		t.Errorf("openRead(dir): handled=%v err=%v, want EISDIR", handled, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("special files took seconds")
	}
	// Symbolic links are os.Root's: the fast path declines them, and os.Root follows the one
	// inside and refuses the ones out.
	for _, name := range []string{"sub/link.txt", "sub/out.txt", "outdir/secret.txt"} {
		if _, handled, _ := l.fast.openRead(name); handled {
			t.Errorf("openRead(%s) handled by the fast path", name)
		}
	}
	if src, err := l.Open("sub/link.txt", 0); err != nil {
		t.Errorf("Open(link inside): %v", err)
	} else {
		_ = src.Close()
	}
	for _, name := range []string{"sub/out.txt", "outdir/secret.txt"} {
		if _, err := l.Open(name, 0); err == nil {
			t.Errorf("Open(%s) succeeded", name)
		}
		if _, err := l.Create(name, Write{Flags: os.O_WRONLY | os.O_CREATE | os.O_TRUNC, Atomic: true}); err == nil {
			t.Errorf("Create(%s) succeeded", name)
		}
	}

	// Atomic upload: the temporary file is beside the target until Finish renames it.
	u, handled, err := l.fast.createTemp("sub/deep/c.txt", os.O_WRONLY)
	if !handled || err != nil {
		t.Fatalf("createTemp: handled=%v err=%v", handled, err)
	}
	if _, err := u.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	if got := tempFiles(t, filepath.Join(dir, "sub", "deep")); len(got) != 1 {
		t.Errorf("temporary files during the upload: %v", got)
	}
	if got := readFile(t, filepath.Join(dir, "sub", "deep", "c.txt")); got != "deep" {
		t.Errorf("during the upload c.txt = %q", got)
	}
	if err := u.Finish(true); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "sub", "deep", "c.txt")); got != "new" {
		t.Errorf("after the upload c.txt = %q", got)
	}
	// An interrupted one leaves the old file and no temporary file.
	u, _, err = l.fast.createTemp("a.txt", os.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = u.Write([]byte("partial"))
	if err := u.Finish(false); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "a.txt")); got != "top" {
		t.Errorf("after an interrupted upload a.txt = %q", got)
	}
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files left: %v", got)
	}
}
