package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"wharf/server/servertest"
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

// TestModeZ checks MODE Z (deflate) both ways with lftp, and that it was really
// in effect, from lftp's own transcript.
func TestModeZ(t *testing.T) {
	needTool(t, "lftp", "lftp")
	in := servertest.Start(t, strings.Replace(aliceConfig, `listen = ["127.0.0.1:0"]`, "listen = [\"127.0.0.1:0\"]\ncompression_level = 6", 1), "alice")
	local := t.TempDir()
	text := bytes.Repeat([]byte("compressible line of text\n"), 40000)
	if err := os.WriteFile(filepath.Join(local, "text.txt"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("set ftp:use-mode-z true; debug -o %s 5; put %s -o text.txt; get text.txt -o %s",
		filepath.Join(local, "debug.log"), filepath.Join(local, "text.txt"), filepath.Join(local, "back.txt"))
	out, err := runTool(t, "lftp", lftpScript(in, "alice", pass, script)...)
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(in.Dir, "alice/text.txt")); !bytes.Equal(got, text) {
		t.Fatal("MODE Z upload differs")
	}
	if got, _ := os.ReadFile(filepath.Join(local, "back.txt")); !bytes.Equal(got, text) {
		t.Fatal("MODE Z download differs")
	}
	transcript, _ := os.ReadFile(filepath.Join(local, "debug.log"))
	if !bytes.Contains(transcript, []byte("MODE Z")) || !bytes.Contains(transcript, []byte("200 Using deflate mode")) {
		t.Fatalf("MODE Z was not in effect; transcript:\n%s", transcript)
	}
}
