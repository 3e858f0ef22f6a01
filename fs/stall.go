package fs

import (
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// errStalled is the reason of a transfer cut because its data connection made no progress for
// Options.StallTimeout. It matches os.ErrDeadlineExceeded with errors.Is.
var errStalled = newReason("data connection stalled", os.ErrDeadlineExceeded)

// stallGuard sets the deadline of a data connection before each step of a copy (a zero-copy
// chunk, a buffered or throttled write or read), so that a client that stops reading (download)
// or sending (upload) fails the transfer once a step has waited Options.StallTimeout, instead of
// holding a passive port, a file and a goroutine forever. For a download it also caps the
// socket's unsent data (limitUnsent), so that a step ends when the client has read about its
// size, whatever the kernel's send buffer.
//
// The connection is what ftpserverlib hands the copy: for a download the writer given to
// WriteTo (the passive *net.TCPConn wrapper, or a *tls.Conn), for an upload the reader given to
// ReadFrom (*net.TCPConn hides its WriteTo behind a wrapper that embeds it, or a *tls.Conn).
// SetDeadline is preferred to the one-way deadlines: a TLS data connection shakes hands on its
// first read or write, and a client that never sends its hello stalls a download on a read.
// Wrappers without deadlines (MODE Z's deflate stream, the ASCII converter) get no guard; nor
// do the Read and Write methods, which never see the connection.
type stallGuard struct {
	set     func(time.Time) error // nil: no guard
	conn    any
	write   bool
	timeout time.Duration
	armed   bool
	unsent  int // the cap on the socket's unsent data (a download's; 0: none set)
}

// guard returns the stall guard of conn, the connection side of a copy (write: a download).
func (h *handle) guard(conn any, write bool) *stallGuard {
	g := &stallGuard{conn: conn, write: write, timeout: h.t.opt.StallTimeout}
	if g.timeout <= 0 {
		return g
	}
	if c, ok := conn.(interface{ SetDeadline(time.Time) error }); ok {
		g.set = c.SetDeadline
	} else if c, ok := conn.(interface{ SetWriteDeadline(time.Time) error }); ok && write {
		g.set = c.SetWriteDeadline
	} else if c, ok := conn.(interface{ SetReadDeadline(time.Time) error }); ok && !write {
		g.set = c.SetReadDeadline
	}
	if g.set != nil && write {
		g.limitUnsent(unsentLimit)
	}
	return g
}

// limitUnsent sets the cap on the unsent data of a guarded download's socket to n bytes, if
// it is not n already; it does nothing without a guard.
func (g *stallGuard) limitUnsent(n int) {
	if g.set == nil || !g.write || g.unsent == n {
		return
	}
	limitUnsent(g.conn, n)
	g.unsent = n
}

// arm gives the next step StallTimeout to make progress. An error (a closed connection) is
// ignored: the step itself fails.
func (g *stallGuard) arm() {
	if g.set != nil {
		_ = g.set(time.Now().Add(g.timeout))
		g.armed = true
	}
}

// disarm clears the deadline once the copy is over.
func (g *stallGuard) disarm() {
	if g.armed {
		_ = g.set(time.Time{})
		g.armed = false
	}
}

// check turns the deadline error of a guarded step into a stall of vpath, logged once.
func (g *stallGuard) check(h *handle, err error) error {
	if g.set == nil || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	h.t.log.Info("data connection stalled", "path", h.vpath, "direction", h.dir.String(),
		"timeout", g.timeout.String())
	if g.write {
		shutTLSSocket(g.conn)
	}
	return fail(h.vpath, errStalled)
}

// shutTLSSocket shuts the sending side of the socket under a stalled TLS download: the
// close_notify alert that *tls.Conn.Close sends then fails at once, instead of waiting five more
// seconds on a full socket before the client gets its reply.
func shutTLSSocket(conn any) {
	nc, ok := conn.(interface{ NetConn() net.Conn })
	if !ok {
		return
	}
	if cw, ok := nc.NetConn().(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// writer returns w with the guard armed before each Write (buffered and throttled downloads).
func (g *stallGuard) writer(w io.Writer) io.Writer {
	if g.set == nil {
		return w
	}
	return guardedWriter{w: w, g: g}
}

// reader returns r with the guard armed before each Read (buffered and throttled uploads): a
// read returns as soon as any byte arrives, so only a silence of StallTimeout fails it.
func (g *stallGuard) reader(r io.Reader) io.Reader {
	if g.set == nil {
		return r
	}
	return guardedReader{r: r, g: g}
}

type guardedWriter struct {
	w io.Writer
	g *stallGuard
}

func (w guardedWriter) Write(p []byte) (int, error) { w.g.arm(); return w.w.Write(p) }

type guardedReader struct {
	r io.Reader
	g *stallGuard
}

func (r guardedReader) Read(p []byte) (int, error) { r.g.arm(); return r.r.Read(p) }
