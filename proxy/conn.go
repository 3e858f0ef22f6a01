package proxy

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Stream is what the chain promises of every connection it accepts over a TCP
// listener: *net.TCPConn for a direct client, *[Conn] for one through a
// balancer. Code that needs socket options or the zero-copy paths asserts
// Stream, not *net.TCPConn.
type Stream interface {
	net.Conn
	io.ReaderFrom
	io.WriterTo
	syscall.Conn
	CloseRead() error
	CloseWrite() error
	SetLinger(sec int) error
	SetNoDelay(noDelay bool) error
	SetKeepAlive(keepalive bool) error
	SetKeepAlivePeriod(d time.Duration) error
	SetReadBuffer(bytes int) error
	SetWriteBuffer(bytes int) error
}

var (
	_ Stream = (*net.TCPConn)(nil)
	_ Stream = (*Conn)(nil)
)

// Conn is a connection that came through a trusted balancer, its PROXY header
// read. It is the *net.TCPConn with the client's address as RemoteAddr; Read
// and WriteTo first return the bytes that arrived with the header.
type Conn struct {
	*net.TCPConn

	remote   net.Addr       // the header's source, or the balancer for a health check
	balancer netip.AddrPort // the real peer
	dest     netip.AddrPort // the header's destination; unset for a health check
	health   bool
	version  byte

	drained atomic.Bool // rest is empty for good: Read and WriteTo go to the socket
	mu      sync.Mutex
	rest    []byte
}

func newConn(tc *net.TCPConn, balancer netip.AddrPort, h header, rest []byte) *Conn {
	// HAProxy's v1 health checks name the check connection itself: its
	// source is the balancer's own address and port.
	health := h.local || h.src == balancer
	c := &Conn{TCPConn: tc, balancer: balancer, dest: h.dst, health: health, version: h.version}
	if h.local {
		c.remote = tc.RemoteAddr()
	} else {
		c.remote = net.TCPAddrFromAddrPort(h.src)
	}
	if len(rest) > 0 {
		c.rest = rest
	} else {
		c.drained.Store(true)
	}
	return c
}

// RemoteAddr is the client's address from the header (a *net.TCPAddr,
// IPv4-mapped addresses unmapped), or the balancer's for a health check.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Balancer is the address of the balancer the connection came through.
func (c *Conn) Balancer() netip.AddrPort { return c.balancer }

// Destination is the address the client connected to on the balancer (the
// header's destination); false when the header names none (v2 LOCAL, v1
// UNKNOWN).
func (c *Conn) Destination() (netip.AddrPort, bool) { return c.dest, c.dest.IsValid() }

// HealthCheck reports whether the balancer opened the connection itself: a
// v2 LOCAL header, a v1 UNKNOWN line, or a header whose source is the
// connection's own peer (HAProxy's v1 health checks). RemoteAddr is then the
// balancer's address.
func (c *Conn) HealthCheck() bool { return c.health }

// Version is the PROXY protocol version of the header, 1 or 2.
func (c *Conn) Version() int { return int(c.version) }

// Buffered is the number of bytes that arrived with the header and have not
// been read yet. Once it is 0 it stays 0, and reading the embedded TCPConn
// directly loses nothing.
func (c *Conn) Buffered() int {
	if c.drained.Load() {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rest)
}

// take removes up to n bytes (all of them if n < 0) from rest.
func (c *Conn) take(n int) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n < 0 || n > len(c.rest) {
		n = len(c.rest)
	}
	b := c.rest[:n]
	c.rest = c.rest[n:]
	if len(c.rest) == 0 {
		c.rest = nil
		c.drained.Store(true)
	}
	return b
}

// Read returns the bytes that arrived with the header first, then reads the
// socket.
func (c *Conn) Read(p []byte) (int, error) {
	if !c.drained.Load() && len(p) > 0 {
		if b := c.take(len(p)); len(b) > 0 {
			return copy(p, b), nil
		}
	}
	return c.TCPConn.Read(p)
}

// WriteTo writes the bytes that arrived with the header to w, then hands over
// to the TCP connection's WriteTo (splice where the kernel offers it).
func (c *Conn) WriteTo(w io.Writer) (int64, error) {
	var n int64
	if !c.drained.Load() {
		if b := c.take(-1); len(b) > 0 {
			m, err := w.Write(b)
			n += int64(m)
			if err != nil {
				return n, err
			}
		}
	}
	m, err := c.TCPConn.WriteTo(w)
	return n + m, err
}

// SyscallConn is the TCP connection's, with one difference while bytes that
// came with the header are unread: the kernel's splice path (which
// *os.File.ReadFrom takes for a reader that is a syscall.Conn) would read the
// socket past them, so until they are read the raw connection offers Control
// (socket options) but not the poller's descriptor that splice needs, and a
// copy goes through Read. Read and Write of the raw connection still reach
// the socket directly: use them only when [Conn.Buffered] is 0.
func (c *Conn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.TCPConn.SyscallConn()
	if err != nil || c.drained.Load() {
		return rc, err
	}
	return rawConn{rc}, nil
}

// rawConn hides every method of a syscall.RawConn but its own three.
type rawConn struct{ syscall.RawConn }

// NetConn returns the TCP connection under c, as crypto/tls's Conn.NetConn
// does; reading it directly skips [Conn.Buffered] bytes.
func (c *Conn) NetConn() net.Conn { return c.TCPConn }

// From finds the *Conn under c, following NetConn methods through wrappers
// (crypto/tls, or wharf's own); false for a direct client.
func From(c net.Conn) (*Conn, bool) {
	for range 16 {
		switch v := c.(type) {
		case *Conn:
			return v, true
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil, false
		}
	}
	return nil, false
}

// Balancer returns the address of the balancer c came through, false for a
// direct client.
func Balancer(c net.Conn) (netip.AddrPort, bool) {
	pc, ok := From(c)
	if !ok {
		return netip.AddrPort{}, false
	}
	return pc.balancer, true
}
