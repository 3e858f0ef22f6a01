package server

import (
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server *net.TCPConn, client *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// TestDataConnDeadlineKeepsBufferedBytes replays what crypto/tls does when it
// closes a data connection: close_notify is written (a small write, buffered),
// then the write deadline is set to now, then the connection is closed. A
// delayed flush between the last two steps used to fail on the expired
// deadline and drop the buffer, so the client saw a clean end with nothing.
func TestDataConnDeadlineKeepsBufferedBytes(t *testing.T) {
	srv, cli := tcpPair(t)
	dc := &dataConn{Stream: srv}
	if _, err := dc.Write([]byte("last bytes")); err != nil {
		t.Fatal(err)
	}
	if err := dc.SetWriteDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	dc.delayedFlush() // the timer firing in the gap
	settled := make(chan error, 1)
	dc.SettleOnClose(func(err error) { settled <- err })
	if err := dc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := <-settled; err != nil {
		t.Fatalf("settled with %v", err)
	}
	_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(cli)
	if err != nil || string(got) != "last bytes" {
		t.Fatalf("client read %q, %v", got, err)
	}
}

// TestDataConnFailedFlushIsReported: bytes that cannot leave make Close fail and
// settle the transfer with the error, and later writes fail too.
func TestDataConnFailedFlushIsReported(t *testing.T) {
	srv, _ := tcpPair(t)
	dc := &dataConn{Stream: srv}
	if _, err := dc.Write([]byte("never sent")); err != nil {
		t.Fatal(err)
	}
	_ = srv.SetWriteDeadline(time.Now().Add(-time.Second)) // under the dataConn: no flush first
	dc.delayedFlush()
	if _, err := dc.Write([]byte("more")); err == nil {
		t.Fatal("a write after a failed flush succeeded")
	}
	settled := make(chan error, 1)
	dc.SettleOnClose(func(err error) { settled <- err })
	if err := dc.Close(); err == nil {
		t.Fatal("Close reported no error for bytes that never left")
	}
	if err := <-settled; err == nil {
		t.Fatal("the transfer settled as complete")
	}
	late := make(chan error, 1)
	dc.SettleOnClose(func(err error) { late <- err })
	if err := <-late; err == nil {
		t.Fatal("a settle after close saw no error")
	}
}
