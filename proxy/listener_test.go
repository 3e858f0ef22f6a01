package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var v2sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// v2 builds a PROXY v2 header: command 0x20 (LOCAL) or 0x21 (PROXY), family
// byte, then the address block and TLVs.
func v2(cmd, fam byte, src, dst netip.AddrPort, tlvs []byte) string {
	var block []byte
	if src.IsValid() {
		block = append(block, src.Addr().AsSlice()...)
		block = append(block, dst.Addr().AsSlice()...)
		block = binary.BigEndian.AppendUint16(block, src.Port())
		block = binary.BigEndian.AppendUint16(block, dst.Port())
	}
	block = append(block, tlvs...)
	h := append([]byte{}, v2sig...)
	h = append(h, cmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(block)))
	return string(append(h, block...))
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

func TestHeaders(t *testing.T) {
	f := newFixture(t, Options{})
	cases := []struct {
		name       string
		header     string
		remote     string
		dest       string
		version    int
		healthLike bool
	}{
		{name: "v1 TCP4", header: "PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n",
			remote: "192.0.2.7:40000", dest: "198.51.100.1:21", version: 1},
		{name: "v1 TCP6", header: "PROXY TCP6 2001:db8::7 2001:db8::1 40001 2121\r\n",
			remote: "[2001:db8::7]:40001", dest: "[2001:db8::1]:2121", version: 1},
		{name: "v2 TCP4", header: v2(0x21, 0x11, ap("192.0.2.8:40002"), ap("198.51.100.1:21"), nil),
			remote: "192.0.2.8:40002", dest: "198.51.100.1:21", version: 2},
		{name: "v2 TCP6", header: v2(0x21, 0x21, ap("[2001:db8::8]:40003"), ap("[2001:db8::1]:990"), nil),
			remote: "[2001:db8::8]:40003", dest: "[2001:db8::1]:990", version: 2},
		{name: "v2 TCP6 mapped", header: v2(0x21, 0x21, ap("[::ffff:192.0.2.9]:40004"), ap("[::ffff:198.51.100.1]:21"), nil),
			remote: "192.0.2.9:40004", dest: "198.51.100.1:21", version: 2},
		{name: "v2 TCP4 with TLVs", header: v2(0x21, 0x11, ap("192.0.2.10:40005"), ap("198.51.100.1:21"),
			[]byte{0x04, 0x00, 0x03, 'a', 'b', 'c', 0x01, 0x00, 0x03, 'f', 't', 'p'}),
			remote: "192.0.2.10:40005", dest: "198.51.100.1:21", version: 2},
		{name: "v2 LOCAL", header: v2(0x20, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil), version: 2, healthLike: true},
		{name: "v1 UNKNOWN", header: "PROXY UNKNOWN\r\n", version: 1, healthLike: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := dial(t, "127.0.0.1", f.addr())
			// The header and the first bytes in one write: the bytes read
			// past the header must come first.
			write(t, client, tc.header+"hello ")
			c := f.next(t)
			pc, ok := c.(*Conn)
			if !ok {
				t.Fatalf("accepted %T, want *proxy.Conn", c)
			}
			if _, ok := c.(Stream); !ok {
				t.Fatal("not a Stream")
			}
			peer := client.LocalAddr().String()
			want := tc.remote
			if tc.healthLike {
				want = peer
			}
			if got := c.RemoteAddr().String(); got != want {
				t.Errorf("RemoteAddr = %s, want %s", got, want)
			}
			if got := pc.Balancer().String(); got != peer {
				t.Errorf("Balancer = %s, want %s", got, peer)
			}
			if b, ok := Balancer(c); !ok || b.String() != peer {
				t.Errorf("Balancer(c) = %v %v", b, ok)
			}
			if got := c.LocalAddr().String(); got != f.addr() {
				t.Errorf("LocalAddr = %s, want the real local address %s", got, f.addr())
			}
			dest, ok := pc.Destination()
			if tc.healthLike {
				if ok || !pc.HealthCheck() {
					t.Errorf("health check: Destination %v %v, HealthCheck %v", dest, ok, pc.HealthCheck())
				}
			} else if !ok || dest.String() != tc.dest || pc.HealthCheck() {
				t.Errorf("Destination = %v %v, want %s; HealthCheck %v", dest, ok, tc.dest, pc.HealthCheck())
			}
			if pc.Version() != tc.version {
				t.Errorf("Version = %d, want %d", pc.Version(), tc.version)
			}
			// Bytes both ways.
			write(t, client, "world\r\n")
			if got := readN(t, c, len("hello world\r\n")); got != "hello world\r\n" {
				t.Errorf("server read %q", got)
			}
			if pc.Buffered() != 0 {
				t.Errorf("Buffered = %d after reading everything", pc.Buffered())
			}
			write(t, c, "220 ready\r\n")
			if got := readN(t, client, len("220 ready\r\n")); got != "220 ready\r\n" {
				t.Errorf("client read %q", got)
			}
		})
	}
	if n := f.refused.count(); n != 0 {
		t.Errorf("%d refusals", n)
	}
}

// TestWriteTo: io.Copy from the connection (an upload) gets the bytes that
// came with the header, then the rest, through WriteTo; a file as the
// destination and the source (sendfile) both work.
func TestWriteToAndReadFrom(t *testing.T) {
	f := newFixture(t, Options{})
	client := dial(t, "127.0.0.1", f.addr())
	payload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	go func() {
		_, _ = client.Write(append([]byte("PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n"), payload[:100]...))
		_, _ = client.Write(payload[100:])
		_ = client.CloseWrite()
	}()
	c := f.next(t)
	if c.(*Conn).Buffered() == 0 {
		t.Log("no byte arrived with the header: the buffered path is not exercised")
	}
	dir := t.TempDir()
	up, err := os.Create(filepath.Join(dir, "up"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitDeadline))
	n, err := io.Copy(up, c)
	if err != nil || n != int64(len(payload)) {
		t.Fatalf("upload: %d bytes, %v", n, err)
	}
	_ = up.Close()
	got, _ := os.ReadFile(filepath.Join(dir, "up"))
	if !bytes.Equal(got, payload) {
		t.Fatal("upload bytes differ")
	}

	// The download direction: a file into the connection (ReadFrom).
	down, err := os.Open(filepath.Join(dir, "up"))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	done := make(chan []byte, 1)
	go func() {
		_ = client.SetReadDeadline(time.Now().Add(waitDeadline))
		b, _ := io.ReadAll(client)
		done <- b
	}()
	if n, err := io.Copy(c, down); err != nil || n != int64(len(payload)) {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	_ = c.(Stream).CloseWrite()
	if b := <-done; !bytes.Equal(b, payload) {
		t.Fatalf("download: client got %d bytes, want %d", len(b), len(payload))
	}
}

// TestBufferedByteByByte reads the bytes that arrived with the header one at
// a time.
func TestBufferedByteByByte(t *testing.T) {
	f := newFixture(t, Options{})
	client := dial(t, "127.0.0.1", f.addr())
	write(t, client, v2(0x21, 0x11, ap("192.0.2.7:1"), ap("192.0.2.1:2"), nil)+"USER a\r\n")
	c := f.next(t)
	var got []byte
	one := make([]byte, 1)
	for range len("USER a\r\n") {
		n, err := c.Read(one)
		if err != nil || n != 1 {
			t.Fatalf("read: %d %v", n, err)
		}
		got = append(got, one[0])
	}
	if string(got) != "USER a\r\n" {
		t.Fatalf("read %q", got)
	}
}

func TestUntrustedPassThrough(t *testing.T) {
	f := newFixture(t, Options{})
	client := dial(t, "127.0.0.2", f.addr())
	line := "PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\nUSER alice\r\n"
	write(t, client, line)
	c := f.next(t)
	if _, ok := c.(*net.TCPConn); !ok {
		t.Fatalf("a direct client is accepted as %T, want the *net.TCPConn itself", c)
	}
	if got, want := c.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr = %s, want %s", got, want)
	}
	if _, ok := Balancer(c); ok {
		t.Error("a direct client has a balancer")
	}
	if got := readN(t, c, len(line)); got != line {
		t.Errorf("read %q, want the bytes intact", got)
	}
	if n := f.refused.count(); n != 0 {
		t.Errorf("%d refusals", n)
	}
}

func TestTrustedWithoutHeader(t *testing.T) {
	f := newFixture(t, Options{Timeout: 200 * time.Millisecond})

	t.Run("silent: closed after the timeout, reported", func(t *testing.T) {
		client := dial(t, "127.0.0.1", f.addr())
		start := time.Now()
		expectClosed(t, client)
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("closed after %v, before the timeout", d)
		}
		if got := f.refused.next(t); got != "127.0.0.1 refused_proxy" {
			t.Errorf("refusal %q", got)
		}
	})
	t.Run("an FTP command: closed at once, reported", func(t *testing.T) {
		client := dial(t, "127.0.0.1", f.addr())
		write(t, client, "USER alice\r\n")
		expectClosed(t, client)
		if got := f.refused.next(t); got != "127.0.0.1 refused_proxy" {
			t.Errorf("refusal %q", got)
		}
	})
	t.Run("a bad header: closed, reported", func(t *testing.T) {
		client := dial(t, "127.0.0.1", f.addr())
		write(t, client, "PROXY TCP4 192.0.2.999 198.51.100.1 40000 21\r\n")
		expectClosed(t, client)
		if got := f.refused.next(t); got != "127.0.0.1 refused_proxy" {
			t.Errorf("refusal %q", got)
		}
	})
	t.Run("half a header then silence: closed after the timeout", func(t *testing.T) {
		client := dial(t, "127.0.0.1", f.addr())
		write(t, client, string(v2sig[:8]))
		expectClosed(t, client)
		if got := f.refused.next(t); got != "127.0.0.1 refused_proxy" {
			t.Errorf("refusal %q", got)
		}
	})
	t.Run("a UDP header: refused", func(t *testing.T) {
		client := dial(t, "127.0.0.1", f.addr())
		write(t, client, v2(0x21, 0x12, ap("192.0.2.7:1"), ap("192.0.2.1:2"), nil))
		expectClosed(t, client)
		if got := f.refused.next(t); got != "127.0.0.1 refused_proxy" {
			t.Errorf("refusal %q", got)
		}
	})
	t.Run("closed by the peer before a byte: quiet", func(t *testing.T) {
		before := f.refused.count()
		client := dial(t, "127.0.0.1", f.addr())
		eventually(t, "the connection to wait for its header", func() bool { return f.l.Pending() == 1 })
		_ = client.Close()
		eventually(t, "the connection to be dropped", func() bool { return f.l.Pending() == 0 })
		if n := f.refused.count(); n != before {
			t.Errorf("a connection closed by its peer was reported as refused")
		}
	})
	select {
	case c := <-f.accepted:
		t.Errorf("accepted %v", c.RemoteAddr())
	default:
	}
}

// TestSilentDoNotDelay: twenty silent trusted connections waiting for their
// header do not delay a client with a header, nor a direct one.
func TestSilentDoNotDelay(t *testing.T) {
	f := newFixture(t, Options{Timeout: time.Minute})
	var silent []*net.TCPConn
	for range 20 {
		silent = append(silent, dial(t, "127.0.0.1", f.addr()))
	}
	eventually(t, "20 connections waiting", func() bool { return f.l.Pending() == 20 })

	good := dial(t, "127.0.0.1", f.addr())
	write(t, good, "PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n")
	c := f.next(t)
	if got := c.RemoteAddr().String(); got != "192.0.2.7:40000" {
		t.Fatalf("first accepted: %s, want the one with a header", got)
	}
	direct := dial(t, "127.0.0.2", f.addr())
	c = f.next(t)
	if got, want := c.RemoteAddr().String(), direct.LocalAddr().String(); got != want {
		t.Fatalf("accepted %s, want the direct client %s", got, want)
	}
	if n := f.l.Pending(); n != 20 {
		t.Fatalf("Pending = %d, want the 20 silent ones still waiting", n)
	}

	// One of the silent ones speaks at last: it comes next.
	write(t, silent[7], v2(0x21, 0x11, ap("192.0.2.8:40008"), ap("198.51.100.1:21"), nil))
	if got := f.next(t).RemoteAddr().String(); got != "192.0.2.8:40008" {
		t.Fatalf("accepted %s", got)
	}
	if n := f.refused.count(); n != 0 {
		t.Errorf("%d refusals", n)
	}
}

// TestCloseWithPending: Close closes the connections waiting for a header,
// reports no refusal, and leaves no goroutine behind.
func TestCloseWithPending(t *testing.T) {
	base := runtime.NumGoroutine()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := newRefusals()
	l := Wrap(raw, Options{
		Trusted:   []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Timeout:   time.Minute,
		OnRefused: refused.record,
	})
	accepted := make(chan error, 1)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				accepted <- err
				return
			}
			_ = c.Close()
		}
	}()
	var clients []*net.TCPConn
	for range 5 {
		clients = append(clients, dial(t, "127.0.0.1", l.Addr().String()))
	}
	eventually(t, "5 connections waiting", func() bool { return l.Pending() == 5 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		expectClosed(t, c)
	}
	select {
	case err := <-accepted:
		if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "use of closed network connection") {
			t.Errorf("Accept after Close: %v", err)
		}
	case <-time.After(waitDeadline):
		t.Fatal("Accept did not return after Close")
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := refused.count(); n != 0 {
		t.Errorf("%d refusals reported for connections closed by Close", n)
	}
	eventually(t, "the listener's goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

func TestMaxPending(t *testing.T) {
	f := newFixture(t, Options{Timeout: time.Minute, MaxPending: 2})
	dial(t, "127.0.0.1", f.addr())
	dial(t, "127.0.0.1", f.addr())
	eventually(t, "2 connections waiting", func() bool { return f.l.Pending() == 2 })
	third := dial(t, "127.0.0.1", f.addr())
	expectClosed(t, third)
	if got := f.refused.next(t); got != "127.0.0.1 refused_proxy" {
		t.Errorf("refusal %q", got)
	}
	// A direct client still gets through.
	direct := dial(t, "127.0.0.2", f.addr())
	if got, want := f.next(t).RemoteAddr().String(), direct.LocalAddr().String(); got != want {
		t.Errorf("accepted %s, want %s", got, want)
	}
}

func TestSetTrusted(t *testing.T) {
	f := newFixture(t, Options{})
	f.l.SetTrusted([]netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	c := dial(t, "127.0.0.2", f.addr())
	write(t, c, "PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n")
	if got := f.next(t).RemoteAddr().String(); got != "192.0.2.7:40000" {
		t.Errorf("RemoteAddr = %s", got)
	}
	d := dial(t, "127.0.0.1", f.addr())
	if got, want := f.next(t).RemoteAddr().String(), d.LocalAddr().String(); got != want {
		t.Errorf("127.0.0.1 is no longer trusted: RemoteAddr = %s, want %s", got, want)
	}
}

// TestAcceptDeadline: a deadline on the listener (as ftpserverlib sets on a
// passive listener) makes Accept return a timeout.
func TestAcceptDeadline(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(raw, Options{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	defer l.Close()
	if err := l.SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err = l.Accept()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Accept: %v, want a timeout", err)
	}
}

// TestInnerClosed: the listener under it closed by someone else ends Accept
// the way a closed listener does.
func TestInnerClosed(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Wrap(raw, Options{})
	errc := make(chan error, 1)
	go func() { _, err := l.Accept(); errc <- err }()
	_ = raw.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept: %v", err)
		}
	case <-time.After(waitDeadline):
		t.Fatal("Accept did not return")
	}
	_ = l.Close()
}

func TestFrom(t *testing.T) {
	pc := &Conn{balancer: ap("10.0.0.1:5000")}
	w := wrapped{wrapped{pc}}
	if got, ok := From(w); !ok || got != pc {
		t.Fatal("From does not find the *Conn through NetConn")
	}
	if b, ok := Balancer(w); !ok || b != ap("10.0.0.1:5000") {
		t.Fatalf("Balancer = %v %v", b, ok)
	}
	if _, ok := From(&net.TCPConn{}); ok {
		t.Fatal("From found a *Conn in a direct connection")
	}
}

type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// TestHealthCheckV1: HAProxy's v1 health checks name the check connection
// itself; such a connection is the balancer's own.
func TestHealthCheckV1(t *testing.T) {
	f := newFixture(t, Options{})
	client := dial(t, "127.0.0.1", f.addr())
	self := client.LocalAddr().(*net.TCPAddr)
	write(t, client, fmt.Sprintf("PROXY TCP4 127.0.0.1 127.0.0.1 %d %d\r\n", self.Port, f.l.Addr().(*net.TCPAddr).Port))
	c := f.next(t).(*Conn)
	if !c.HealthCheck() || c.RemoteAddr().String() != self.String() {
		t.Fatalf("HealthCheck %v, RemoteAddr %s", c.HealthCheck(), c.RemoteAddr())
	}
}

// TestSpliceKeepsBufferedBytes: *os.File.ReadFrom splices straight from the
// socket of a reader that is a syscall.Conn (wharf's upload path hands it an
// *io.LimitedReader around the connection); the bytes that came with the
// header must not be skipped.
func TestSpliceKeepsBufferedBytes(t *testing.T) {
	f := newFixture(t, Options{})
	payload := bytes.Repeat([]byte("splice me "), 100000) // ~1 MB
	for _, limited := range []bool{false, true} {
		client := dial(t, "127.0.0.1", f.addr())
		go func() {
			_, _ = client.Write(append([]byte("PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n"), payload[:100]...))
			_, _ = client.Write(payload[100:])
			_ = client.CloseWrite()
		}()
		c := f.next(t).(*Conn)
		eventually(t, "bytes after the header", func() bool { return c.Buffered() > 0 })
		// Socket options still work while bytes are buffered.
		if rc, err := c.SyscallConn(); err != nil {
			t.Fatal(err)
		} else if err := rc.Control(func(uintptr) {}); err != nil {
			t.Fatalf("Control: %v", err)
		}
		up, err := os.Create(filepath.Join(t.TempDir(), "up"))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(waitDeadline))
		var r io.Reader = c
		if limited {
			r = &io.LimitedReader{R: c, N: int64(len(payload))}
		}
		n, err := up.ReadFrom(r)
		if err != nil || n != int64(len(payload)) {
			t.Fatalf("limited %v: ReadFrom %d bytes, %v; want %d", limited, n, err, len(payload))
		}
		got, _ := os.ReadFile(up.Name())
		_ = up.Close()
		if !bytes.Equal(got, payload) {
			t.Fatalf("limited %v: the file differs from the upload", limited)
		}
		// Drained: the socket's own raw connection again, for splice.
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		own, _ := c.TCPConn.SyscallConn()
		if fmt.Sprintf("%T", rc) != fmt.Sprintf("%T", own) {
			t.Errorf("SyscallConn after draining is a %T, want the socket's %T", rc, own)
		}
	}
}
