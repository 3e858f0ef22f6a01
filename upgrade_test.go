package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// startUpgradable starts `wharf serve --config cfg --pid-file pidFile` with its
// stderr on a pipe of the test's own, so that a process the daemon starts on
// upgrade writes to the same buffer and waiting for the daemon's exit does not
// wait for its successor.
func startUpgradable(t *testing.T, cfg, pidFile string) *daemon {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	t.Cleanup(cancel)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{stderr: &servertest.Buffer{}, done: make(chan error, 1)}
	d.cmd = wharfCmd(ctx, t.TempDir(), "serve", "--config", cfg, "--pid-file", pidFile)
	d.cmd.Stderr = w
	err = d.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(d.stderr, r)
		r.Close()
	}()
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		// Any process that took over from it goes too.
		if pid, err := readPID(pidFile); err == nil && pid != d.cmd.Process.Pid {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		select {
		case <-copied:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() || os.Getenv("WHARF_DUMP") != "" {
			t.Logf("wharf stderr:\n%s", d.stderr.String())
		}
	})
	servertest.WaitFor(t, 30*time.Second, "wharf to serve and write its PID file", func() bool {
		pid, err := readPID(pidFile)
		return err == nil && pid == d.cmd.Process.Pid
	})
	return d
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// gone reports whether the process pid has ended (a zombie counts as ended:
// a process whose parent is gone is reaped by whoever adopts it).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// greet dials addr and reads the greeting; it returns the first line.
func greet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	return greeting(c)
}

// greetTLS is greet for an implicit FTPS listener.
func greetTLS(addr string, roots *x509.CertPool) (string, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	return greeting(c)
}

func greeting(c net.Conn) (string, error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return line, err
	}
	_, _ = io.WriteString(c, "QUIT\r\n")
	return strings.TrimRight(line, "\r\n"), nil
}

// dialLoop greets addr every 20ms until stop is closed, and counts.
type dialLoop struct {
	mu       sync.Mutex
	ok       int
	failures []string
	stop     chan struct{}
	done     chan struct{}
}

// startDialLoop runs the greeters in turn.
func startDialLoop(greeters ...func() (string, error)) *dialLoop {
	l := &dialLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := range 10000 {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			line, err := greeters[i%len(greeters)]()
			l.mu.Lock()
			if err == nil && strings.HasPrefix(line, "220 ") {
				l.ok++
			} else {
				l.failures = append(l.failures, fmt.Sprintf("%q %v", line, err))
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *dialLoop) counts() (int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, append([]string(nil), l.failures...)
}

func (l *dialLoop) finish() (int, []string) {
	close(l.stop)
	<-l.done
	return l.counts()
}

// TestUpgradeRefusedAsInit: as a container's first process, whose exit ends
// the container, wharf refuses to upgrade.
func TestUpgradeRefusedAsInit(t *testing.T) {
	u := &upgrader{init: true, results: make(chan upgradeResult, 1)}
	if err := u.start(); !errors.Is(err, errUpgradeInit) {
		t.Fatalf("start as PID 1: %v", err)
	}
	if u.busy.Load() {
		t.Fatal("a refused upgrade left the upgrader busy")
	}
}

// TestUpgrade: SIGUSR2 while a throttled download runs and clients keep
// connecting, in clear and over implicit FTPS. The new process takes the
// listeners over (control, implicit, admin socket, metrics) and writes its PID; no connection attempt is refused or left
// without a greeting; the download completes with every byte and 226; the old
// process exits 0 once it is done. The new process's passive ports skip one
// bound elsewhere. Then a file made invalid makes the next upgrade fail: the
// new process's FILE:LINE line is logged by the old one, which goes on serving.
func TestUpgrade(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	payload := bytes.Repeat([]byte("wharf"), 600_000) // 3 MB at 500 KB/s
	os.WriteFile(filepath.Join(dir, "data", "big.bin"), payload, 0o644)
	first := servertest.FreePortRange(t, 5)
	addr := fmt.Sprintf("127.0.0.1:%d", first)
	metrics := fmt.Sprintf("127.0.0.1:%d", first+1)
	pasvA, pasvB := first+2, first+3
	implicit := fmt.Sprintf("127.0.0.1:%d", first+4)
	sock := filepath.Join(dir, "admin.sock")
	roots := writeTestCert(t, dir)
	text := fmt.Sprintf(`
[server]
listen = ["%s"]
shutdown_grace = "30s"
[tls]
certificate = "{{dir}}/cert.pem"
key = "{{dir}}/key.pem"
implicit_listen = ["%s"]
[passive]
ports = "%d-%d"
[metrics]
listen = "%s"
[admin]
listen = "unix:%s"
[users.alice]
password = "{{hash}}"
limits = { download = "500KB/s" }
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/data"
permissions = ["*"]
`, addr, implicit, pasvA, pasvB, metrics, sock)
	cfg := writeConfig(t, dir, text)
	pidFile := filepath.Join(dir, "wharf.pid")
	d := startUpgradable(t, cfg, pidFile)
	oldPID := d.cmd.Process.Pid
	sockInfo, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}

	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
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
	type result struct {
		data     []byte
		closeErr error
	}
	got := make(chan result, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- result{b, r.Close()} // Close reads the 226
	}()

	loop := startDialLoop(func() (string, error) { return greet(addr) },
		func() (string, error) { return greetTLS(implicit, roots) })
	servertest.WaitFor(t, 10*time.Second, "the first greetings", func() bool {
		n, _ := loop.counts()
		return n >= 3
	})
	d.signal(t, syscall.SIGUSR2)

	var newPID int
	servertest.WaitFor(t, 60*time.Second, "the new process's PID", func() bool {
		pid, err := readPID(pidFile)
		newPID = pid
		return err == nil && pid != oldPID
	})
	if gone(newPID) {
		t.Fatalf("the PID file names %d, which is not running", newPID)
	}
	// Once the old process has stopped accepting, whatever connects is the
	// new process's.
	servertest.WaitFor(t, 30*time.Second, "the old process to stop accepting", func() bool {
		return strings.Contains(d.stderr.String(), `msg="upgrade: stopped accepting; finishing the sessions and transfers in progress" transfers=1`)
	})
	select {
	case <-d.done:
		t.Fatal("the old process exited before its download was done")
	default:
	}

	// The new process serves passive transfers while the old one finishes,
	// and takes another port when one of the range is bound elsewhere (as
	// the old process's passive listeners are until it stops accepting).
	hold, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", pasvA))
	if err != nil {
		t.Fatalf("holding passive port %d: %v", pasvA, err)
	}
	var debug bytes.Buffer
	nc, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second), ftp.DialWithDebugOutput(&debug))
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Login("alice", servertest.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.List("/"); err != nil {
		t.Fatalf("LIST on the new process: %v\n%s", err, debug.String())
	}
	if want := fmt.Sprintf("(|||%d|)", pasvB); !strings.Contains(debug.String(), want) {
		t.Errorf("the new process did not take the free passive port %d:\n%s", pasvB, debug.String())
	}
	nc.Quit()
	hold.Close()

	select {
	case res := <-got:
		if !bytes.Equal(res.data, payload) {
			t.Fatalf("download across the upgrade: %d of %d bytes", len(res.data), len(payload))
		}
		if res.closeErr != nil {
			t.Fatalf("download across the upgrade did not end with 226: %v", res.closeErr)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the download did not finish")
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("old process exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the old process did not exit")
	}
	c.Quit()
	// The stop-accepting line above counted the download in progress; by the
	// time the old process stops, it may already be done: it was not cut.
	if !strings.Contains(d.stderr.String(), "transfers_cut=0") {
		t.Error("the old process's last line says it cut a transfer")
	}

	// Clients keep getting the greeting from the new process.
	before, _ := loop.counts()
	servertest.WaitFor(t, 30*time.Second, "greetings after the switch", func() bool {
		n, _ := loop.counts()
		return n >= before+10
	})
	total, failures := loop.finish()
	t.Logf("connection attempts across the upgrade: %d greeted, %d failed", total, len(failures))
	if len(failures) > 0 {
		t.Fatalf("%d of %d connection attempts failed during the switch: %q", len(failures), total+len(failures), failures)
	}

	// The admin socket is the same file, answering the new process; the
	// metrics listener was handed over too.
	if fi, err := os.Stat(sock); err != nil || !os.SameFile(fi, sockInfo) || fi.Mode().Perm() != 0o660 {
		t.Fatalf("admin socket after the upgrade: %v %v", fi, err)
	}
	out, errOut, code := runWharf(t, "", "ctl", "--admin", "unix:"+sock, "--json", "status")
	if code != 0 || !regexp.MustCompile(fmt.Sprintf(`"pid":\s*%d\b`, newPID)).MatchString(out) {
		t.Fatalf("ctl status after the upgrade: exit %d %s %s", code, out, errOut)
	}
	if out, _, code := runWharf(t, "", "health", "--url", "http://"+metrics+"/healthz"); code != 0 {
		t.Fatalf("health after the upgrade: exit %d %q", code, out)
	}

	// A file the new process rejects: the upgrade fails, the running process
	// logs the new one's FILE:LINE line and goes on serving.
	bad := strings.Replace(servertest.Expand(t, text, dir), "[server]\n", "[server]\nbogus = true\n", 1)
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(bad[:strings.Index(bad, "bogus")], "\n")
	out, errOut, code = runWharf(t, "", "ctl", "--admin", "unix:"+sock, "upgrade")
	if code != 0 {
		t.Fatalf("ctl upgrade: exit %d %s %s", code, out, errOut)
	}
	want := fmt.Sprintf(`msg="upgrade failed: %s:%d: `, cfg, line)
	servertest.WaitFor(t, 60*time.Second, "the failed upgrade's FILE:LINE line", func() bool {
		return strings.Contains(d.stderr.String(), want)
	})
	servertest.WaitFor(t, 10*time.Second, "the failed upgrade's outcome", func() bool {
		return strings.Contains(d.stderr.String(), `msg="upgrade failed: this process goes on serving"`)
	})
	if pid, err := readPID(pidFile); err != nil || pid != newPID || gone(newPID) {
		t.Fatalf("after a failed upgrade the PID file says %d (%v), want %d running", pid, err, newPID)
	}
	if line, err := greet(addr); err != nil || !strings.HasPrefix(line, "220 ") {
		t.Fatalf("greeting after a failed upgrade: %q %v", line, err)
	}

	// SIGTERM stops the new process; its admin socket goes with it.
	if err := syscall.Kill(newPID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 30*time.Second, "the new process to stop", func() bool { return gone(newPID) })
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the admin socket outlived the server: %v", err)
	}
}

// writeTestCert writes cert.pem and key.pem for 127.0.0.1 into dir and
// returns a pool that trusts the certificate.
func writeTestCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
