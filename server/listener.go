package server

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wharf-ftp/wharf/proxy"
)

// refusalWriteTimeout bounds how long a refused client may take to receive its 421.
const refusalWriteTimeout = 2 * time.Second

// maxConcurrentRefusals bounds the goroutines writing 421 replies during a flood;
// beyond it, refused connections are closed at once.
const maxConcurrentRefusals = 64

// gate is the listener ftpserverlib accepts from. It refuses banned, filtered and
// over-limit connections with a 421 before the library sees them, and wraps the
// others in a controlConn (implicit listeners also in TLS).
type gate struct {
	net.Listener
	s       *Server
	mode    string // tlsModeExplicit or tlsModeImplicit
	refuseN atomic.Int32
}

func (g *gate) Accept() (net.Conn, error) {
	for {
		c, err := g.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrOf(c.RemoteAddr())
		result, text, release := g.s.admit(addr)
		if result != connAccepted {
			g.refuse(c, addr, result, text)
			continue
		}
		cc := &controlConn{Conn: c, mode: g.mode, addr: addr, release: func() {
			release()
			g.s.metrics.connections.Dec()
		}}
		g.s.metrics.connections.Inc()
		g.s.reg.expect(connKey(c.RemoteAddr(), c.LocalAddr()), cc)
		if g.mode == tlsModeImplicit {
			tc := g.s.implicitTLS(cc)
			cc.setReplies(tc)
			return tc, nil
		}
		cc.setReplies(cc)
		if a := g.s.state().cfg.Active; a.Enabled && a.UseControlAddress {
			cc.rewrite = portRewriter(addr)
		}
		return cc, nil
	}
}

// refuse answers 421 with a reason and closes, without blocking the accept loop.
func (g *gate) refuse(c net.Conn, addr netip.Addr, result, text string) {
	g.s.metrics.connectionsTotal.WithLabelValues(result).Inc()
	g.s.log.Warn("connection refused", "remote", addr.String(), "reason", result, "detail", text)
	if g.refuseN.Add(1) > maxConcurrentRefusals {
		g.refuseN.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer g.refuseN.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refusalWriteTimeout))
		var w io.Writer = c
		if g.mode == tlsModeImplicit {
			rc := &refusedConn{Conn: c}
			rc.tlsState.Store(hsWatched)
			tc := tls.Server(rc, g.s.baseTLS)
			if g.s.watchHandshake(tc, &rc.tlsState, tlsModeImplicit, refusalWriteTimeout) != nil {
				return
			}
			w = tc
		}
		_, _ = io.WriteString(w, "421 "+text+"\r\n")
	}()
}

// controlConn is an accepted control connection: it remembers its listener mode
// (for TLS metrics), whether a read timed out (idle before login), and frees its
// slot in the connection tracker exactly once.
type controlConn struct {
	net.Conn
	mode     string
	addr     netip.Addr
	release  func()
	once     sync.Once
	timedOut atomic.Bool
	tlsState atomic.Int32 // 0 none, 1 handshake started, 2 verified
	lastRead atomic.Int64 // unix nanoseconds of the last bytes from the client

	// Line scanning while the stream is in clear (explicit listeners, before
	// AUTH; see controlscan.go).
	line      []byte                   // the command line being read
	out       []byte                   // complete lines for ftpserverlib
	readErr   error                    // a read error to return once out is drained
	encrypted bool                     // an AUTH command went by: the rest is TLS, opaque here
	tooLong   bool                     // a line was too long: the stream ends
	pending   []byte                   // read but not scanned yet: a refused PROT line and what followed it
	rewrite   func(line []byte) []byte // PORT/EPRT rewriting ([active] use_control_address), nil = none

	// replies is where a reply of wharf's own goes (a 421 before the server
	// closes the session): the connection itself in clear, the TLS connection
	// over it once there is one (implicit at once, explicit from USER on).
	replies atomic.Pointer[net.Conn]
}

// say writes a reply of wharf's own, bounded in time; it reports whether the
// reply could be written (not when the session has a TLS layer wharf has not
// seen yet).
func (c *controlConn) say(code int, text string) bool {
	w := c.replies.Load()
	if w == nil {
		return false
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	_, err := io.WriteString(*w, strconv.Itoa(code)+" "+text+"\r\n")
	return err == nil
}

func (c *controlConn) setReplies(w net.Conn) { c.replies.Store(&w) }

func (c *controlConn) Read(b []byte) (int, error) {
	if len(c.out) > 0 {
		n := copy(b, c.out)
		c.out = c.out[n:]
		return n, nil
	}
	if c.tooLong {
		return 0, io.EOF
	}
	if c.mode != tlsModeExplicit || c.encrypted {
		n, err := c.Conn.Read(b)
		return n, c.noteRead(n, err)
	}
	// In clear: whole command lines go on, checked and perhaps rewritten.
	for len(c.out) == 0 && !c.tooLong {
		if len(c.pending) > 0 {
			p := c.pending
			c.pending = nil
			c.scanClear(p)
			continue
		}
		n, err := c.Conn.Read(b)
		err = c.noteRead(n, err)
		c.scanClear(b[:n])
		if err != nil {
			if len(c.out) == 0 {
				return 0, err
			}
			c.readErr = err
			break
		}
	}
	if c.tooLong && len(c.out) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.out)
	c.out = c.out[n:]
	if len(c.out) == 0 && c.readErr != nil {
		err := c.readErr
		c.readErr = nil
		return n, err
	}
	return n, nil
}

// noteRead records the client's activity and a read timeout.
func (c *controlConn) noteRead(n int, err error) error {
	if n > 0 {
		c.lastRead.Store(time.Now().UnixNano())
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.timedOut.Store(true)
		}
	}
	return err
}

// replyWriteGrace is how long a reply may take to be written beyond the idle
// deadline ftpserverlib sets before each read.
const replyWriteGrace = 30 * time.Second

// SetDeadline is ftpserverlib's idle timeout: it bounds the wait for the next
// command. The library sets it on reads and writes alike, so a command that
// takes longer than idle_timeout to run (a password check on a busy machine)
// would lose its reply; replies get replyWriteGrace more.
func (c *controlConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	if t.IsZero() {
		return c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.SetWriteDeadline(t.Add(replyWriteGrace))
}

// NetConn returns the connection under it (for proxy.From and proxy.Balancer).
func (c *controlConn) NetConn() net.Conn { return c.Conn }

func (c *controlConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// dataConn is an accepted passive data connection. It forwards ReadFrom and
// WriteTo to the TCP connection so the kernel's zero-copy paths survive, and it
// coalesces small writes: ftpserverlib writes a listing one line at a time,
// which would otherwise cost one system call (and one TLS record) per entry.
// A small write waits at most flushDelay before it is sent.
//
// No buffered byte is dropped silently: a failed flush is kept, fails every
// later write and is returned by Close, and a download handle settles its
// result only when Close has sent the last byte (SettleOnClose). A deadline
// change first sends what was written under the old deadline (crypto/tls sets
// the deadline to now right after its close_notify; a flush after that would
// fail).
type dataConn struct {
	proxy.Stream // the TCP connection, or a proxy.Conn from a trusted balancer
	tlsState     atomic.Int32
	strictEOF    bool // [tls] strict_upload_eof, read when the connection was accepted
	onClose      func(*dataConn)
	onCut        func(*dataConn) // a TLS upload ended without close_notify
	once         sync.Once

	mu       sync.Mutex
	buf      []byte
	timer    *time.Timer
	werr     error // the first failed write or flush
	rawEnd   error // how the client's byte stream ended (io.EOF: FIN), as TCP saw it
	closed   bool
	closeErr error
	settle   []func(error)
}

const (
	dataBufSize     = 64 << 10
	dataPassThrough = 32 << 10 // writes at least this large go out at once (16 KiB TLS records are batched)
	flushDelay      = 2 * time.Millisecond
	closeFlushLimit = 5 * time.Second
)

func (c *dataConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if err := c.werr; err != nil {
		c.mu.Unlock()
		return 0, err
	}
	if len(p) >= dataPassThrough {
		err := c.flushLocked()
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		n, err := c.Stream.Write(p)
		if err != nil {
			c.fail(err)
		}
		return n, err
	}
	defer c.mu.Unlock()
	if len(c.buf)+len(p) > dataBufSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if c.buf == nil {
		c.buf = make([]byte, 0, dataBufSize)
	}
	// The first byte into an empty buffer starts the flush timer; later small
	// writes ride along (no timer work per listing line).
	if len(c.buf) == 0 {
		if c.timer == nil {
			c.timer = time.AfterFunc(flushDelay, c.delayedFlush)
		} else {
			c.timer.Reset(flushDelay)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *dataConn) fail(err error) {
	c.mu.Lock()
	if c.werr == nil {
		c.werr = err
	}
	c.mu.Unlock()
}

func (c *dataConn) delayedFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.flushLocked()
}

// flushLocked sends the buffer; a failure is kept in werr (the bytes cannot be
// sent any more: the transfer has failed) and returned.
func (c *dataConn) flushLocked() error {
	if c.werr != nil {
		return c.werr
	}
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Stream.Write(c.buf)
	c.buf = c.buf[:0]
	if err != nil {
		c.werr = err
	}
	return err
}

// Flush sends what is buffered (ftpserverlib calls it when a transfer ends).
func (c *dataConn) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// SetDeadline and SetWriteDeadline send what was written under the previous
// deadline before they change it.
func (c *dataConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.flushLocked()
	return c.Stream.SetDeadline(t)
}

func (c *dataConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.flushLocked()
	return c.Stream.SetWriteDeadline(t)
}

func (c *dataConn) Read(p []byte) (int, error) {
	if err := c.Flush(); err != nil {
		return 0, err
	}
	n, err := c.Stream.Read(p)
	if err != nil {
		c.noteEnd(err)
	}
	return n, err
}

func (c *dataConn) noteEnd(err error) {
	c.mu.Lock()
	if c.rawEnd == nil {
		c.rawEnd = err
	}
	c.mu.Unlock()
}

func (c *dataConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.Flush(); err != nil {
		return 0, err
	}
	n, err := c.Stream.ReadFrom(r)
	if err != nil {
		c.fail(err)
	}
	return n, err
}

func (c *dataConn) WriteTo(w io.Writer) (int64, error) {
	if err := c.Flush(); err != nil {
		return 0, err
	}
	n, err := c.Stream.WriteTo(w)
	if err != nil {
		c.noteEnd(err)
	}
	return n, err
}

// UploadEnd tells whether the client ended an upload properly. Under TLS the
// end is the client's close_notify: crypto/tls stops reading at that alert, so
// a TCP end of stream reaching this connection (a FIN or a reset without
// close_notify, which crypto/tls reports as a clean io.EOF at a record
// boundary) is a cut-off upload when strict_upload_eof is on. In plain FTP a
// FIN is the end, and a reset is always an interruption.
func (c *dataConn) UploadEnd() error {
	c.mu.Lock()
	end := c.rawEnd
	c.mu.Unlock()
	switch {
	case end != nil && end != io.EOF:
		return end
	case end == io.EOF && c.strictEOF && c.tlsState.Load() != 0:
		if c.onCut != nil {
			c.onCut(c)
		}
		return errNoCloseNotify
	}
	return nil
}

// errNoCloseNotify is the result of a TLS upload whose client closed the
// connection without close_notify ([tls] strict_upload_eof).
var errNoCloseNotify = errors.New("TLS upload ended without close_notify: the upload may be cut off (strict_upload_eof)")

// SettleOnClose calls f with the connection's final error once Close has sent
// (or failed to send) its last buffered byte; at once if it is already closed.
func (c *dataConn) SettleOnClose(f func(error)) {
	c.mu.Lock()
	if !c.closed {
		c.settle = append(c.settle, f)
		c.mu.Unlock()
		return
	}
	err := c.closeErr
	c.mu.Unlock()
	f(err)
}

// Close sends what is buffered (bounded in time, so ABOR and a client that
// stopped reading cannot hold it) and closes. It returns a failed flush, so
// ftpserverlib answers an error instead of 226 for bytes that never left.
func (c *dataConn) Close() error {
	c.once.Do(func() {
		c.mu.Lock()
		if c.timer != nil {
			c.timer.Stop()
		}
		if len(c.buf) > 0 && c.werr == nil {
			_ = c.Stream.SetWriteDeadline(time.Now().Add(closeFlushLimit))
		}
		err := c.flushLocked()
		cerr := c.Stream.Close()
		if err == nil {
			err = cerr
		}
		c.closed, c.closeErr = true, err
		settle := c.settle
		c.settle = nil
		c.mu.Unlock()
		for _, f := range settle {
			f(err)
		}
		if c.onClose != nil {
			c.onClose(c)
		}
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// dataListener wraps a passive listener so accepted connections are dataConns.
// A passive port that no data connection reaches within data_timeout is given
// back (closed): a client that sends PASV or EPSV and never connects cannot
// hold the range.
type dataListener struct {
	net.Listener
	onClose   func(*dataConn)
	strictEOF func() bool
	onCut     func(*dataConn)
	admit     func(netip.Addr) bool // nil: every connection goes to the library's data-peer check
	idle      *time.Timer
	accepted  atomic.Bool
}

// expireAfter closes the listener if no connection is accepted within d; onExpire
// is called when it does.
func (l *dataListener) expireAfter(d time.Duration, onExpire func()) {
	if d <= 0 {
		return
	}
	l.idle = time.AfterFunc(d, func() {
		if !l.accepted.Load() {
			_ = l.Listener.Close()
			onExpire()
		}
	})
}

func (l *dataListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	for err == nil && l.admit != nil && !l.admit(addrOf(c.RemoteAddr())) {
		_ = c.Close() // no session of that client: never handed to the library
		c, err = l.Listener.Accept()
	}
	if err != nil {
		return nil, err
	}
	l.accepted.Store(true)
	if l.idle != nil {
		l.idle.Stop()
	}
	tc, ok := c.(proxy.Stream)
	if !ok {
		return c, nil
	}
	return &dataConn{Stream: tc, onClose: l.onClose, onCut: l.onCut, strictEOF: l.strictEOF()}, nil
}

func (l *dataListener) Close() error {
	if l.idle != nil {
		l.idle.Stop()
	}
	return l.Listener.Close()
}

// addrOf returns the IP of a TCP address, unmapped.
func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// listen opens a TCP listener with keepalive on accepted connections, so routers
// keep an idle control connection open during a long transfer.
func listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAliveConfig: controlKeepAlive}
	return lc.Listen(context.Background(), "tcp", addr)
}
