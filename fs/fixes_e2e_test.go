package fs

import (
	"crypto/md5" //nolint:gosec // the digest XMD5 answers
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAppendOnlyAtTheEnd: with "append" and no "write", a REST+STOR below (or past) the end of
// the file is refused and changes nothing; at exactly the end it appends; APPE appends.
func TestAppendOnlyAtTheEnd(t *testing.T) {
	home := t.TempDir()
	writeFiles(t, home, map[string]string{"log.txt": "hello"})
	addr := startServer(t, []Mount{{Path: "/", Dir: home, Perm: PermList | PermRead | PermAppend}}, Options{AtomicUploads: true})
	c := dialRaw(t, addr)

	for _, off := range []string{"1", "9"} {
		c.cmd("REST "+off, "350")
		if r := c.cmd("STOR log.txt", "550"); !strings.Contains(r, `"write" permission`) {
			t.Errorf("REST %s + STOR: %q", off, r)
		}
	}
	if got := readFile(t, filepath.Join(home, "log.txt")); got != "hello" {
		t.Fatalf("log.txt = %q after refused writes", got)
	}

	c.cmd("REST 5", "350")
	data := c.pasv()
	c.cmd("STOR log.txt", "150")
	_, _ = data.Write([]byte(" world"))
	_ = data.Close()
	c.expect("226")

	c.cmd("REST 2", "350") // ignored by APPE: always at the end
	data = c.pasv()
	c.cmd("APPE log.txt", "150")
	_, _ = data.Write([]byte("!"))
	_ = data.Close()
	c.expect("226")

	if got := readFile(t, filepath.Join(home, "log.txt")); got != "hello world!" {
		t.Errorf("log.txt = %q, want %q", got, "hello world!")
	}
}

// TestSpecialFiles: a FIFO or a socket in a folder is listed, but every command that would
// open it (or tell its size) answers 5xx at once; nothing waits on the FIFO.
func TestSpecialFiles(t *testing.T) {
	home := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(home, "fifo"), 0o666); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	sock := filepath.Join(home, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	for _, atomic := range []bool{false, true} {
		t.Run(fmt.Sprintf("atomic=%v", atomic), func(t *testing.T) {
			addr := startServer(t, []Mount{{Path: "/", Dir: home, Perm: PermAll}}, Options{AtomicUploads: atomic})
			c := dialRaw(t, addr)
			start := time.Now()
			for _, name := range []string{"fifo", "sock"} {
				for _, cmd := range []string{"RETR", "STOR", "APPE", "SIZE", "MDTM", "HASH", "XMD5"} {
					line := cmd + " " + name
					if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
						t.Fatal(err)
					}
					if r := c.reply(); r[0] != '5' {
						t.Errorf("%s: %q, want 5xx", line, r)
					}
				}
				c.cmd("REST 0", "350")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("refusals took %v", d)
			}
			data := c.pasv()
			c.cmd("NLST", "150")
			buf := make([]byte, 4096)
			var listed strings.Builder
			_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
			for range 100 {
				n, err := data.Read(buf)
				listed.Write(buf[:n])
				if err != nil {
					break
				}
			}
			_ = data.Close()
			c.expect("226")
			if !strings.Contains(listed.String(), "fifo") || !strings.Contains(listed.String(), "sock") {
				t.Errorf("NLST = %q, want the FIFO and the socket listed", listed.String())
			}
			if fi, err := os.Lstat(filepath.Join(home, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO changed: %v, %v", fi, err)
			}
		})
	}
}

// TestTemporaryFilesRemoved: an atomic upload's temporary file never stays behind, even when
// its directory is renamed meanwhile; stale ones (nobody's upload) are removed when the folder
// is opened, and do not keep RMD from removing a directory that looks empty.
func TestTemporaryFilesRemoved(t *testing.T) {
	home := t.TempDir()
	writeFiles(t, home, map[string]string{"mvdir/": "", "other/": "", "stale/" + tempPrefix + "0123": "left by a crash"})
	addr := startServer(t, []Mount{{Path: "/", Dir: home, Perm: PermAll}}, Options{AtomicUploads: true})
	a, b := dialRaw(t, addr), dialRaw(t, addr)

	waitGone(t, filepath.Join(home, "stale", tempPrefix+"0123"))

	// the directory is renamed during an upload that then completes: the file lands in it
	data := a.pasv()
	a.cmd("STOR /mvdir/f.bin", "150")
	if _, err := data.Write([]byte("first part ")); err != nil {
		t.Fatal(err)
	}
	b.cmd("RNFR /mvdir", "350")
	b.cmd("RNTO /mvdir2", "250")
	_, _ = data.Write([]byte("second part"))
	_ = data.Close()
	a.expect("226")
	if got := readFile(t, filepath.Join(home, "mvdir2", "f.bin")); got != "first part second part" {
		t.Errorf("mvdir2/f.bin = %q", got)
	}

	// ... or is interrupted: no temporary file stays in the renamed directory
	data = a.pasv()
	a.cmd("STOR /mvdir2/g.bin", "150")
	if _, err := data.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	b.cmd("RNFR /mvdir2", "350")
	b.cmd("RNTO /mvdir3", "250")
	_ = data.SetLinger(0)
	_ = data.Close()
	if r := a.reply(); strings.HasPrefix(r, "226") {
		t.Errorf("a reset upload was acknowledged: %q", r)
	}
	waitNoTemps(t, home)
	if _, err := os.Stat(filepath.Join(home, "mvdir3", "g.bin")); !os.IsNotExist(err) {
		t.Errorf("an interrupted upload left g.bin: %v", err)
	}

	// RMD: stale temporary files do not count, an upload in progress does
	writeFiles(t, home, map[string]string{"empty/" + tempPrefix + "4567": "stale", "busy/" + tempPrefix + "89ab": "in use"})
	holdTemp(t, filepath.Join(home, "busy", tempPrefix+"89ab"))
	a.cmd("RMD /empty", "250")
	if r := a.cmd("RMD /busy", "550"); !strings.Contains(r, "not empty") {
		t.Errorf("RMD of a directory with an upload in progress: %q", r)
	}
	if _, err := os.Stat(filepath.Join(home, "busy", tempPrefix+"89ab")); err != nil {
		t.Errorf("an upload's temporary file was removed: %v", err)
	}
}

func waitGone(t *testing.T, p string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitNoTemps(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := tempFiles(t, dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("temporary files left: %q", left)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHashRelativeName: HASH and XMD5 of a relative name hash the file of the current
// directory, over its own length, not a same-named file at the top.
func TestHashRelativeName(t *testing.T) {
	home := t.TempDir()
	right := "the file in the subdirectory, longer than the other"
	writeFiles(t, home, map[string]string{"a.txt": "top", "sub/a.txt": right})
	addr := startServer(t, []Mount{{Path: "/", Dir: home, Perm: PermAll}}, Options{})
	c := dialRaw(t, addr)
	c.cmd("CWD sub", "250")
	sum := sha256.Sum256([]byte(right))
	want := fmt.Sprintf("SHA-256 0-%d %s a.txt", len(right), hex.EncodeToString(sum[:]))
	if r := c.cmd("HASH a.txt", "213"); !strings.Contains(r, want) {
		t.Errorf("HASH a.txt = %q, want %q", r, want)
	}
	md := md5.Sum([]byte(right)) //nolint:gosec
	if r := c.cmd("XMD5 a.txt", "25"); !strings.Contains(r, hex.EncodeToString(md[:])) {
		t.Errorf("XMD5 a.txt = %q, want %x", r, md)
	}
	c.cmd("CWD /", "250")
	top := sha256.Sum256([]byte("top"))
	if r := c.cmd("HASH a.txt", "213"); !strings.Contains(r, "0-3 "+hex.EncodeToString(top[:])) {
		t.Errorf("HASH /a.txt = %q", r)
	}
}
