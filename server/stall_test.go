package server_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// stallConfig has data_timeout = "1s", metrics, explicit FTPS with the
// certificate in {{dir}}/pki, and alice.
const stallConfig = `
[server]
listen = ["127.0.0.1:0"]
data_timeout = "1s"
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[tls]
certificate = "{{dir}}/pki/server.pem"
key = "{{dir}}/pki/server.key"
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`

const (
	stallTimeout = time.Second      // data_timeout
	stallBound   = 10 * time.Second // how long a cut may take on a loaded machine
)

// stallServer starts a server from stallConfig with a test CA, a 64 MiB
// alice/big.bin and alice/hello.txt, and returns it with a client TLS
// configuration that trusts it.
func stallServer(t *testing.T) (*servertest.Instance, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	pki := newTLSPKI(t, filepath.Join(dir, "pki"), "test")
	pki.issue(t, "server", true)
	writeFile(t, filepath.Join(dir, "alice", "hello.txt"), "hello from wharf\n")
	f, err := os.Create(filepath.Join(dir, "alice", "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil { // sparse: no need to write it
		t.Fatal(err)
	}
	_ = f.Close()
	path := filepath.Join(dir, "wharf.toml")
	if err := os.WriteFile(path, []byte(servertest.Expand(t, stallConfig, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1", ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	return servertest.StartFile(t, path, dir), cfg
}

// stallLogin logs alice in (over TLS with PROT P when cfg is not nil) in binary mode.
func stallLogin(t *testing.T, in *servertest.Instance, cfg *tls.Config) *rawConn {
	t.Helper()
	c := dialRaw(t, in.Addr)
	if code, msg := c.read(); code != 220 {
		t.Fatalf("greeting %q", msg)
	}
	if cfg != nil {
		c.upgradeTLS(cfg)
	}
	c.login("alice", pass)
	if cfg != nil {
		c.expect("PBSZ 0", 200)
		c.expect("PROT P", 200)
	}
	c.expect("TYPE I", 200)
	return c
}

// dialData opens the data connection of an EPSV with a small receive buffer
// (set before connecting), so that a slow reader holds the server back at once.
func dialData(t *testing.T, c *rawConn, rcvbuf int) net.Conn {
	t.Helper()
	msg := c.expect("EPSV", 229)
	m := epsvRe.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("EPSV reply %q", msg)
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		return errors.Join(err, serr)
	}}
	host, _, _ := net.SplitHostPort(c.conn.RemoteAddr().String())
	data, err := d.Dial("tcp", net.JoinHostPort(host, m[1]))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	return data
}

// expectCut reads the reply that ends a stalled transfer: an error, after the
// stall timeout and within stallBound.
func expectCut(t *testing.T, c *rawConn, start time.Time) string {
	t.Helper()
	code, msg := c.read()
	took := time.Since(start)
	if !slices.Contains([]int{426, 451, 550}, code) {
		t.Fatalf("stalled transfer ended with %q, want 426, 451 or 550", msg)
	}
	if took < stallTimeout-100*time.Millisecond || took > stallBound {
		t.Fatalf("stalled transfer cut after %v (data_timeout %v)", took, stallTimeout)
	}
	for _, leak := range []string{"ftpserverlib", "/tmp/", "alice/"} {
		if strings.Contains(msg, leak) {
			t.Errorf("reply %q shows %q", msg, leak)
		}
	}
	t.Logf("cut after %v: %s", took.Round(time.Millisecond), msg)
	return msg
}

// expectClosed checks that the server closed (or reset) a data connection.
func expectClosed(t *testing.T, data net.Conn) {
	t.Helper()
	_ = data.SetDeadline(time.Now().Add(stallBound))
	_, err := io.Copy(io.Discard, data)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server did not close the stalled data connection")
	}
}

// waitPortsFree waits until no passive port is in use.
func waitPortsFree(t *testing.T, in *servertest.Instance) {
	t.Helper()
	servertest.WaitFor(t, stallBound, "wharf_passive_ports_in_use = 0", func() bool {
		return metricValue(t, in.Metrics, "wharf_passive_ports_in_use") == 0
	})
}

func transfersSeries(dir, result string) string {
	return fmt.Sprintf(`wharf_transfers_total{direction=%q,result=%q}`, dir, result)
}

// TestDataConnectionStall: with data_timeout = "1s", a client that opens a
// data connection and then stops reading (RETR) or sending (STOR) loses the
// transfer within a few seconds, frees the passive port and keeps its session;
// a slow but steady client is not cut; a data connection never opened gets its
// reply within data_timeout.
func TestDataConnectionStall(t *testing.T) {
	in, tlsCfg := stallServer(t)
	interrupted := 0.0

	t.Run("RETR never read", func(t *testing.T) {
		for _, mode := range []string{"plain", "TLS", "TLS, no hello"} {
			var cfg *tls.Config
			if mode != "plain" {
				cfg = tlsCfg
			}
			c := stallLogin(t, in, cfg)
			data := c.epsv()
			if code, msg := c.cmd("RETR big.bin"); code != 150 {
				t.Fatalf("%s: RETR: %q", mode, msg)
			}
			start := time.Now()
			if mode == "TLS" {
				tc := tls.Client(data, cfg)
				_ = tc.SetDeadline(time.Now().Add(stallBound))
				if err := tc.Handshake(); err != nil {
					t.Fatalf("data handshake: %v", err)
				}
				data = tc
			}
			// then the client reads nothing
			expectCut(t, c, start)
			expectClosed(t, data)
			interrupted++
			servertest.WaitFor(t, stallBound, "the transfer counted interrupted", func() bool {
				return metricValue(t, in.Metrics, transfersSeries("download", "interrupted")) == interrupted
			})
			waitPortsFree(t, in)
			c.expect("NOOP", 200) // the session goes on
			quit(c)
		}
		logs := in.Logs.String()
		for _, want := range []string{"data connection stalled", "interrupted"} {
			if !strings.Contains(logs, want) {
				t.Errorf("the log has no %q", want)
			}
		}
	})

	t.Run("STOR stalls", func(t *testing.T) {
		up := filepath.Join(in.Dir, "alice", "up")
		writeFile(t, filepath.Join(up, "keep.txt"), "precious\n")
		c := stallLogin(t, in, nil)
		data := c.epsv()
		if code, msg := c.cmd("STOR up/keep.txt"); code != 150 {
			t.Fatalf("STOR: %q", msg)
		}
		_ = data.SetWriteDeadline(time.Now().Add(stallBound))
		if _, err := data.Write(make([]byte, 100_000)); err != nil { // then nothing, without closing
			t.Fatal(err)
		}
		expectCut(t, c, time.Now())
		expectClosed(t, data)
		if got := readFile(t, filepath.Join(up, "keep.txt")); got != "precious\n" {
			t.Fatalf("keep.txt = %q after a stalled upload", got)
		}
		entries, err := os.ReadDir(up)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("files left beside keep.txt: %v", entries)
		}
		if v := metricValue(t, in.Metrics, transfersSeries("upload", "interrupted")); v != 1 {
			t.Fatalf("interrupted uploads = %v, want 1", v)
		}
		waitPortsFree(t, in)
		c.expect("NOOP", 200)
		quit(c)
	})

	t.Run("slow but steady RETR", func(t *testing.T) {
		// 256 KiB every 100 ms (2.5 MiB/s) for 3 s, through a small receive
		// buffer: over twice the slowest rate that counts as moving, one 1 MiB
		// zero-copy chunk per data_timeout (fs.Options.StallTimeout).
		c := stallLogin(t, in, nil)
		data := dialData(t, c, 64<<10)
		if code, msg := c.cmd("RETR big.bin"); code != 150 {
			t.Fatalf("RETR: %q", msg)
		}
		buf := make([]byte, 256<<10)
		var got int64
		tick := time.NewTicker(100 * time.Millisecond)
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
			<-tick.C
			_ = data.SetReadDeadline(time.Now().Add(stallBound))
			n, err := io.ReadFull(data, buf)
			got += int64(n)
			if err != nil {
				t.Fatalf("slow client cut after %d bytes: %v", got, err)
			}
		}
		tick.Stop()
		_ = data.SetReadDeadline(time.Now().Add(stallBound))
		n, err := io.Copy(io.Discard, data) // then the rest at full speed
		got += n
		if err != nil || got != 64<<20 {
			t.Fatalf("slow client got %d bytes: %v", got, err)
		}
		if code, msg := c.read(); code != 226 {
			t.Fatalf("end of the slow transfer: %q", msg)
		}
		if v := metricValue(t, in.Metrics, transfersSeries("download", "complete")); v != 1 {
			t.Fatalf("complete downloads = %v, want 1", v)
		}
		quit(c)
	})

	t.Run("PASV never connected", func(t *testing.T) {
		c := stallLogin(t, in, nil)
		c.expect("PASV", 227)
		start := time.Now()
		code, msg := c.cmd("RETR hello.txt") // the client never connects
		if took := time.Since(start); took > stallTimeout+3*time.Second {
			t.Fatalf("reply after %v (data_timeout %v)", took, stallTimeout)
		}
		if code != 425 {
			t.Fatalf("RETR without a data connection: %q, want 425", msg)
		}
		data := c.epsv() // the session goes on
		if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
			t.Fatalf("RETR after the timeout: %q", got)
		}
		quit(c)
		waitPortsFree(t, in)
	})
}
