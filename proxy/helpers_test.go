package proxy

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/testkit"
)

// waitDeadline bounds every wait of the tests.
const waitDeadline = 10 * time.Second

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, waitDeadline, what, cond)
}

// refusals records OnRefused calls.
type refusals struct {
	mu    sync.Mutex
	calls []string // "addr reason"
	ch    chan string
}

func newRefusals() *refusals { return &refusals{ch: make(chan string, 1024)} }

func (r *refusals) record(remote netip.Addr, reason string) {
	s := remote.String() + " " + reason
	r.mu.Lock()
	r.calls = append(r.calls, s)
	r.mu.Unlock()
	r.ch <- s
}

func (r *refusals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// next waits for the next refusal.
func (r *refusals) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.ch:
		return s
	case <-time.After(waitDeadline):
		t.Fatal("no refusal reported")
		return ""
	}
}

// fixture is a wrapped listener on 127.0.0.1:0 trusting 127.0.0.1, with its
// accepted connections on a channel.
type fixture struct {
	l        *Listener
	refused  *refusals
	accepted chan net.Conn
	acceptEr chan error
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{refused: newRefusals(), accepted: make(chan net.Conn, 64), acceptEr: make(chan error, 1)}
	if opt.Trusted == nil {
		opt.Trusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	if opt.OnRefused == nil {
		opt.OnRefused = f.refused.record
	}
	f.l = Wrap(raw, opt)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := f.l.Accept()
			if err != nil {
				f.acceptEr <- err
				return
			}
			f.accepted <- c
		}
	}()
	t.Cleanup(func() {
		_ = f.l.Close()
		select {
		case <-done:
		case <-time.After(waitDeadline):
			t.Error("accept loop still running after Close")
		}
		close(f.accepted)
		for c := range f.accepted {
			_ = c.Close()
		}
	})
	return f
}

func (f *fixture) addr() string { return f.l.Addr().String() }

// next waits for the next accepted connection.
func (f *fixture) next(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-f.accepted:
		t.Cleanup(func() { _ = c.Close() })
		return c
	case err := <-f.acceptEr:
		t.Fatalf("accept: %v", err)
	case <-time.After(waitDeadline):
		t.Fatal("no connection accepted")
	}
	return nil
}

// dial connects from the local address from (e.g. "127.0.0.2") to addr.
func dial(t *testing.T, from, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{Timeout: waitDeadline, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*net.TCPConn)
}

// readN reads exactly n bytes from c, bounded in time.
func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitDeadline))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v (got %q)", n, err, b)
	}
	_ = c.SetReadDeadline(time.Time{})
	return string(b)
}

// expectClosed checks that the server closes c without sending a byte.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitDeadline))
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Fatalf("the server sent %q before closing", b)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection was not closed")
	}
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}
