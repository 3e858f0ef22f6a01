package server_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/server/servertest"
)

const pass = servertest.Password

// aliceConfig is a user with every permission on one folder.
const aliceConfig = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`

func dial(t testing.TB, addr string, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	opts = append([]ftp.DialOption{ftp.DialWithTimeout(10 * time.Second)}, opts...)
	c, err := ftp.Dial(addr, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Quit() })
	return c
}

func login(t testing.TB, addr, user, password string, opts ...ftp.DialOption) *ftp.ServerConn {
	t.Helper()
	c := dial(t, addr, opts...)
	if err := c.Login(user, password); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawConn is a hand-driven control connection for transcript tests.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &rawConn{t: t, conn: c, r: bufio.NewReader(c)}
	return rc
}

// dialRawFrom dials from a given local address (e.g. 127.0.0.2).
func dialRawFrom(t testing.TB, local, addr string) (*rawConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, conn: c, r: bufio.NewReader(c)}, nil
}

// read returns the code and full text of the next reply.
func (c *rawConn) read() (int, string) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading reply: %v (so far %q)", err, lines)
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) >= 4 && line[3] == ' ' {
			if _, err := strconv.Atoi(line[:3]); err == nil && (len(lines) == 1 || strings.HasPrefix(line, lines[0][:3])) {
				code, _ := strconv.Atoi(line[:3])
				return code, strings.Join(lines, "\n")
			}
		}
	}
}

// tryRead is read that reports a closed connection instead of failing.
func (c *rawConn) tryRead() (int, string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	code, _ := strconv.Atoi(line[:min(3, len(line))])
	return code, line, nil
}

func (c *rawConn) send(line string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

// cmd sends a command and returns its reply.
func (c *rawConn) cmd(line string) (int, string) {
	c.t.Helper()
	c.send(line)
	return c.read()
}

func (c *rawConn) expect(line string, want int) string {
	c.t.Helper()
	code, msg := c.cmd(line)
	if code != want {
		c.t.Fatalf("%s: got %q, want code %d", line, msg, want)
	}
	return msg
}

func (c *rawConn) login(user, password string) {
	c.t.Helper()
	c.expect("USER "+user, 331)
	c.expect("PASS "+password, 230)
}

var epsvRe = regexp.MustCompile(`\(\|\|\|(\d+)\|\)`)

// epsv opens a passive data connection.
func (c *rawConn) epsv() net.Conn {
	c.t.Helper()
	msg := c.expect("EPSV", 229)
	m := epsvRe.FindStringSubmatch(msg)
	if m == nil {
		c.t.Fatalf("EPSV reply %q", msg)
	}
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	d, err := net.DialTimeout("tcp", net.JoinHostPort(host, m[1]), 5*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { d.Close() })
	return d
}

// upgradeTLS performs AUTH TLS on the raw connection.
func (c *rawConn) upgradeTLS(cfg *tls.Config) {
	c.t.Helper()
	c.expect("AUTH TLS", 234)
	tc := tls.Client(c.conn, cfg)
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("handshake: %v", err)
	}
	c.conn = tc
	c.r = bufio.NewReader(tc)
}

func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (Debian package %s)", name, pkg)
	}
	return p
}

func hostPort(t testing.TB, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// metricsOf returns every series of /metrics at addr, by its name and
// labels as printed (e.g. `wharf_connections_total{result="accepted"}`).
func metricsOf(t testing.TB, addr string) map[string]float64 {
	t.Helper()
	if addr == "" {
		t.Fatal("no metrics listener")
	}
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// metricValue returns one series of /metrics at addr; a missing series fails the test.
func metricValue(t testing.TB, addr, series string) float64 {
	t.Helper()
	v, ok := metricsOf(t, addr)[series]
	if !ok {
		t.Fatalf("series %s not in /metrics", series)
	}
	return v
}
