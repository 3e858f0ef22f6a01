package server_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// permCase runs the commands one permission allows, on a fresh fixture.
type permCase struct {
	perm string
	op   func(c *ftp.ServerConn) error
}

var permCases = []permCase{
	{"list", func(c *ftp.ServerConn) error { _, err := c.List("/sub"); return err }},
	{"list", func(c *ftp.ServerConn) error { return c.ChangeDir("/sub") }},
	{"list", func(c *ftp.ServerConn) error { _, err := c.NameList("/sub"); return err }},
	{"read", func(c *ftp.ServerConn) error {
		r, err := c.Retr("/file.txt")
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		return err
	}},
	{"read", func(c *ftp.ServerConn) error { _, err := c.FileSize("/file.txt"); return err }},
	{"read", func(c *ftp.ServerConn) error { _, err := c.GetTime("/file.txt"); return err }},
	{"write", func(c *ftp.ServerConn) error { return c.Stor("/new.txt", strings.NewReader("n")) }},
	{"write", func(c *ftp.ServerConn) error { return c.Stor("/file.txt", strings.NewReader("over")) }},
	{"write", func(c *ftp.ServerConn) error { return c.SetTime("/file.txt", time.Unix(1e9, 0)) }},
	{"append", func(c *ftp.ServerConn) error { return c.Append("/file.txt", strings.NewReader("more")) }},
	{"append", func(c *ftp.ServerConn) error { return c.StorFrom("/file.txt", strings.NewReader("more"), 8) }},
	{"delete", func(c *ftp.ServerConn) error { return c.Delete("/file.txt") }},
	{"rename", func(c *ftp.ServerConn) error { return c.Rename("/file.txt", "/moved.txt") }},
	{"mkdir", func(c *ftp.ServerConn) error { return c.MakeDir("/newdir") }},
	{"rmdir", func(c *ftp.ServerConn) error { return c.RemoveDir("/empty") }},
}

var allPerms = []string{"list", "read", "write", "append", "delete", "rename", "mkdir", "rmdir"}

func permConfig(perms []string) string {
	q := make([]string, len(perms))
	for i, p := range perms {
		q[i] = fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[users.pat]
password = "{{hash}}"
[[users.pat.folders]]
mount = "/"
path = "{{dir}}/data"
permissions = [%s]
`, strings.Join(q, ", "))
}

func permFixture(t *testing.T, perms []string) (*servertest.Instance, *ftp.ServerConn) {
	in := servertest.Start(t, permConfig(perms), "data/sub", "data/empty")
	writeFile(t, filepath.Join(in.Dir, "data/file.txt"), "original")
	writeFile(t, filepath.Join(in.Dir, "data/sub/inner.txt"), "inner")
	return in, login(t, in.Addr, "pat", pass)
}

// TestEveryPermission checks each command with its permission granted (with
// "list" beside it, as clients need) and with every other permission but it.
func TestEveryPermission(t *testing.T) {
	for i, pc := range permCases {
		t.Run(fmt.Sprintf("%s-%d", pc.perm, i), func(t *testing.T) {
			granted := []string{pc.perm}
			if pc.perm != "list" {
				granted = append(granted, "list")
			}
			_, c := permFixture(t, granted)
			if err := pc.op(c); err != nil {
				t.Fatalf("with %v: refused: %v", granted, err)
			}
			var others []string
			for _, p := range allPerms {
				if p != pc.perm {
					others = append(others, p)
				}
			}
			in, c2 := permFixture(t, others)
			err := pc.op(c2)
			if err == nil {
				t.Fatalf("without %q: accepted", pc.perm)
			}
			if !strings.HasPrefix(err.Error(), "550") && !strings.HasPrefix(err.Error(), "450") && !strings.HasPrefix(err.Error(), "553") {
				t.Errorf("without %q: reply %q, want 550/450/553", pc.perm, err)
			}
			if strings.Contains(err.Error(), in.Dir) {
				t.Errorf("reply reveals the real path: %q", err)
			}
			if got := readFile(t, filepath.Join(in.Dir, "data/file.txt")); pc.perm != "read" && pc.perm != "list" && got != "original" {
				t.Errorf("refused command changed the file: %q", got)
			}
		})
	}
}

func TestPathEscapes(t *testing.T) {
	in := servertest.Start(t, `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[users.eve]
password = "{{hash}}"
[[users.eve.folders]]
mount = "/"
path = "{{dir}}/eve"
permissions = ["*"]
`, "eve/inside", "secret")
	writeFile(t, filepath.Join(in.Dir, "secret/key.txt"), "top secret")
	writeFile(t, filepath.Join(in.Dir, "eve/inside/ok.txt"), "fine")
	for name, target := range map[string]string{
		"etc":      "/etc",
		"sibling":  filepath.Join(in.Dir, "secret"),
		"relative": "../secret",
		"deep":     "inside/../../secret",
		"passwd":   "/etc/passwd",
	} {
		if err := os.Symlink(target, filepath.Join(in.Dir, "eve", name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("inside", filepath.Join(in.Dir, "eve/good")); err != nil {
		t.Fatal(err)
	}
	c := login(t, in.Addr, "eve", pass)
	retr := func(p string) error {
		r, err := c.Retr(p)
		if err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			return fmt.Errorf("read %q", b)
		}
		return nil
	}
	for _, p := range []string{
		"/etc/passwd", "../../../../etc/passwd", "/../secret/key.txt", "etc/passwd", "passwd",
		"sibling/key.txt", "relative/key.txt", "deep/key.txt", `..\..\secret\key.txt`,
	} {
		if err := retr(p); err != nil {
			t.Errorf("RETR %s escaped: %v", p, err)
		}
	}
	for _, p := range []string{"etc", "sibling", "relative", "deep"} {
		if err := c.ChangeDir(p); err == nil {
			t.Errorf("CWD %s accepted", p)
		}
		if _, err := c.List(p); err == nil {
			if ents, _ := c.List(p); len(ents) > 1 {
				t.Errorf("LIST %s listed %d entries outside the folder", p, len(ents))
			}
		}
		if err := c.Stor(p+"/planted.txt", strings.NewReader("x")); err == nil {
			t.Errorf("STOR through %s accepted", p)
		}
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "secret/planted.txt")); err == nil {
		t.Fatal("a file was planted outside the folder")
	}
	// CWD .. at the top stays at the top.
	if err := c.ChangeDir("/.."); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.CurrentDir(); d != "/" {
		t.Fatalf("PWD after CWD /.. = %q", d)
	}
	// A symbolic link that stays inside the folder works.
	r, err := c.Retr("good/ok.txt")
	if err != nil {
		t.Fatalf("RETR through an inside link: %v", err)
	}
	r.Close()

	// A NUL byte in a path is refused.
	raw := dialRaw(t, in.Addr)
	raw.read()
	raw.login("eve", pass)
	if code, msg := raw.cmd("SIZE inside/ok.txt\x00/../../secret/key.txt"); code < 400 {
		t.Fatalf("SIZE with NUL: %q", msg)
	}
}
