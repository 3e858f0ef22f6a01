package server_test

import (
	"bufio"
	"bytes"
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
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// The second client address: Linux routes all of 127.0.0.0/8 to the loopback
// interface, so a test can dial from it to look like another host.
const (
	protHostA = "127.0.0.1"
	protHostB = "127.0.0.2"
)

// protConfig returns a configuration with a control listener on 127.0.0.1
// (unless serverKeys has its own listen), passive ports,
// metrics, the extra [server] keys serverKeys, the other sections rest, and one
// user with every permission on {{dir}}/<name> per name (a user may be given
// extra keys as "name|key = value\nkey = value").
func protConfig(serverKeys, rest string, users ...string) string {
	var b strings.Builder
	b.WriteString("[server]\n")
	if !strings.Contains(serverKeys, "listen =") {
		b.WriteString("listen = [\"127.0.0.1:0\"]\n")
	}
	b.WriteString(serverKeys + "\n")
	b.WriteString("[passive]\nports = \"{{ports}}\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n")
	b.WriteString(rest + "\n")
	for _, u := range users {
		name, keys, _ := strings.Cut(u, "|")
		fmt.Fprintf(&b, "[users.%s]\npassword = \"{{hash}}\"\n%s\n", name, keys)
		fmt.Fprintf(&b, "[[users.%s.folders]]\nmount = \"/\"\npath = \"{{dir}}/%s\"\npermissions = [\"*\"]\n", name, name)
	}
	return b.String()
}

// startProt starts a server from protConfig, with each user's folder created.
func startProt(t testing.TB, serverKeys, rest string, users ...string) *servertest.Instance {
	t.Helper()
	dirs := make([]string, len(users))
	for i, u := range users {
		dirs[i], _, _ = strings.Cut(u, "|")
	}
	return servertest.Start(t, protConfig(serverKeys, rest, users...), dirs...)
}

// protMetric returns one series; a missing series fails the test.
func protMetric(t testing.TB, in *servertest.Instance, series string) float64 {
	t.Helper()
	return metricValue(t, in.Metrics, series)
}

func protWantMetric(t testing.TB, in *servertest.Instance, series string, want float64) {
	t.Helper()
	if got := protMetric(t, in, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

const (
	pmConnAccepted = `wharf_connections_total{result="accepted"}`
	pmConnFilter   = `wharf_connections_total{result="refused_ipfilter"}`
	pmConnBanned   = `wharf_connections_total{result="refused_banned"}`
	pmConnLimit    = `wharf_connections_total{result="refused_limit"}`
	pmConnections  = `wharf_connections`
	pmBans         = `wharf_bans`
	pmBansTotal    = `wharf_bans_total`
	pmLoginsFailed = `wharf_logins_total{result="failure"}`
	pmLoginsOK     = `wharf_logins_total{result="success"}`
)

// protGreet connects from the address from and returns the connection and its
// first reply.
func protGreet(t testing.TB, from, addr string) (*rawConn, int, string) {
	t.Helper()
	c, err := dialRawFrom(t, from, addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	code, msg := c.read()
	return c, code, msg
}

// protWantRefused connects from the address from and expects a 421 whose text
// contains want, then the server closing the connection.
func protWantRefused(t testing.TB, from, addr, want string) {
	t.Helper()
	c, code, msg := protGreet(t, from, addr)
	if code != 421 || !strings.Contains(msg, want) {
		t.Fatalf("connection from %s: got %q, want 421 containing %q", from, msg, want)
	}
	if _, line, err := c.tryRead(); err == nil {
		t.Fatalf("connection from %s still open after 421: %q", from, line)
	}
}

// protWantGreeting connects from the address from and expects the 220 banner.
func protWantGreeting(t testing.TB, from, addr string) *rawConn {
	t.Helper()
	c, code, msg := protGreet(t, from, addr)
	if code != 220 {
		t.Fatalf("connection from %s: got %q, want 220", from, msg)
	}
	return c
}

// protAttempt makes one login attempt from the address from on a new connection
// and returns the USER and PASS replies.
func protAttempt(t testing.TB, from, addr, user, password string) (userCode, passCode int, passMsg string) {
	t.Helper()
	c := protWantGreeting(t, from, addr)
	userCode, _ = c.cmd("USER " + user)
	passCode, passMsg = c.cmd("PASS " + password)
	c.conn.Close()
	return userCode, passCode, passMsg
}

// protLogLine returns the first log line containing every one of parts, or "".
func protLogLine(in *servertest.Instance, parts ...string) string {
next:
	for _, line := range strings.Split(in.Logs.String(), "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return line
	}
	return ""
}

func protWantLog(t testing.TB, in *servertest.Instance, parts ...string) {
	t.Helper()
	if protLogLine(in, parts...) == "" {
		t.Errorf("no log line with %q", parts)
	}
}

// protDialerFrom is a jlaffaye/ftp option dialing control and data connections
// from the address from.
func protDialerFrom(from string) ftp.DialOption {
	return ftp.DialWithDialer(net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}})
}

// protSparseFile creates a file of size bytes (zeros, without writing them).
func protSparseFile(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// protDownload retrieves name completely and returns its size and duration.
func protDownload(c *ftp.ServerConn, name string) (int64, time.Duration, error) {
	start := time.Now()
	r, err := c.Retr(name)
	if err != nil {
		return 0, 0, err
	}
	n, err := io.Copy(io.Discard, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return n, time.Since(start), err
}

// protWantRate checks that n bytes in d is rate bytes/s within ±25%.
func protWantRate(t testing.TB, what string, n int64, d time.Duration, rate float64) {
	t.Helper()
	got := float64(n) / d.Seconds()
	t.Logf("%s: %d bytes in %v = %.0f B/s (cap %.0f B/s)", what, n, d.Round(time.Millisecond), got, rate)
	if got < 0.75*rate || got > 1.25*rate {
		t.Errorf("%s: %.0f B/s, want %.0f B/s ±25%%", what, got, rate)
	}
}

// --- IP filters ---

func TestProtectionServerIPFilter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		filter          string
		refused, passes string
	}{
		{"deny single address", `deny = ["127.0.0.2"]`, protHostB, protHostA},
		{"deny CIDR", `deny = ["127.0.0.0/31"]`, protHostA, protHostB},
		{"deny IPv4-mapped", `deny = ["::ffff:127.0.0.2"]`, protHostB, protHostA},
		{"allow only", `allow = ["127.0.0.1/32"]`, protHostB, protHostA},
		{"allow beats deny", `allow = ["127.0.0.2"]` + "\n" + `deny = ["127.0.0.0/8"]`, protHostA, protHostB},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := startProt(t, "", "[ipfilter]\n"+tc.filter)
			protWantRefused(t, tc.refused, in.Addr, "not allowed")
			protWantGreeting(t, tc.passes, in.Addr)
			protWantMetric(t, in, pmConnFilter, 1)
			protWantMetric(t, in, pmConnAccepted, 1)
			protWantLog(t, in, "connection refused", "remote="+tc.refused, "refused_ipfilter")
		})
	}

	t.Run("IPv6", func(t *testing.T) {
		if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		} else {
			l.Close()
		}
		in := startProt(t, `listen = ["127.0.0.1:0", "[::1]:0"]`, "[ipfilter]\ndeny = [\"::1/128\"]")
		protWantRefused(t, "::1", in.Srv.ControlAddrs()[1], "not allowed")
		protWantGreeting(t, protHostA, in.Addr)
		protWantMetric(t, in, pmConnFilter, 1)
		protWantLog(t, in, "connection refused", "remote=::1", "refused_ipfilter")
	})

	t.Run("reload", func(t *testing.T) {
		cfg := protConfig("", "[ipfilter]\ndeny = [\"127.0.0.2\"]")
		in := servertest.Start(t, cfg)
		protWantRefused(t, protHostB, in.Addr, "not allowed")
		if err := in.Rewrite(t, protConfig("", "")); err != nil {
			t.Fatal(err)
		}
		protWantGreeting(t, protHostB, in.Addr)
		if err := in.Rewrite(t, protConfig("", "[ipfilter]\nallow = [\"127.0.0.2\"]")); err != nil {
			t.Fatal(err)
		}
		protWantRefused(t, protHostA, in.Addr, "not allowed")
		protWantMetric(t, in, pmConnFilter, 2)
	})
}

// protSelfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir.
func protSelfSigned(t testing.TB, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "wharf test"},
		IPAddresses:  []net.IP{net.ParseIP(protHostA)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

// An implicit FTPS listener refuses inside TLS: the client reads the 421.
func TestProtectionImplicitTLSRefusal(t *testing.T) {
	t.Parallel()
	cert, key := protSelfSigned(t, t.TempDir())
	in := startProt(t, "", fmt.Sprintf(`
[tls]
certificate = %q
key = %q
implicit_listen = ["127.0.0.1:0"]
[ipfilter]
deny = ["127.0.0.2"]
`, cert, key))
	first := func(from string) string {
		t.Helper()
		d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := tls.DialWithDialer(d, "tcp", in.Implicit, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS from %s: %v", from, err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("TLS from %s: %q, %v", from, line, err)
		}
		return line
	}
	if line := first(protHostB); !strings.HasPrefix(line, "421 ") || !strings.Contains(line, "not allowed") {
		t.Errorf("refused implicit FTPS client got %q", line)
	}
	if line := first(protHostA); !strings.HasPrefix(line, "220") {
		t.Errorf("implicit FTPS client got %q", line)
	}
	protWantMetric(t, in, pmConnFilter, 1)
}

func TestProtectionUserIPFilter(t *testing.T) {
	t.Parallel()
	cfg := protConfig("", `
[groups.staff]
ipfilter = { allow = ["127.0.0.1"] }
`,
		"alice|ipfilter = { deny = [\"127.0.0.2\"] }",
		"bob|groups = [\"staff\"]",
		"carol|groups = [\"staff\"]\nipfilter = { allow = [\"127.0.0.0/8\"] }", // both filters must allow
		"dave")
	in := servertest.Start(t, cfg, "alice", "bob", "carol", "dave")

	_, _, bad := protAttempt(t, protHostB, in.Addr, "dave", "wrong password")
	tests := []struct {
		user, from string
		want       int
	}{
		{"alice", protHostB, 530},
		{"alice", protHostA, 230},
		{"bob", protHostB, 530},
		{"bob", protHostA, 230},
		{"carol", protHostB, 530},
		{"carol", protHostA, 230},
		{"dave", protHostB, 230},
	}
	failures := 1.0
	for _, tc := range tests {
		uc, pc, msg := protAttempt(t, tc.from, in.Addr, tc.user, pass)
		if uc != 331 || pc != tc.want {
			t.Errorf("%s from %s: USER %d, PASS %d %q; want 331, %d", tc.user, tc.from, uc, pc, msg, tc.want)
		}
		if pc == 530 {
			failures++
			if msg != bad {
				t.Errorf("%s from %s: refusal %q differs from a bad password's %q", tc.user, tc.from, msg, bad)
			}
		}
	}
	protWantMetric(t, in, pmLoginsFailed, failures)
	protWantMetric(t, in, `wharf_login_failures_total{reason="ipfilter"}`, 3)
	protWantLog(t, in, "login failed", "remote=127.0.0.2", "user=bob", "address not allowed for user")
}

// --- autoban ---

const protBanKeys = "[autoban]\nenabled = true\nexempt = []\nwindow = \"1m\"\n"

func TestProtectionAutoban(t *testing.T) {
	t.Parallel()
	in := startProt(t, "", protBanKeys+"failures = 3\nban = \"1h\"", "alice")

	// Two failures: a bad password, an unknown user. Not banned yet.
	uc1, pc1, msg1 := protAttempt(t, protHostB, in.Addr, "alice", "wrong")
	uc2, pc2, msg2 := protAttempt(t, protHostB, in.Addr, "nobody", "wrong")
	if uc1 != 331 || uc2 != 331 || pc1 != 530 || pc2 != 530 {
		t.Fatalf("bad password: %d %d %q; unknown user: %d %d %q", uc1, pc1, msg1, uc2, pc2, msg2)
	}
	if msg1 != msg2 {
		t.Errorf("an unknown user is told apart from a bad password: %q vs %q", msg2, msg1)
	}
	protWantMetric(t, in, pmBansTotal, 0)

	// The third (another unknown name) bans 127.0.0.2 ...
	if _, pc, msg := protAttempt(t, protHostB, in.Addr, "ghost", "x"); pc != 530 || msg != msg1 {
		t.Fatalf("third failure: %d %q", pc, msg)
	}
	protWantRefused(t, protHostB, in.Addr, "banned")
	protWantRefused(t, protHostB, in.Addr, "banned")
	// ... and nobody else.
	c := login(t, in.Addr, "alice", pass)
	if _, err := c.CurrentDir(); err != nil {
		t.Fatal(err)
	}

	protWantMetric(t, in, pmBans, 1)
	protWantMetric(t, in, pmBansTotal, 1)
	protWantMetric(t, in, pmConnBanned, 2)
	protWantMetric(t, in, pmLoginsFailed, 3)
	protWantLog(t, in, "address banned", "remote=127.0.0.2")
	protWantLog(t, in, "connection refused", "remote=127.0.0.2", "refused_banned")

	// A reload that makes the address exempt lifts its ban.
	if err := in.Rewrite(t, protConfig("", strings.Replace(protBanKeys, "exempt = []", `exempt = ["127.0.0.2"]`, 1)+"failures = 3\nban = \"1h\"", "alice")); err != nil {
		t.Fatal(err)
	}
	protWantGreeting(t, protHostB, in.Addr).login("alice", pass)
	protWantMetric(t, in, pmBans, 0)
}

func TestProtectionAutobanExpires(t *testing.T) {
	t.Parallel()
	in := startProt(t, "", protBanKeys+"failures = 1\nban = \"1s\"", "alice")
	start := time.Now()
	if _, pc, _ := protAttempt(t, protHostB, in.Addr, "alice", "wrong"); pc != 530 {
		t.Fatalf("PASS: %d", pc)
	}
	protWantMetric(t, in, pmBansTotal, 1)
	if time.Since(start) < 800*time.Millisecond { // else the ban may be over already
		protWantRefused(t, protHostB, in.Addr, "banned")
	}
	var c *rawConn
	servertest.WaitFor(t, 10*time.Second, "the ban to expire", func() bool {
		var code int
		c, code, _ = protGreet(t, protHostB, in.Addr)
		return code == 220
	})
	if d := time.Since(start); d < time.Second {
		t.Errorf("ban of 1s lifted after %v", d)
	}
	c.login("alice", pass)
	protWantMetric(t, in, pmBans, 0)
}

func TestProtectionAutobanExempt(t *testing.T) {
	t.Parallel()
	in := startProt(t, "", `
[autoban]
failures = 2
window = "1m"
ban = "1h"
exempt = ["127.0.0.2/32"]
`, "alice")
	for i := range 5 {
		if _, pc, _ := protAttempt(t, protHostB, in.Addr, "alice", "wrong"); pc != 530 {
			t.Fatalf("attempt %d: PASS %d", i+1, pc)
		}
	}
	protWantGreeting(t, protHostB, in.Addr).login("alice", pass)
	protWantMetric(t, in, pmBansTotal, 0)

	// The same policy bans an address that is not exempt.
	for range 2 {
		protAttempt(t, protHostA, in.Addr, "alice", "wrong")
	}
	protWantRefused(t, protHostA, in.Addr, "banned")
	protWantMetric(t, in, pmBansTotal, 1)
	protWantMetric(t, in, pmLoginsFailed, 7)
}

func TestProtectionAutobanIdleBeforeLogin(t *testing.T) {
	t.Parallel()
	in := startProt(t, `idle_timeout = "1s"`, protBanKeys+"failures = 1\nban = \"1h\"", "alice")

	// Both idle: 127.0.0.1 after logging in, 127.0.0.2 without.
	a := protWantGreeting(t, protHostA, in.Addr)
	a.login("alice", pass)
	b := protWantGreeting(t, protHostB, in.Addr)
	for _, c := range []*rawConn{a, b} {
		if code, msg := c.read(); code != 421 || !strings.Contains(msg, "timeout") {
			t.Fatalf("idle connection: %q, want a 421 timeout", msg)
		}
	}
	servertest.WaitFor(t, 10*time.Second, "both sessions to end", func() bool {
		return protMetric(t, in, pmConnections) == 0
	})
	protWantRefused(t, protHostB, in.Addr, "banned")
	protWantGreeting(t, protHostA, in.Addr)
	protWantMetric(t, in, pmBansTotal, 1)
	protWantLog(t, in, "idle timeout before login", "remote=127.0.0.2")
}

func TestProtectionAutobanStateFile(t *testing.T) {
	t.Parallel()
	cfg := protConfig("", protBanKeys+"failures = 1\nban = \"1h\"\nstate_file = \"{{dir}}/bans.json\"", "alice")
	in := servertest.Start(t, cfg, "alice")
	protAttempt(t, protHostB, in.Addr, "alice", "wrong")
	protWantRefused(t, protHostB, in.Addr, "banned")
	in.Stop()
	state := filepath.Join(in.Dir, "bans.json")
	if b, err := os.ReadFile(state); err != nil || !strings.Contains(string(b), "127.0.0.2") {
		t.Fatalf("state file: %q, %v", b, err)
	}
	restart := func() *servertest.Instance { return servertest.StartFile(t, in.ConfigPath, in.Dir) }

	// A new server from the same file keeps the ban.
	in2 := restart()
	protWantRefused(t, protHostB, in2.Addr, "banned")
	protWantGreeting(t, protHostA, in2.Addr).conn.Close()
	protWantMetric(t, in2, pmBans, 1)
	in2.Stop()

	// A bad state file is logged and ignored.
	if err := os.WriteFile(state, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	in3 := restart()
	protWantGreeting(t, protHostB, in3.Addr).login("alice", pass)
	protWantMetric(t, in3, pmBans, 0)
	protWantLog(t, in3, "autoban state file ignored")
}

// --- connection and session limits ---

func TestProtectionConnectionLimits(t *testing.T) {
	t.Parallel()
	t.Run("max_connections_per_ip", func(t *testing.T) {
		in := startProt(t, "max_connections_per_ip = 2", "")
		a1 := protWantGreeting(t, protHostA, in.Addr)
		protWantGreeting(t, protHostA, in.Addr)
		protWantRefused(t, protHostA, in.Addr, "max_connections_per_ip")
		protWantGreeting(t, protHostB, in.Addr) // another address has its own count
		protWantMetric(t, in, pmConnLimit, 1)
		protWantLog(t, in, "connection refused", "remote=127.0.0.1", "refused_limit")

		a1.conn.Close()
		servertest.WaitFor(t, 10*time.Second, "a slot to be freed", func() bool {
			_, code, _ := protGreet(t, protHostA, in.Addr)
			return code == 220
		})
	})
	t.Run("max_connections", func(t *testing.T) {
		in := startProt(t, "max_connections = 2", "")
		a1 := protWantGreeting(t, protHostA, in.Addr)
		protWantGreeting(t, protHostA, in.Addr)
		protWantRefused(t, protHostB, in.Addr, "max_connections")
		protWantMetric(t, in, pmConnLimit, 1)
		protWantMetric(t, in, pmConnections, 2)

		a1.conn.Close()
		servertest.WaitFor(t, 10*time.Second, "a slot to be freed", func() bool {
			_, code, _ := protGreet(t, protHostB, in.Addr)
			return code == 220
		})
	})
	t.Run("max_sessions", func(t *testing.T) {
		in := startProt(t, "", "", "alice|max_sessions = 1", "bob")
		first := protWantGreeting(t, protHostA, in.Addr)
		first.login("alice", pass)
		if _, pc, msg := protAttempt(t, protHostB, in.Addr, "alice", pass); pc != 530 || !strings.Contains(msg, "max_sessions") {
			t.Fatalf("second session: %d %q, want 530 naming max_sessions", pc, msg)
		}
		protWantGreeting(t, protHostB, in.Addr).login("bob", pass) // other users are not limited
		protWantMetric(t, in, pmLoginsFailed, 1)
		protWantLog(t, in, "login refused", "user=alice", "max_sessions")

		first.expect("QUIT", 221)
		servertest.WaitFor(t, 10*time.Second, "the session to be released", func() bool {
			_, pc, _ := protAttempt(t, protHostB, in.Addr, "alice", pass)
			return pc == 230
		})
	})
}

// --- speed limits ---

func TestProtectionUserDownloadLimit(t *testing.T) {
	t.Parallel()
	// The server's cap is higher: the user's, the lowest, applies.
	in := startProt(t, "", "[limits]\ndownload = \"4MB/s\"", `alice|limits = { download = "1MB/s" }`)
	protSparseFile(t, filepath.Join(in.Dir, "alice/big"), 4_100_000)
	c := login(t, in.Addr, "alice", pass)
	n, d, err := protDownload(c, "big")
	if err != nil || n != 4_100_000 {
		t.Fatalf("RETR: %d bytes, %v", n, err)
	}
	protWantRate(t, "download", n, d, 1e6)
}

func TestProtectionServerUploadLimit(t *testing.T) {
	t.Parallel()
	in := startProt(t, "", "[limits]\nupload = \"1MB/s\"", "alice")
	c := login(t, in.Addr, "alice", pass)
	const size = 3_100_000
	start := time.Now()
	if err := c.Stor("up", bytes.NewReader(make([]byte, size))); err != nil {
		t.Fatal(err)
	}
	protWantRate(t, "upload", size, time.Since(start), 1e6)
	if fi, err := os.Stat(filepath.Join(in.Dir, "alice/up")); err != nil || fi.Size() != size {
		t.Fatalf("uploaded file: %v", err)
	}
}

func TestProtectionUserLimitShared(t *testing.T) {
	t.Parallel()
	in := startProt(t, "", "", `alice|limits = { download = "1MB/s" }`)
	const size = 1_550_000
	protSparseFile(t, filepath.Join(in.Dir, "alice/one"), size)
	protSparseFile(t, filepath.Join(in.Dir, "alice/two"), size)
	conns := []*ftp.ServerConn{login(t, in.Addr, "alice", pass), login(t, in.Addr, "alice", pass)}
	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	durs := make([]time.Duration, len(conns))
	start := time.Now()
	for i, c := range conns {
		wg.Go(func() {
			var n int64
			n, durs[i], errs[i] = protDownload(c, []string{"one", "two"}[i])
			if errs[i] == nil && n != size {
				errs[i] = fmt.Errorf("got %d bytes", n)
			}
		})
	}
	wg.Wait()
	total := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("sessions took %v and %v", durs[0].Round(time.Millisecond), durs[1].Round(time.Millisecond))
	protWantRate(t, "two sessions together", 2*size, total, 1e6)
}

func TestProtectionLimitReload(t *testing.T) {
	t.Parallel()
	limited := func(rate string) string {
		return protConfig("", "", `alice|limits = { download = "`+rate+`" }`)
	}
	in := startProt(t, "", "", `alice|limits = { download = "500KB/s" }`)
	const size = 4_000_000
	protSparseFile(t, filepath.Join(in.Dir, "alice/big"), size)
	c := login(t, in.Addr, "alice", pass)
	r, err := c.Retr("big")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	step := func(n int64) time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	step(100_000)

	// Raised while running: 2 MB in about 1 s, not 4 s at the old rate.
	if err := in.Rewrite(t, limited("2MB/s")); err != nil {
		t.Fatal(err)
	}
	protWantRate(t, "after raising the cap", 2_000_000, step(2_000_000), 2e6)

	// Lowered while running. What the old rate let through already (one
	// chunk of at most a tenth of a second at 2 MB/s, and the socket buffers)
	// arrives first: skip it, then measure.
	if err := in.Rewrite(t, limited("500KB/s")); err != nil {
		t.Fatal(err)
	}
	step(300_000)
	protWantRate(t, "after lowering the cap", 500_000, step(500_000), 5e5)

	// Removed while running: the rest comes at once.
	if err := in.Rewrite(t, limited("0")); err != nil {
		t.Fatal(err)
	}
	if d := step(size - 2_900_000); d > 500*time.Millisecond {
		t.Errorf("the last 1.1 MB took %v after the cap was removed", d)
	}
}

// TestProtectionUnlimitedIsFast is not parallel: under -race on two cores its
// copies would slow the rate measurements running beside it.
func TestProtectionUnlimitedIsFast(t *testing.T) {
	in := startProt(t, "", "[limits]\ndownload = \"0\"\nupload = \"0\"", "alice")
	const size = 64 << 20
	protSparseFile(t, filepath.Join(in.Dir, "alice/big"), size)
	c := login(t, in.Addr, "alice", pass)
	// Far above any cap used in these tests (4 MB/s), even under -race.
	const floor = 40e6
	n, d, err := protDownload(c, "big")
	if err != nil || n != size {
		t.Fatalf("RETR: %d bytes, %v", n, err)
	}
	if got := float64(n) / d.Seconds(); got < floor {
		t.Errorf("unlimited download: %.0f B/s in %v", got, d)
	}
	start := time.Now()
	if err := c.Stor("up", bytes.NewReader(make([]byte, size))); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); float64(size)/d.Seconds() < floor {
		t.Errorf("unlimited upload: %v for 64 MiB", d)
	}
}

// --- flood ---

// TestProtectionFlood is not parallel: it measures the heap of the process.
func TestProtectionFlood(t *testing.T) {
	in := startProt(t, "max_connections_per_ip = 8", "", "alice")
	// A first login fills the verifier's cache, as for a client that comes back.
	login(t, in.Addr, "alice", pass, protDialerFrom(protHostB)).Quit()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	// The attacker holds its 8 connections ...
	var held []*rawConn
	for range 8 {
		held = append(held, protWantGreeting(t, protHostA, in.Addr))
	}
	// ... and 20 workers make 2,000 more attempts.
	const attempts, workers = 2000, 20
	var (
		next, refused, greeted, failed atomic.Int64
		wg                             sync.WaitGroup
	)
	deadline := time.Now().Add(30 * time.Second)
	for range workers {
		wg.Go(func() {
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(protHostA)}}
			for next.Add(1) <= attempts && time.Now().Before(deadline) {
				c, err := d.Dial("tcp", in.Addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				switch {
				case strings.HasPrefix(line, "421 "):
					refused.Add(1)
				case strings.HasPrefix(line, "220"):
					greeted.Add(1)
				default:
					failed.Add(1)
				}
				c.Close()
			}
		})
	}

	// A second client logs in during the flood, within a second.
	servertest.WaitFor(t, 20*time.Second, "the flood to start", func() bool { return next.Load() >= 200 })
	start := time.Now()
	c, err := ftp.Dial(in.Addr, protDialerFrom(protHostB))
	if err == nil {
		err = c.Login("alice", pass)
	}
	took := time.Since(start)
	during := next.Load() < attempts
	wg.Wait()
	if err != nil {
		t.Fatalf("second client: %v", err)
	}
	if _, err := c.CurrentDir(); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	t.Logf("second client logged in in %v (during the flood: %v); flood: %d refused, %d greeted, %d failed",
		took.Round(time.Millisecond), during, refused.Load(), greeted.Load(), failed.Load())
	if took > time.Second {
		t.Errorf("second client took %v to log in during the flood", took)
	}
	if n := refused.Load() + greeted.Load() + failed.Load(); n != attempts {
		t.Errorf("flood made %d attempts of %d", n, attempts)
	}
	if greeted.Load() != 0 {
		t.Errorf("%d flood connections were served beyond max_connections_per_ip", greeted.Load())
	}
	if refused.Load() < attempts*9/10 {
		t.Errorf("only %d of %d flood connections got a 421", refused.Load(), attempts)
	}
	if got := protMetric(t, in, pmConnLimit); got < float64(refused.Load()) {
		t.Errorf("%s = %v, want at least %d", pmConnLimit, got, refused.Load())
	}

	// Memory and goroutines come back once the attacker leaves.
	for _, rc := range held {
		rc.conn.Close()
	}
	servertest.WaitFor(t, 10*time.Second, "goroutines to settle", func() bool {
		return runtime.NumGoroutine() <= goroutines+8
	})
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use: %d KiB before, %d KiB after", before.HeapInuse>>10, after.HeapInuse>>10)
	if grew > 32<<20 {
		t.Errorf("heap in use grew by %d MiB over the flood", grew>>20)
	}
}
