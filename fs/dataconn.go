package fs

import "net"

// A data connection can know more about a transfer than the bytes copied. The
// handle looks for these on the connection it copies to or from, or, under TLS,
// on the connection the *tls.Conn wraps.

// SettlingConn is a data connection that buffers writes: a download is complete
// only once the connection has sent its last byte, which it reports when closed.
type SettlingConn interface {
	SettleOnClose(func(error))
}

// EndingConn is a data connection that tells whether the client ended an upload
// properly (under TLS, with close_notify); a non-nil error makes the upload
// interrupted, so an atomic upload keeps the old file.
type EndingConn interface {
	UploadEnd() error
}

// transportOf returns the connection under conn when conn is a TLS connection.
func transportOf(conn any) any {
	if c, ok := conn.(interface{ NetConn() net.Conn }); ok {
		return c.NetConn()
	}
	return conn
}
