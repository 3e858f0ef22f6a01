package server_test

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// runTool runs a client program with a deadline and returns its combined output.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func randomFile(t *testing.T, path string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCurl(t *testing.T) {
	needTool(t, "curl", "curl")
	in := servertest.Start(t, aliceConfig, "alice")
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 3<<20)
	url := "ftp://" + in.Addr + "/"
	user := "alice:" + pass

	if out, err := runTool(t, "curl", "-sS", "--max-time", "30", "-u", user, "--ftp-create-dirs",
		"-T", filepath.Join(local, "up.bin"), url+"dir/up.bin"); err != nil {
		t.Fatalf("curl upload: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(in.Dir, "alice/dir/up.bin")); !bytes.Equal(got, data) {
		t.Fatal("uploaded file differs")
	}
	if out, err := runTool(t, "curl", "-sS", "--max-time", "30", "-u", user, "-o", filepath.Join(local, "down.bin"), url+"dir/up.bin"); err != nil {
		t.Fatalf("curl download: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "down.bin")); !bytes.Equal(got, data) {
		t.Fatal("downloaded file differs")
	}
	out, err := runTool(t, "curl", "-sS", "--max-time", "30", "-u", user, "--list-only", url+"dir/")
	if err != nil || strings.TrimSpace(out) != "up.bin" {
		t.Fatalf("curl list: %v %q", err, out)
	}
	// A resumed download (-C -) fetches only the missing tail.
	half := filepath.Join(local, "half.bin")
	if err := os.WriteFile(half, data[:1<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runTool(t, "curl", "-sS", "--max-time", "30", "-u", user, "-C", "-", "-o", half, url+"dir/up.bin"); err != nil {
		t.Fatalf("curl resume: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(half); !bytes.Equal(got, data) {
		t.Fatal("resumed download differs")
	}
	// Wrong password: curl reports the 530.
	out, err = runTool(t, "curl", "-sS", "--max-time", "30", "-u", "alice:nope", url)
	if err == nil || !strings.Contains(out, "530") {
		t.Fatalf("bad password: %v %q", err, out)
	}
}

func lftpScript(in *servertest.Instance, user, password, script string) []string {
	host, port, _ := strings.Cut(in.Addr, ":")
	return []string{"-c", fmt.Sprintf(
		"set net:max-retries 1; set net:timeout 15; set net:reconnect-interval-base 1; set ftp:ssl-allow false; set cmd:fail-exit true; "+
			"open -u %s,%s -p %s %s; %s", user, password, port, host, script)}
}

func TestLftp(t *testing.T) {
	needTool(t, "lftp", "lftp")
	in := servertest.Start(t, aliceConfig, "alice")
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 2<<20)
	script := fmt.Sprintf("mkdir -p a/b; cd a/b; put %s -o up.bin; get up.bin -o %s; mv up.bin moved.bin; ls; rm moved.bin; cd /; rmdir a/b",
		filepath.Join(local, "up.bin"), filepath.Join(local, "down.bin"))
	out, err := runTool(t, "lftp", lftpScript(in, "alice", pass, script)...)
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(local, "down.bin")); !bytes.Equal(got, data) {
		t.Fatal("lftp round trip differs")
	}
	if !strings.Contains(out, "moved.bin") {
		t.Fatalf("ls output lacks the renamed file:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "alice/a/b")); err == nil {
		t.Fatal("rmdir did not remove a/b")
	}
}

// TestModeZ checks MODE Z both ways, with a transcript. ftpserverlib speaks it
// as raw deflate (RFC 1951) streams, which is what this client sends and
// expects; clients that wrap deflate in zlib framing (RFC 1950: lftp,
// FileZilla) cannot use it: see README.md.
func TestModeZ(t *testing.T) {
	in := servertest.Start(t, strings.Replace(aliceConfig, `listen = ["127.0.0.1:0"]`, "listen = [\"127.0.0.1:0\"]\ncompression_level = 6", 1), "alice")
	text := bytes.Repeat([]byte("compressible line of text\n"), 40000)
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("alice", pass)
	if _, feat := c.cmd("FEAT"); !strings.Contains(feat, "MODE Z") {
		t.Fatalf("FEAT lacks MODE Z:\n%s", feat)
	}
	c.expect("TYPE I", 200)
	if msg := c.expect("MODE Z", 200); !strings.Contains(msg, "deflate") {
		t.Fatalf("MODE Z reply %q", msg)
	}

	data := c.epsv()
	c.send("STOR text.txt")
	c.read()
	zw, _ := flate.NewWriter(data, 6)
	zw.Write(text)
	zw.Close()
	data.Close()
	if code, msg := c.read(); code != 226 {
		t.Fatalf("STOR in MODE Z: %q", msg)
	}
	if got, _ := os.ReadFile(filepath.Join(in.Dir, "alice/text.txt")); !bytes.Equal(got, text) {
		t.Fatalf("MODE Z upload differs: %d bytes", len(got))
	}

	data = c.epsv()
	c.send("RETR text.txt")
	c.read()
	var compressed bytes.Buffer
	if _, err := io.Copy(&compressed, data); err != nil {
		t.Fatal(err)
	}
	if code, msg := c.read(); code != 226 {
		t.Fatalf("RETR in MODE Z: %q", msg)
	}
	if compressed.Len() >= len(text)/10 {
		t.Fatalf("MODE Z download not compressed: %d bytes for %d", compressed.Len(), len(text))
	}
	back, err := io.ReadAll(flate.NewReader(&compressed))
	if err != nil || !bytes.Equal(back, text) {
		t.Fatalf("MODE Z download differs: %v", err)
	}
	c.expect("MODE S", 200)

	// Off by default: not offered, and refused.
	plain := servertest.Start(t, aliceConfig, "alice")
	p := dialRaw(t, plain.Addr)
	p.read()
	p.login("alice", pass)
	if _, feat := p.cmd("FEAT"); strings.Contains(feat, "MODE Z") {
		t.Fatal("MODE Z offered with compression_level = 0")
	}
	if code, _ := p.cmd("MODE Z"); code < 500 {
		t.Fatalf("MODE Z accepted with compression_level = 0: %d", code)
	}
}
