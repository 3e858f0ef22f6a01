package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [Options].
const (
	// DefaultTimeout is how long a trusted connection has to send its header
	// ([proxy_protocol] timeout).
	DefaultTimeout = 5 * time.Second
	// DefaultMaxPending bounds the connections waiting for their header.
	DefaultMaxPending = 1024
)

// ReasonRefused is the reason given to [Options].OnRefused, the result label
// of wharf_connections_total for a connection refused here.
const ReasonRefused = "refused_proxy"

// headerBufSize is the read buffer for the header: a v1 line (at most 107
// bytes) must arrive in one read, a v2 header may take several.
const headerBufSize = 256

// Options configure [Wrap].
type Options struct {
	// Trusted are the balancers' networks: a connection from these must open
	// with a PROXY header. Empty: every connection is a direct client.
	Trusted []netip.Prefix
	// Timeout bounds the wait for a header; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxPending bounds the connections waiting for their header at once; 0
	// means DefaultMaxPending. A trusted connection beyond it is refused.
	MaxPending int
	// Logger receives refusals (warn, with their detail) and headers read
	// (debug); nil discards.
	Logger *slog.Logger
	// OnRefused is called (from any goroutine, and must not block) for each
	// trusted connection closed for want of a good header, with the peer's
	// address and [ReasonRefused]. The refusal is already logged.
	OnRefused func(remote netip.Addr, reason string)
}

// Listener is a net.Listener that reads the PROXY header of connections from
// trusted networks before handing them out. See the package documentation
// for what Accept returns.
type Listener struct {
	inner      net.Listener
	trusted    atomic.Pointer[[]netip.Prefix]
	timeout    time.Duration
	maxPending int
	log        *slog.Logger
	onRefused  func(netip.Addr, string)

	ready chan net.Conn // connections ready for Accept (unbuffered)
	errc  chan error    // the inner listener's errors, one per Accept
	done  chan struct{} // closed by Close

	closeOnce sync.Once
	closeErr  error
	wg        sync.WaitGroup // the accept loop and the header readers

	mu      sync.Mutex
	started bool
	closed  bool
	pending map[*net.TCPConn]struct{}
}

// Wrap returns a listener over l that reads the PROXY header of every
// connection from opt.Trusted. It must be the first wrapper over the TCP
// listener. The accept loop starts with the first Accept.
func Wrap(l net.Listener, opt Options) *Listener {
	pl := &Listener{
		inner:      l,
		timeout:    opt.Timeout,
		maxPending: opt.MaxPending,
		log:        opt.Logger,
		onRefused:  opt.OnRefused,
		ready:      make(chan net.Conn),
		errc:       make(chan error),
		done:       make(chan struct{}),
		pending:    make(map[*net.TCPConn]struct{}),
	}
	if pl.timeout <= 0 {
		pl.timeout = DefaultTimeout
	}
	if pl.maxPending <= 0 {
		pl.maxPending = DefaultMaxPending
	}
	if pl.log == nil {
		pl.log = slog.New(slog.DiscardHandler)
	}
	pl.SetTrusted(opt.Trusted)
	return pl
}

// SetTrusted replaces the trusted networks (for a configuration reload); it
// applies to the connections accepted from then on.
func (l *Listener) SetTrusted(trusted []netip.Prefix) {
	ps := make([]netip.Prefix, 0, len(trusted))
	for _, p := range trusted {
		if p.IsValid() {
			ps = append(ps, p.Masked())
		}
	}
	l.trusted.Store(&ps)
}

func (l *Listener) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	return slices.ContainsFunc(*l.trusted.Load(), func(p netip.Prefix) bool { return p.Contains(a) })
}

// Addr is the address of the listener under l.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Pending is the number of connections waiting for their header.
func (l *Listener) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}

// SetDeadline sets the deadline of the listener under l (ftpserverlib sets one
// on a passive listener): Accept then returns its timeout error.
func (l *Listener) SetDeadline(t time.Time) error {
	if d, ok := l.inner.(interface{ SetDeadline(time.Time) error }); ok {
		return d.SetDeadline(t)
	}
	return errors.ErrUnsupported
}

// Accept returns the next connection: a direct client as it arrives, a
// trusted one once its header is read, in the order they become ready. An
// error of the listener under l is returned as it is (once per call); after
// Close, Accept returns an error wrapping net.ErrClosed.
func (l *Listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if !l.started && !l.closed {
		l.started = true
		l.wg.Add(1)
		go l.acceptLoop()
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil, l.errClosed()
	default:
	}
	select {
	case c := <-l.ready:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.done:
		return nil, l.errClosed()
	}
}

// errClosed is the error of a closed listener, in the shape net's own
// listeners give (ftpserverlib stops serving quietly on it).
func (l *Listener) errClosed() error {
	return &net.OpError{Op: "accept", Net: l.inner.Addr().Network(), Addr: l.inner.Addr(), Err: net.ErrClosed}
}

// Close closes the listener under l and the connections waiting for their
// header, and returns once every goroutine of l has ended. A connection not
// yet returned by Accept is closed.
func (l *Listener) Close() error {
	l.shutdown()
	l.wg.Wait()
	return l.closeErr
}

func (l *Listener) shutdown() {
	l.closeOnce.Do(func() {
		close(l.done)
		l.closeErr = l.inner.Close()
		l.mu.Lock()
		l.closed = true
		for c := range l.pending {
			_ = c.Close()
		}
		l.mu.Unlock()
	})
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.shutdown() // closed under us: l is closed too
				return
			}
			// A temporary error or a deadline: the caller decides (backs off,
			// or gives up on a passive listener).
			select {
			case l.errc <- err:
			case <-l.done:
				return
			}
			continue
		}
		l.dispatch(c)
	}
}

// dispatch hands out a direct client at once and starts reading the header
// of a trusted one.
func (l *Listener) dispatch(c net.Conn) {
	peer, ok := peerOf(c.RemoteAddr())
	if !ok || !l.isTrusted(peer.Addr()) {
		l.deliver(c)
		return
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		l.log.Error("proxy protocol needs the TCP listener itself under it", "type", fmt.Sprintf("%T", c))
		l.refuse(c, peer, "not a TCP connection")
		return
	}
	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		_ = c.Close()
		return
	case len(l.pending) >= l.maxPending:
		l.mu.Unlock()
		l.refuse(c, peer, fmt.Sprintf("%d connections already waiting for their PROXY header", l.maxPending))
		return
	}
	l.pending[tc] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	go l.readHeader(tc, peer)
}

// deliver hands c to Accept, or closes it if l closes first.
func (l *Listener) deliver(c net.Conn) {
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// readHeader reads the header of a trusted connection within the timeout and
// delivers the connection, or closes it without a word.
func (l *Listener) readHeader(tc *net.TCPConn, peer netip.AddrPort) {
	defer l.wg.Done()
	c, detail, quiet := l.handshake(tc, peer)
	if c == nil {
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		switch {
		case closed:
			_ = tc.Close()
		case quiet:
			_ = tc.Close()
			l.log.Debug("connection from a trusted network closed before its PROXY header", "remote", peer.Addr().String(), "detail", detail)
		default:
			l.refuse(tc, peer, detail)
		}
	}
	// Leave the pending set only now, so a refusal is reported before
	// Pending goes down.
	l.mu.Lock()
	delete(l.pending, tc)
	l.mu.Unlock()
	if c != nil {
		l.deliver(c)
	}
}

// handshake reads the header; on failure it returns why, and whether the
// peer simply went away before sending a byte (no refusal to report).
func (l *Listener) handshake(tc *net.TCPConn, peer netip.AddrPort) (c *Conn, detail string, quiet bool) {
	_ = tc.SetReadDeadline(time.Now().Add(l.timeout))
	br := bufio.NewReaderSize(tc, headerBufSize)
	if _, err := br.Peek(1); err != nil {
		if isTimeout(err) {
			return nil, "no PROXY header within " + l.timeout.String(), false
		}
		return nil, err.Error(), true
	}
	h, err := readHeader(br)
	if err != nil {
		if isTimeout(err) {
			return nil, "incomplete PROXY header within " + l.timeout.String(), false
		}
		return nil, "bad PROXY header: " + err.Error(), false
	}
	if err := tc.SetReadDeadline(time.Time{}); err != nil {
		return nil, err.Error(), true
	}
	var rest []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		rest = slices.Clone(b)
	}
	c = newConn(tc, peer, h, rest)
	if c.HealthCheck() {
		l.log.Debug("proxy health check", "proxy", peer.String(), "version", h.version)
	} else {
		l.log.Debug("proxy header", "remote", h.src.String(), "proxy", peer.String(), "version", h.version)
	}
	return c, "", false
}

// refuse closes c without a reply, logs and reports it.
func (l *Listener) refuse(c net.Conn, peer netip.AddrPort, detail string) {
	_ = c.Close()
	l.log.Warn("connection refused", "remote", peer.Addr().String(), "reason", ReasonRefused, "detail", detail)
	if l.onRefused != nil {
		l.onRefused(peer.Addr(), ReasonRefused)
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var _ net.Listener = (*Listener)(nil)
