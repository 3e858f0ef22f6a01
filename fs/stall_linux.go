package fs

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// limitUnsent caps the data queued but not yet sent on the TCP socket under conn (a download's
// data connection, or the one under its *tls.Conn) at n bytes with TCP_NOTSENT_LOWAT. Without
// it the kernel lets the send buffer grow to megabytes (tcp_wmem) and wakes a blocked writer only
// once a third of it has drained, so a slow but steady client could let no chunk complete
// within the stall timeout although it keeps reading. It does nothing when conn is no socket.
func limitUnsent(conn any, n int) {
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = nc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
	})
}
