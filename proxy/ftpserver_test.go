package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/wharf-ftp/wharf/internal/testkit"
)

// libDriver runs ftpserverlib over wrapped control and passive listeners,
// the way the server wires them.
type libDriver struct {
	settings *ftpserver.Settings
	opt      Options
	fs       afero.Fs

	mu      sync.Mutex
	remotes []string
}

var (
	_ ftpserver.MainDriver                        = (*libDriver)(nil)
	_ ftpserver.MainDriverExtensionPassiveWrapper = (*libDriver)(nil)
)

func (d *libDriver) GetSettings() (*ftpserver.Settings, error) { return d.settings, nil }
func (d *libDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	d.mu.Lock()
	d.remotes = append(d.remotes, cc.RemoteAddr().String())
	d.mu.Unlock()
	return "ready", nil
}
func (d *libDriver) ClientDisconnected(ftpserver.ClientContext) {}
func (d *libDriver) GetTLSConfig() (*tls.Config, error)         { return nil, errors.New("no tls") }
func (d *libDriver) AuthUser(ftpserver.ClientContext, string, string) (ftpserver.ClientDriver, error) {
	return d.fs, nil
}
func (d *libDriver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	return Wrap(l, d.opt), nil
}

func startLib(t *testing.T) (*libDriver, string) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Timeout: 2 * time.Second}
	d := &libDriver{opt: opt, fs: afero.NewMemMapFs()}
	d.settings = &ftpserver.Settings{
		Listener:          Wrap(raw, opt),
		PublicHost:        "127.0.0.1",
		ConnectionTimeout: 5,
	}
	srv := ftpserver.NewFtpServer(d)
	testkit.Serve(t, srv)
	return d, raw.Addr().String()
}

// ftpClient is a raw transcript client.
type ftpClient struct {
	*textproto.Conn
	t *testing.T
}

func (c ftpClient) cmd(line string, code int) string {
	c.t.Helper()
	if err := c.PrintfLine("%s", line); err != nil {
		c.t.Fatal(err)
	}
	_, msg, err := c.ReadResponse(code)
	if err != nil {
		c.t.Fatalf("%s: %v", line, err)
	}
	return msg
}

func newClient(t *testing.T, conn net.Conn) ftpClient {
	_ = conn.SetDeadline(time.Now().Add(waitDeadline))
	c := ftpClient{textproto.NewConn(conn), t}
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	return c
}

// epsvPort parses "Entering Extended Passive Mode (|||port|)".
func epsvPort(t *testing.T, msg string) int {
	t.Helper()
	var port int
	i := strings.Index(msg, "(|||")
	if i < 0 {
		t.Fatalf("EPSV reply %q", msg)
	}
	if _, err := fmt.Sscanf(msg[i:], "(|||%d|)", &port); err != nil {
		t.Fatalf("EPSV reply %q: %v", msg, err)
	}
	return port
}

func TestFTPServerLib(t *testing.T) {
	d, addr := startLib(t)

	t.Run("untrusted PROXY line: 500", func(t *testing.T) {
		c := newClient(t, dial(t, "127.0.0.2", addr))
		c.cmd("PROXY TCP4 192.0.2.7 198.51.100.1 40000 21", 500)
		c.cmd("NOOP", 200)
	})

	t.Run("through the balancer: the client's address, passive data checked", func(t *testing.T) {
		conn := dial(t, "127.0.0.1", addr)
		write(t, conn, "PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n")
		c := newClient(t, conn)
		c.cmd("USER alice", 331)
		c.cmd("PASS x", 230)
		c.cmd("TYPE I", 200)

		// An upload whose first bytes travel with the data connection's
		// header.
		payload := strings.Repeat("wharf ", 50000)
		port := epsvPort(t, c.cmd("EPSV", 229))
		data := dial(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
		if err := c.PrintfLine("STOR up.txt"); err != nil {
			t.Fatal(err)
		}
		write(t, data, "PROXY TCP4 192.0.2.7 198.51.100.1 40001 50000\r\n"+payload[:100])
		if _, _, err := c.ReadResponse(150); err != nil {
			t.Fatal(err)
		}
		write(t, data, payload[100:])
		_ = data.Close()
		if _, _, err := c.ReadResponse(226); err != nil {
			t.Fatal(err)
		}
		got, err := afero.ReadFile(d.fs, "/up.txt")
		if err != nil || string(got) != payload {
			t.Fatalf("stored %d bytes (%v), want %d", len(got), err, len(payload))
		}

		// A download.
		port = epsvPort(t, c.cmd("EPSV", 229))
		data = dial(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
		write(t, data, v2(0x21, 0x11, ap("192.0.2.7:40002"), ap("198.51.100.1:50000"), nil))
		if err := c.PrintfLine("RETR up.txt"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadResponse(150); err != nil {
			t.Fatal(err)
		}
		_ = data.SetReadDeadline(time.Now().Add(waitDeadline))
		b, err := io.ReadAll(data)
		if err != nil || string(b) != payload {
			t.Fatalf("retrieved %d bytes (%v), want %d", len(b), err, len(payload))
		}
		if _, _, err := c.ReadResponse(226); err != nil {
			t.Fatal(err)
		}

		// A data connection for another client behind the same balancer
		// fails the data-peer check.
		port = epsvPort(t, c.cmd("EPSV", 229))
		data = dial(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
		write(t, data, "PROXY TCP4 192.0.2.8 198.51.100.1 40003 50000\r\n")
		if err := c.PrintfLine("RETR up.txt"); err != nil {
			t.Fatal(err)
		}
		if code, msg, _ := c.ReadResponse(0); code != 425 {
			t.Fatalf("RETR over another client's data connection: %d %s, want 425", code, msg)
		}
		c.cmd("QUIT", 221)
	})

	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.remotes) != 2 || !strings.HasPrefix(d.remotes[0], "127.0.0.2:") || d.remotes[1] != "192.0.2.7:40000" {
		t.Errorf("ClientConnected saw %v", d.remotes)
	}
}
