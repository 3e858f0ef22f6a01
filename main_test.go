package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/internal/engine"
	"github.com/wharf-ftp/wharf/internal/tlsfiles"
	"github.com/wharf-ftp/wharf/server/servertest"
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

func TestVersionCommand(t *testing.T) {
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
// command does, logs in with the printed password, checks that the printed
// fingerprint is the served certificate's, and runs the README's lftp and curl
// commands against it.
func TestEmbeddedDefault(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:2121"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("%s is busy here: %v", addr, err)
		}
		l.Close()
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := wharfCmd(ctx, dir)
	stdout, _ := cmd.StdoutPipe()
	stderr := &servertest.Buffer{}
	cmd.Stderr = stderr
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
	var password, certFile, fingerprint, adminPass string
	sc := bufio.NewScanner(stdout)
	rePass := regexp.MustCompile(`user=wharf password=(\S+)`)
	reAdmin := regexp.MustCompile(`http://127\.0\.0\.1:2122/ admin=admin password=(\S+)`)
	reCert := regexp.MustCompile(`self-signed certificate (\S+), SHA-256 fingerprint ([0-9A-F:]{95})$`)
	for sc.Scan() {
		if m := reCert.FindStringSubmatch(sc.Text()); m != nil {
			certFile, fingerprint = m[1], m[2]
		}
		if m := rePass.FindStringSubmatch(sc.Text()); m != nil {
			password = m[1]
		}
		if m := reAdmin.FindStringSubmatch(sc.Text()); m != nil {
			adminPass = m[1]
			break
		}
	}
	go io.Copy(io.Discard, stdout)
	if password == "" || certFile == "" || adminPass == "" {
		t.Fatalf("no password, certificate or admin line printed (password %q, certificate %q, admin %q)", password, certFile, adminPass)
	}
	// The status page answers for admin with the printed password.
	req, _ := http.NewRequest("GET", "http://127.0.0.1:2122/api/v1/status", nil)
	req.SetBasicAuth("admin", adminPass)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin status with the printed password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := http.Get("http://127.0.0.1:2122/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status page: %v %v", resp, err)
	} else {
		resp.Body.Close()
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

	// The printed fingerprint is the one of the certificate AUTH TLS presents.
	var served string
	tc, err := ftp.Dial("127.0.0.1:2121", ftp.DialWithTimeout(5*time.Second),
		ftp.DialWithExplicitTLS(&tls.Config{InsecureSkipVerify: true,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				served = tlsfiles.Fingerprint(&tls.Certificate{Certificate: raw})
				return nil
			}}))
	if err != nil {
		t.Fatal(err)
	}
	tc.Quit()
	if served != fingerprint {
		t.Errorf("printed fingerprint %s, served certificate %s", fingerprint, served)
	}

	// The README's commands, with the printed certificate path and password.
	var ran int
	for _, line := range strings.Split(string(readme), "\n") {
		var want string
		switch {
		case strings.HasPrefix(line, "lftp -u wharf -p 2121 "):
			want = "hello.txt"
		case strings.HasPrefix(line, "curl ") && strings.Contains(line, "ftp://127.0.0.1:2121/"):
			want = "hello.txt"
		default:
			continue
		}
		line = strings.ReplaceAll(line, "/tmp/wharf-tls-123/cert.pem", certFile)
		line = strings.ReplaceAll(line, "-u wharf ", "-u wharf,"+password+" ")
		line = strings.ReplaceAll(line, "PASSWORD", password)
		args := shellWords(t, line)
		engine.Need(t, args[0], "Debian package "+args[0])
		run := exec.CommandContext(ctx, args[0], args[1:]...)
		run.Dir = dir
		if args[0] == "lftp" {
			// lftp runs -e, then reads the rest from stdin; the upload shows TLS data works.
			os.WriteFile(filepath.Join(dir, "up.txt"), []byte("up"), 0o644)
			run.Stdin = strings.NewReader("put up.txt\ncls -1\nbye\n")
			want = "up.txt"
		}
		out, err := run.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("README command %q: %v\n%s", line, err, out)
		}
		ran++
	}
	if ran < 3 {
		t.Errorf("found %d lftp and curl commands in README.md, want 3", ran)
	}
	if !strings.Contains(stderr.String(), "tls=true") {
		t.Error("no client logged in over TLS")
	}
}

// shellWords splits a command line on spaces, with single quotes; a # word
// starts a comment.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '#' && !inWord:
			return words
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// daemon is wharf running as a child process.
type daemon struct {
	cmd    *exec.Cmd
	addr   string
	stderr *servertest.Buffer
	done   chan error
}

func startDaemon(t *testing.T, configPath string) *daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	d := &daemon{stderr: &servertest.Buffer{}, done: make(chan error, 1)}
	d.cmd = wharfCmd(ctx, t.TempDir(), "serve", "--config", configPath)
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("wharf stderr:\n%s", d.stderr.String())
		}
	})
	re := regexp.MustCompile(`msg="wharf serving" listen=\[([^\] ]+)`)
	servertest.WaitFor(t, 30*time.Second, "wharf to listen", func() bool {
		m := re.FindStringSubmatch(d.stderr.String())
		if m != nil {
			d.addr = m[1]
		}
		return m != nil
	})
	return d
}

func (d *daemon) signal(t *testing.T, s os.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(s); err != nil {
		t.Fatal(err)
	}
}

const signalConfig = `
[server]
listen = ["127.0.0.1:0"]
shutdown_grace = "20s"
[passive]
ports = "{{ports}}"
[users.alice]
password = "{{hash}}"
limits = { download = "1MB/s" }
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/data"
permissions = ["*"]
`

const bobUser = `
[users.bob]
password = "{{hash}}"
[[users.bob.folders]]
mount = "/"
path = "{{dir}}/data"
`

func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "wharf.toml")
	if err := os.WriteFile(p, []byte(servertest.Expand(t, text, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignals: SIGHUP adds a user while a throttled download runs, a bad file
// on SIGHUP changes nothing, and SIGTERM lets the download finish and exits 0.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	payload := bytes.Repeat([]byte("x"), 2_500_000)
	os.WriteFile(filepath.Join(dir, "data", "big.bin"), payload, 0o644)
	cfg := writeConfig(t, dir, signalConfig)
	d := startDaemon(t, cfg)

	c, err := ftp.Dial(d.addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", servertest.Password); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		got <- b
	}()

	// A bad file: rejected, logged as check prints it, nothing changes.
	os.WriteFile(cfg, []byte("[server]\nlisten = [\"127.0.0.1:0\"]\nbogus = true\n"), 0o600)
	d.signal(t, syscall.SIGHUP)
	servertest.WaitFor(t, 10*time.Second, "reload rejected", func() bool {
		return strings.Contains(d.stderr.String(), cfg+":3: ")
	})

	// A good file with a new user.
	writeConfig(t, dir, signalConfig+bobUser)
	d.signal(t, syscall.SIGHUP)
	servertest.WaitFor(t, 10*time.Second, "reload", func() bool {
		return strings.Contains(d.stderr.String(), "configuration reloaded")
	})
	b, err := ftp.Dial(d.addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Login("bob", servertest.Password); err != nil {
		t.Fatalf("bob after reload: %v", err)
	}
	b.Quit()

	// SIGTERM while alice's throttled download still runs.
	d.signal(t, syscall.SIGTERM)
	select {
	case data := <-got:
		if !bytes.Equal(data, payload) {
			t.Fatalf("download cut by SIGTERM: %d of %d bytes", len(data), len(payload))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("download did not finish")
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("wharf exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("wharf did not exit")
	}
	if !strings.Contains(d.stderr.String(), "transfers_waited_for=1") {
		t.Errorf("the stop log does not say it waited for the transfer:\n%s", d.stderr.String())
	}
}

// TestHealthCommand: `wharf health` (the container health check) answers 0
// while wharf serves and 1 when nothing answers.
func TestHealthCommand(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	cfg := writeConfig(t, dir, signalConfig+"\n[metrics]\nlisten = \"127.0.0.1:0\"\n")
	d := startDaemon(t, cfg)
	re := regexp.MustCompile(`msg="metrics listening" [^\n]*address=(\S+)`)
	var addr string
	servertest.WaitFor(t, 10*time.Second, "the metrics listener", func() bool {
		m := re.FindStringSubmatch(d.stderr.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	// The URL of /healthz, or the listener's address as a URL or host:port.
	for _, url := range []string{"http://" + addr + "/healthz", "http://" + addr, "http://" + addr + "/", addr} {
		out, _, code := runWharf(t, "", "health", "--url", url)
		if code != 0 || strings.TrimSpace(out) != "ok" {
			t.Fatalf("health --url %s while serving: exit %d %q", url, code, out)
		}
	}
	d.signal(t, syscall.SIGTERM)
	<-d.done
	if _, _, code := runWharf(t, "", "health", "--url", "http://"+addr+"/healthz"); code != 1 {
		t.Fatalf("health after stop: exit %d, want 1", code)
	}
}
