package server_test

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/server/servertest"
)

func TestGoClientRoundTrip(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	c := login(t, in.Addr, "alice", pass)

	if err := c.MakeDir("docs"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("docs/hello.txt", strings.NewReader("hello wharf\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(in.Dir, "alice/docs/hello.txt")); got != "hello wharf\n" {
		t.Fatalf("file on disk = %q", got)
	}
	entries, err := c.List("docs")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name != "hello.txt" || entries[0].Size != 12 {
		t.Fatalf("LIST docs = %+v", entries)
	}
	names, err := c.NameList("docs")
	if err != nil || len(names) != 1 || !strings.HasSuffix(names[0], "hello.txt") {
		t.Fatalf("NLST = %v, %v", names, err)
	}
	size, err := c.FileSize("docs/hello.txt")
	if err != nil || size != 12 {
		t.Fatalf("SIZE = %d, %v", size, err)
	}
	r, err := c.Retr("docs/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "hello wharf\n" {
		t.Fatalf("RETR = %q", b)
	}
	if err := c.ChangeDir("docs"); err != nil {
		t.Fatal(err)
	}
	if dir, _ := c.CurrentDir(); dir != "/docs" {
		t.Fatalf("PWD = %q", dir)
	}
	if err := c.Rename("hello.txt", "/renamed.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/renamed.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeDir("/"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDir("docs"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "alice/docs")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("docs still there: %v", err)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	var replies []string
	for _, user := range []string{"alice", "nobody"} {
		c := dialRaw(t, in.Addr)
		c.read()
		c.expect("USER "+user, 331)
		code, msg := c.cmd("PASS wrong-password")
		if code != 530 {
			t.Fatalf("%s: %q", user, msg)
		}
		replies = append(replies, msg)
	}
	if replies[0] != replies[1] {
		t.Fatalf("a bad password and an unknown user answer differently: %q vs %q", replies[0], replies[1])
	}
	if strings.Contains(in.Logs.String(), "wrong-password") {
		t.Fatal("a password reached the log")
	}
}

func TestGreetingRevealsNothing(t *testing.T) {
	in := servertest.Start(t, aliceConfig+"\n", "alice")
	c := dialRaw(t, in.Addr)
	code, msg := c.read()
	if code != 220 || msg != "220 wharf ready" {
		t.Fatalf("greeting %q", msg)
	}
	_, feat := c.cmd("FEAT")
	_, syst := c.cmd("SYST")
	for _, s := range []string{feat, syst} {
		low := strings.ToLower(s)
		for _, leak := range []string{"ftpserverlib", "golang", "go1", "version", "github.com/wharf-ftp/wharf/"} {
			if strings.Contains(low, leak) {
				t.Errorf("reply %q reveals %q", s, leak)
			}
		}
	}
}

func TestLargeFileRoundTrip(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	c := login(t, in.Addr, "alice", pass)
	data := make([]byte, 64<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if err := c.Stor("big.bin", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	r.Close()
	if err != nil || n != int64(len(data)) {
		t.Fatalf("RETR %d bytes, %v", n, err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("SHA-256 differs after a round trip")
	}
}

func TestResume(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	c := login(t, in.Addr, "alice", pass)
	writeFile(t, filepath.Join(in.Dir, "alice/part.bin"), "0123456789")

	// REST + RETR: the tail from offset 4.
	r, err := c.RetrFrom("part.bin", 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "456789" {
		t.Fatalf("REST 4 + RETR = %q", b)
	}
	// REST + STOR: resume an upload at 10.
	if err := c.StorFrom("part.bin", strings.NewReader("abc"), 10); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(in.Dir, "alice/part.bin")); got != "0123456789abc" {
		t.Fatalf("after REST+STOR: %q", got)
	}
	// APPE.
	if err := c.Append("part.bin", strings.NewReader("XYZ")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(in.Dir, "alice/part.bin")); got != "0123456789abcXYZ" {
		t.Fatalf("after APPE: %q", got)
	}
}

// TestAtomicUploadInterrupted cuts an upload that replaces a file: the old file
// stays as it was and no temporary file is left behind.
func TestAtomicUploadInterrupted(t *testing.T) {
	for _, how := range []string{"abor", "reset"} {
		t.Run(how, func(t *testing.T) {
			in := servertest.Start(t, aliceConfig, "alice")
			target := filepath.Join(in.Dir, "alice/report.txt")
			writeFile(t, target, "the original\n")

			c := dialRaw(t, in.Addr)
			c.read()
			c.login("alice", pass)
			c.expect("TYPE I", 200)
			data := c.epsv()
			c.send("STOR report.txt")
			if code, msg := c.read(); code != 150 {
				t.Fatalf("STOR: %q", msg)
			}
			if _, err := data.Write(bytes.Repeat([]byte("new"), 100000)); err != nil {
				t.Fatal(err)
			}
			// Wait until the server has the partial upload on disk in a temporary file.
			servertest.WaitFor(t, 5*time.Second, "partial upload", func() bool {
				ents, _ := os.ReadDir(filepath.Join(in.Dir, "alice"))
				return len(ents) == 2
			})
			if how == "abor" {
				// ABOR first; the server closes the data connection.
				c.send("ABOR")
				defer data.Close()
				for {
					code, msg := c.read()
					if code == 226 || code == 225 {
						break
					}
					if code != 426 && code != 451 {
						t.Fatalf("after ABOR: %q", msg)
					}
				}
			} else {
				data.(interface{ SetLinger(int) error }).SetLinger(0)
				data.Close()
				code, msg := c.read()
				if code < 400 {
					t.Logf("reply after a reset: %q", msg)
				}
			}
			servertest.WaitFor(t, 5*time.Second, "temporary file removed", func() bool {
				ents, _ := os.ReadDir(filepath.Join(in.Dir, "alice"))
				return len(ents) == 1
			})
			if got := readFile(t, target); got != "the original\n" {
				t.Fatalf("the original file changed: %q", got[:min(40, len(got))])
			}
			// A listing never shows temporary files.
			c2 := login(t, in.Addr, "alice", pass)
			names, err := c2.NameList("/")
			if err != nil || !slices.Equal(names, []string{"report.txt"}) {
				t.Fatalf("NLST / = %v, %v", names, err)
			}
		})
	}
}

func TestAtomicUploadComplete(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	target := filepath.Join(in.Dir, "alice/report.txt")
	writeFile(t, target, "the original\n")
	c := login(t, in.Addr, "alice", pass)
	if err := c.Stor("report.txt", strings.NewReader("replaced\n")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, target); got != "replaced\n" {
		t.Fatalf("after STOR: %q", got)
	}
	ents, _ := os.ReadDir(filepath.Join(in.Dir, "alice"))
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
}

func TestAnonymous(t *testing.T) {
	in := servertest.Start(t, `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[users.anonymous]
anonymous = true
[[users.anonymous.folders]]
mount = "/"
path = "{{dir}}/pub"
permissions = ["list", "read"]
`, "pub")
	writeFile(t, filepath.Join(in.Dir, "pub/readme.txt"), "public\n")
	for _, name := range []string{"anonymous", "ftp", "FTP"} {
		c := login(t, in.Addr, name, "someone@example.org")
		r, err := c.Retr("readme.txt")
		if err != nil {
			t.Fatalf("%s: RETR: %v", name, err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "public\n" {
			t.Fatalf("%s: %q", name, b)
		}
		if err := c.Stor("upload.txt", strings.NewReader("x")); err == nil {
			t.Fatalf("%s: anonymous upload accepted", name)
		}
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "pub/upload.txt")); err == nil {
		t.Fatal("anonymous upload reached the disk")
	}
}

func TestVirtualRoot(t *testing.T) {
	in := servertest.Start(t, `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[groups.staff]
permissions = ["list", "read"]
[[groups.staff.folders]]
mount = "/shared"
path = "{{dir}}/shared"
[users.bob]
password = "{{hash}}"
groups = ["staff"]
[[users.bob.folders]]
mount = "/home"
path = "{{dir}}/bob"
permissions = ["*"]
`, "shared", "bob")
	writeFile(t, filepath.Join(in.Dir, "shared/team.txt"), "team\n")
	c := login(t, in.Addr, "bob", pass)
	names, err := c.NameList("/")
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"home", "shared"}) {
		t.Fatalf("NLST / = %v, %v", names, err)
	}
	if err := c.Stor("/root.txt", strings.NewReader("x")); err == nil {
		t.Fatal("STOR into the virtual root accepted")
	}
	if err := c.Stor("/shared/x.txt", strings.NewReader("x")); err == nil {
		t.Fatal("STOR into a read-only group folder accepted")
	}
	if err := c.Stor("/home/x.txt", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("/shared/team.txt")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := c.Rename("/home/x.txt", "/shared/x.txt"); err == nil {
		t.Fatal("rename into a read-only folder accepted")
	}
}

func TestEntryListing(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice/a.txt"), "aaa")
	c := login(t, in.Addr, "alice", pass)
	e, err := c.GetEntry("a.txt")
	if err != nil || e.Type != ftp.EntryTypeFile || e.Size != 3 {
		t.Fatalf("MLST a.txt = %+v, %v", e, err)
	}
	if _, err := c.GetTime("a.txt"); err != nil {
		t.Fatalf("MDTM: %v", err)
	}
}

func TestHashAvblAndUTF8(t *testing.T) {
	in := servertest.Start(t, aliceConfig, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice/data.txt"), "hash me")
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("alice", pass)
	sum := sha256.Sum256([]byte("hash me"))
	if msg := c.expect("HASH data.txt", 213); !strings.Contains(strings.ToLower(msg), fmt.Sprintf("%x", sum)) {
		t.Fatalf("HASH reply %q", msg)
	}
	c.expect("OPTS HASH MD5", 200)
	if msg := c.expect("HASH data.txt", 213); !strings.Contains(msg, fmt.Sprintf("%x", md5.Sum([]byte("hash me")))) {
		t.Fatalf("HASH MD5 reply %q", msg)
	}
	c.expect("AVBL", 213)

	g := login(t, in.Addr, "alice", pass)
	name := "héllo wörld – 日本.txt"
	if err := g.Stor(name, strings.NewReader("utf8")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(in.Dir, "alice", name)); got != "utf8" {
		t.Fatalf("UTF-8 name: %q", got)
	}
	ents, err := g.List("/")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		found = found || e.Name == name
	}
	if !found {
		t.Fatalf("listing lacks %q: %+v", name, ents)
	}
}

// TestIdleTimeoutSparesTransfers: a control connection idle during a transfer
// longer than idle_timeout stays open; an idle one is closed with 421.
func TestIdleTimeoutSparesTransfers(t *testing.T) {
	in := servertest.Start(t, `
[server]
listen = ["127.0.0.1:0"]
idle_timeout = "1s"
[passive]
ports = "{{ports}}"
[users.alice]
password = "{{hash}}"
limits = { download = "400KB/s" }
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice/slow.bin"), strings.Repeat("z", 1_000_000))
	c := login(t, in.Addr, "alice", pass)
	start := time.Now()
	r, err := c.Retr("slow.bin")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || len(b) != 1_000_000 {
		t.Fatalf("download: %d bytes, %v", len(b), err)
	}
	if time.Since(start) < 1500*time.Millisecond {
		t.Fatalf("the transfer took %s, not longer than the idle timeout", time.Since(start))
	}
	if _, err := c.CurrentDir(); err != nil {
		t.Fatalf("control connection after a long transfer: %v", err)
	}
	idle := dialRaw(t, in.Addr)
	idle.read()
	code, msg, err := idle.tryRead()
	if err == nil && code != 421 {
		t.Fatalf("idle connection got %q", msg)
	}
}
