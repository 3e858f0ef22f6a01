package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"wharf/auth"
	"wharf/server/servertest"
)

// The test binary doubles as wharf: with WHARF_RUN_MAIN=1 it runs the command
// line, so the real program runs under the race detector.
func TestMain(m *testing.M) {
	if os.Getenv("WHARF_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func wharfCmd(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WHARF_RUN_MAIN=1")
	cmd.Dir = dir
	return cmd
}

// runWharf runs a command to completion and returns stdout, stderr and the exit code.
func runWharf(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := wharfCmd(ctx, t.TempDir(), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestVersionAndUsage(t *testing.T) {
	out, _, code := runWharf(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "wharf ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if _, _, code := runWharf(t, "", "frobnicate"); code != 2 {
		t.Fatalf("unknown command exit %d, want 2", code)
	}
	if _, _, code := runWharf(t, "", "check"); code != 2 {
		t.Fatalf("check without --config exit %d, want 2", code)
	}
}

func TestHashCommand(t *testing.T) {
	out, _, code := runWharf(t, "correct horse\n", "hash")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	h := strings.TrimSpace(out)
	if !strings.HasPrefix(h, "$argon2id$") || !auth.VerifyPassword(h, "correct horse") {
		t.Fatalf("hash %q does not verify", h)
	}
	if auth.VerifyPassword(h, "correct horse\n") {
		t.Fatal("the line end became part of the password")
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(servertest.Expand(t, `
[server]
listen = ["127.0.0.1:2121"]
[passive]
external_address = "203.0.113.7"
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/data"
`, dir)), 0o600)
	out, errOut, code := runWharf(t, "", "check", "--config", good, "--client", "198.51.100.20")
	if code != 0 {
		t.Fatalf("check good: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "203.0.113.7") {
		t.Fatalf("--client of a remote client should announce the external address:\n%s", out)
	}
	out, _, _ = runWharf(t, "", "check", "--config", good, "--client", "127.0.0.1")
	if !regexp.MustCompile(`127\.0\.0\.1\D*$`).MatchString(strings.TrimSpace(out)) {
		t.Fatalf("--client of a local client should announce the listener address:\n%s", out)
	}

	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`[server]
idle_timeout = "soon"
max_conections = 3

[users.bob]
password = "plaintext"
groups = ["nope"]
`), 0o600)
	out, errOut, code = runWharf(t, "", "check", "--config", bad)
	if code != 1 {
		t.Fatalf("check bad: exit %d", code)
	}
	all := out + errOut
	for _, want := range []string{bad + ":2:", bad + ":3:", bad + ":6:", bad + ":7:"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "plaintext") {
		t.Error("check echoed a plain-text password")
	}
	// serve rejects the same file the same way.
	_, errOut, code = runWharf(t, "", "serve", "--config", bad)
	if code != 1 || !strings.Contains(errOut, bad+":2:") {
		t.Fatalf("serve bad config: exit %d\n%s", code, errOut)
	}
}

// TestEmbeddedDefault runs `wharf` with no configuration, as the README's first
// command does, and logs in with the printed password.
func TestEmbeddedDefault(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:2121"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("%s is busy here: %v", addr, err)
		}
		l.Close()
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := wharfCmd(ctx, dir)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	}()
	password := ""
	sc := bufio.NewScanner(stdout)
	re := regexp.MustCompile(`user=wharf password=(\S+)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			password = m[1]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if password == "" {
		t.Fatal("no password line printed")
	}
	c, err := ftp.Dial("127.0.0.1:2121", ftp.DialWithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("wharf", password); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("hello.txt", strings.NewReader("hi")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "wharf-data", "hello.txt")); err != nil || string(b) != "hi" {
		t.Fatalf("wharf-data/hello.txt: %q %v", b, err)
	}
	if strings.Contains(stderr.String(), password) {
		t.Fatal("the password reached the log")
	}
}
