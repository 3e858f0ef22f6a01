package passive

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"runtime"
	"strings"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"

	"github.com/wharf-ftp/wharf/internal/testkit"
)

// libDriver is the smallest ftpserverlib main driver using Ports and an
// Announcer the way the server does.
type libDriver struct {
	settings *ftpserver.Settings
	ports    *Ports
}

var (
	_ ftpserver.MainDriver                        = (*libDriver)(nil)
	_ ftpserver.MainDriverExtensionPassiveWrapper = (*libDriver)(nil)
)

func (d *libDriver) GetSettings() (*ftpserver.Settings, error)               { return d.settings, nil }
func (d *libDriver) ClientConnected(ftpserver.ClientContext) (string, error) { return "test", nil }
func (d *libDriver) ClientDisconnected(ftpserver.ClientContext)              {}
func (d *libDriver) GetTLSConfig() (*tls.Config, error)                      { return nil, errors.New("no tls") }
func (d *libDriver) AuthUser(ftpserver.ClientContext, string, string) (ftpserver.ClientDriver, error) {
	return afero.NewMemMapFs(), nil
}
func (d *libDriver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	return d.ports.WrapListener(l), nil
}

// startLibServer runs ftpserverlib on listen until the test ends.
func startLibServer(t *testing.T, listen string, ports *Ports, announcer *Announcer) string {
	t.Helper()
	d := &libDriver{ports: ports, settings: &ftpserver.Settings{
		ListenAddr:               listen,
		PassiveTransferPortRange: ports,
		PublicIPResolver:         announcer.PublicIP,
		ConnectionTimeout:        5,
	}}
	srv := ftpserver.NewFtpServer(d)
	testkit.Serve(t, srv)
	return srv.Addr()
}

// ftpSession is a logged-in raw control connection.
type ftpSession struct {
	t    *testing.T
	conn *textproto.Conn
}

// login dials addr from the local address from (nil: any) and logs in.
// The whole session has a deadline.
func login(t *testing.T, addr string, from net.IP) *ftpSession {
	t.Helper()
	d := net.Dialer{Timeout: waitDeadline}
	if from != nil {
		d.LocalAddr = &net.TCPAddr{IP: from}
	}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.SetDeadline(time.Now().Add(4 * waitDeadline))
	conn := textproto.NewConn(raw)
	t.Cleanup(func() { _ = conn.Close() })
	s := &ftpSession{t: t, conn: conn}
	s.expect(220, "greeting")
	s.cmd("USER test", 331)
	s.cmd("PASS test", 230)
	return s
}

// expect reads one reply, failing unless its code is code.
func (s *ftpSession) expect(code int, what string) string {
	s.t.Helper()
	got, msg, err := s.conn.ReadResponse(code)
	if err != nil {
		s.t.Fatalf("%s: got %d %q, %v; want %d", what, got, msg, err, code)
	}
	return msg
}

// cmd sends line and expects code.
func (s *ftpSession) cmd(line string, code int) string {
	s.t.Helper()
	if err := s.conn.PrintfLine("%s", line); err != nil {
		s.t.Fatal(err)
	}
	return s.expect(code, line)
}

// pasvPort sends PASV, checks the announced address and returns the port.
func (s *ftpSession) pasvPort(wantAddr string) int {
	s.t.Helper()
	msg := s.cmd("PASV", 227)
	var h1, h2, h3, h4, p1, p2 int
	if _, err := fmt.Sscanf(msg[strings.Index(msg, "("):], "(%d,%d,%d,%d,%d,%d)", &h1, &h2, &h3, &h4, &p1, &p2); err != nil {
		s.t.Fatalf("cannot parse the 227 reply %q: %v", msg, err)
	}
	if got := fmt.Sprintf("%d.%d.%d.%d", h1, h2, h3, h4); got != wantAddr {
		s.t.Fatalf("PASV announced %s, want %s", got, wantAddr)
	}
	return p1*256 + p2
}

func TestWithFTPServerLib(t *testing.T) {
	r := freeRange(t, 3)
	ports, err := NewPorts(r, PortRange{})
	if err != nil {
		t.Fatal(err)
	}
	announcer := NewAnnouncer(AnnouncerConfig{LocalNetworks: prefixes(t, "127.0.0.0/8"), ExternalAddress: "203.0.113.7"})
	addr := startLibServer(t, "127.0.0.1:0", ports, announcer)

	sessions := make([]*ftpSession, 3)
	used := map[int]int{}
	for i := range sessions {
		sessions[i] = login(t, addr, nil)
		port := sessions[i].pasvPort("127.0.0.1")
		if !r.Contains(port) {
			t.Fatalf("PASV announced port %d outside %v", port, r)
		}
		if _, dup := used[port]; dup {
			t.Fatalf("PASV announced port %d twice", port)
		}
		used[port] = i
	}
	if ports.InUse() != 3 {
		t.Fatalf("InUse() = %d with three passive listeners, want 3", ports.InUse())
	}

	// Every port in use: a 4xx at once, and the session goes on.
	fourth := login(t, addr, nil)
	if msg := fourth.cmd("PASV", 421); strings.Contains(strings.ToLower(msg), "ftpserver") {
		t.Errorf("the refusal names the library: %q", msg)
	}
	if ports.Exhausted() != 1 {
		t.Fatalf("Exhausted() = %d after one refused PASV, want 1", ports.Exhausted())
	}
	fourth.cmd("NOOP", 200)
	fourth.cmd("EPSV", 421)
	if ports.Exhausted() != 2 {
		t.Fatalf("Exhausted() = %d after two refused attempts, want 2", ports.Exhausted())
	}

	// A session leaving frees its port for the next PASV.
	var freed int
	for port, i := range used {
		if i == 0 {
			freed = port
		}
	}
	sessions[0].cmd("QUIT", 221)
	eventually(t, "the port to be released", func() bool { return ports.InUse() == 2 })
	if got := fourth.pasvPort("127.0.0.1"); got != freed {
		t.Fatalf("PASV after a release announced %d, want the freed port %d", got, freed)
	}

	// A client that is not local is told the external address: dial from
	// another loopback address, outside the new local networks.
	announcer.Update(AnnouncerConfig{LocalNetworks: prefixes(t, "127.0.0.1/32"), ExternalAddress: "203.0.113.7"})
	other := login(t, addr, net.IPv4(127, 0, 0, 2))
	sessions[1].cmd("QUIT", 221)
	eventually(t, "a port to be released", func() bool { return ports.InUse() == 2 })
	other.pasvPort("203.0.113.7")
}

func TestWithFTPServerLibMapped(t *testing.T) {
	r := freeRange(t, 2)
	announced := PortRange{First: 40000, Last: 40001}
	ports, err := NewPorts(r, announced)
	if err != nil {
		t.Fatal(err)
	}
	addr := startLibServer(t, "127.0.0.1:0", ports, NewAnnouncer(AnnouncerConfig{ExternalAddress: "203.0.113.7"}))
	s := login(t, addr, nil)
	for _, cmd := range []string{"EPSV", "PASV"} {
		var port int
		if cmd == "EPSV" {
			msg := s.cmd(cmd, 229)
			if _, err := fmt.Sscanf(msg[strings.Index(msg, "("):], "(|||%d|)", &port); err != nil {
				t.Fatalf("cannot parse the 229 reply %q: %v", msg, err)
			}
		} else {
			port = s.pasvPort("203.0.113.7")
		}
		if !announced.Contains(port) {
			t.Fatalf("%s announced port %d, want one of %v", cmd, port, announced)
		}
		// The listened port matching the announced one is the one in use.
		listened := r.First + port - announced.First
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", listened)); err == nil {
			_ = l.Close()
			t.Fatalf("%s announced %d but its listened port %d is not bound", cmd, port, listened)
		}
		// The library closes the previous listener just after its reply.
		eventually(t, "one port in use", func() bool { return ports.InUse() == 1 })
	}
}

func TestWithFTPServerLibIPv6PASV(t *testing.T) {
	probe, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	_ = probe.Close()
	r := freeRange(t, 2)
	ports, err := NewPorts(r, PortRange{})
	if err != nil {
		t.Fatal(err)
	}
	announcer := NewAnnouncer(AnnouncerConfig{LocalNetworks: prefixes(t, "::1/128")})
	addr := startLibServer(t, "[::1]:0", ports, announcer)

	s := login(t, addr, nil)
	for range 3 { // more than the range: the dropped listeners are freed
		msg := s.cmd("PASV", 421)
		if !strings.Contains(msg, "use EPSV") {
			t.Fatalf("PASV over IPv6 replied %q, want a hint to use EPSV", msg)
		}
		deadline := time.Now().Add(waitDeadline)
		for ports.InUse() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the listener of a failed PASV kept its port")
			}
			runtime.GC()
			time.Sleep(time.Millisecond) // let the cleanup goroutine run; polled with a deadline
		}
	}
	s.cmd("EPSV", 229)
}
