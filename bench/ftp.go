package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// copyBufSize is the client's read and write buffer for data connections.
const copyBufSize = 256 << 10

// client is a minimal FTP control connection: enough for precise timing of
// transfers, listings and logins, with explicit TLS (AUTH TLS, PROT P) and
// TLS session resumption on data connections.
type client struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	tls  *tls.Config // nil: plain; otherwise control and data use TLS
	// prot is true once PROT P was accepted: data connections use TLS.
	prot    bool
	timeout time.Duration
	// dataTLS is the state of the last TLS data connection.
	dataTLS tls.ConnectionState
}

// ftpError is an unexpected reply.
type ftpError struct {
	cmd  string
	code int
	msg  string
}

func (e *ftpError) Error() string { return fmt.Sprintf("%s: %d %s", e.cmd, e.code, e.msg) }

// dial connects and reads the greeting. With tlsConf set it upgrades the control
// connection with AUTH TLS before returning.
func dial(addr string, tlsConf *tls.Config, timeout time.Duration) (*client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &client{addr: addr, conn: conn, r: bufio.NewReaderSize(conn, 4096), timeout: timeout}
	if _, _, err := c.expect("greeting", 2); err != nil {
		conn.Close()
		return nil, err
	}
	if tlsConf != nil {
		if err := c.authTLS(tlsConf); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *client) authTLS(conf *tls.Config) error {
	if _, _, err := c.cmd(2, "AUTH TLS"); err != nil {
		return err
	}
	tc := tls.Client(c.conn, conf)
	_ = tc.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("control handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	c.conn = tc
	c.r = bufio.NewReaderSize(tc, 4096)
	c.tls = conf
	return nil
}

// login sends USER and PASS; with TLS it also sends PBSZ 0 and PROT P. It always
// sets TYPE I.
func (c *client) login(user, pass string) error {
	if err := c.loginOnly(user, pass); err != nil {
		return err
	}
	if c.tls != nil {
		if _, _, err := c.cmd(2, "PBSZ 0"); err != nil {
			return err
		}
		if _, _, err := c.cmd(2, "PROT P"); err != nil {
			return err
		}
		c.prot = true
	}
	_, _, err := c.cmd(2, "TYPE I")
	return err
}

// loginOnly sends USER and PASS.
func (c *client) loginOnly(user, pass string) error {
	code, msg, err := c.cmd(0, "USER "+user)
	if err != nil {
		return err
	}
	switch {
	case code == 331:
		_, _, err = c.cmd(2, "PASS "+pass)
		return err
	case code/100 != 2:
		return &ftpError{"USER", code, msg}
	}
	return nil
}

// quit sends QUIT, waits for the reply and closes.
func (c *client) quit() error {
	_, _, err := c.cmd(2, "QUIT")
	c.conn.Close()
	return err
}

func (c *client) close() { c.conn.Close() }

// send writes one command line.
func (c *client) send(line string) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := io.WriteString(c.conn, line+"\r\n")
	return err
}

// readReply reads one (possibly multi-line) reply.
func (c *client) readReply() (int, string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 4 {
		return 0, line, fmt.Errorf("short reply %q", line)
	}
	code, err := strconv.Atoi(line[:3])
	if err != nil {
		return 0, line, fmt.Errorf("bad reply %q", line)
	}
	msg := line[4:]
	if line[3] == '-' {
		end := line[:3] + " "
		for range 1000 {
			l, err := c.r.ReadString('\n')
			if err != nil {
				return 0, "", err
			}
			if strings.HasPrefix(l, end) {
				msg = strings.TrimRight(l[4:], "\r\n")
				break
			}
		}
	}
	return code, msg, nil
}

// expect reads a reply whose first digit must be class (0: any).
func (c *client) expect(what string, class int) (int, string, error) {
	code, msg, err := c.readReply()
	if err != nil {
		return code, msg, fmt.Errorf("%s: %w", what, err)
	}
	if class != 0 && code/100 != class {
		return code, msg, &ftpError{what, code, msg}
	}
	return code, msg, nil
}

// cmd sends a command and reads its reply, which must be of class (0: any).
func (c *client) cmd(class int, line string) (int, string, error) {
	if err := c.send(line); err != nil {
		return 0, "", err
	}
	name, _, _ := strings.Cut(line, " ")
	return c.expect(name, class)
}

// dataConn opens a passive data connection (EPSV, PASV as a fallback).
func (c *client) dataConn() (net.Conn, error) {
	host, _, _ := net.SplitHostPort(c.addr)
	var target string
	code, msg, err := c.cmd(0, "EPSV")
	if err != nil {
		return nil, err
	}
	switch code {
	case 229:
		i, j := strings.Index(msg, "(|||"), strings.LastIndex(msg, "|)")
		if i < 0 || j < i+4 {
			return nil, fmt.Errorf("bad EPSV reply %q", msg)
		}
		target = net.JoinHostPort(host, msg[i+4:j])
	default:
		code, msg, err = c.cmd(0, "PASV")
		if err != nil {
			return nil, err
		}
		if code != 227 {
			return nil, &ftpError{"PASV", code, msg}
		}
		if target, err = parsePASV(msg); err != nil {
			return nil, err
		}
	}
	d := net.Dialer{Timeout: c.timeout}
	conn, err := d.Dial("tcp", target)
	if err != nil {
		return nil, err
	}
	return conn, nil
}

func parsePASV(msg string) (string, error) {
	i, j := strings.Index(msg, "("), strings.Index(msg, ")")
	if i < 0 || j < i {
		return "", fmt.Errorf("bad PASV reply %q", msg)
	}
	var p [6]int
	parts := strings.Split(msg[i+1:j], ",")
	if len(parts) != 6 {
		return "", fmt.Errorf("bad PASV reply %q", msg)
	}
	for k, s := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > 255 {
			return "", fmt.Errorf("bad PASV reply %q", msg)
		}
		p[k] = n
	}
	return fmt.Sprintf("%d.%d.%d.%d:%d", p[0], p[1], p[2], p[3], p[4]<<8|p[5]), nil
}

// secure wraps a data connection in TLS when PROT P is on. The handshake runs
// once the server has answered the transfer command (servers start their TLS
// side after the 150), so it is done lazily by the first Read or Write.
func (c *client) secure(conn net.Conn) net.Conn {
	if !c.prot {
		return conn
	}
	return tls.Client(conn, c.tls)
}

// transfer is one data command: it opens the data connection, sends line, waits
// for the preliminary reply, runs body on the data connection, closes it and
// waits for the final reply. After an upload it half-closes the connection and
// waits for the server to close its side, so that no unread byte (a TLS session
// ticket) turns the close into a reset that could cut the upload's tail.
func (c *client) transfer(line string, upload bool, body func(net.Conn) (int64, error)) (int64, error) {
	raw, err := c.dataConn()
	if err != nil {
		return 0, err
	}
	defer raw.Close()
	if err := c.send(line); err != nil {
		return 0, err
	}
	name, _, _ := strings.Cut(line, " ")
	if _, _, err := c.expect(name, 1); err != nil {
		return 0, err
	}
	conn := c.secure(raw)
	_ = raw.SetDeadline(time.Now().Add(10 * c.timeout))
	n, berr := body(conn)
	if tc, ok := conn.(*tls.Conn); ok {
		c.dataTLS = tc.ConnectionState()
	}
	if upload && berr == nil {
		if tc, ok := conn.(*tls.Conn); ok {
			_ = tc.CloseWrite() // close_notify
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		var small [4096]byte
		_, _ = discard(conn, small[:])
	}
	_ = conn.Close()
	if _, _, err := c.expect(name, 2); err != nil {
		return n, err
	}
	return n, berr
}

// discard reads r to the end through a large buffer.
func discard(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF { // TLS closed without close_notify: sizes are checked
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// retr downloads name and discards it.
func (c *client) retr(name string, buf []byte) (int64, error) {
	return c.transfer("RETR "+name, false, func(conn net.Conn) (int64, error) { return discard(conn, buf) })
}

// stor uploads size bytes from src (an *os.File keeps sendfile on plain
// connections) or from buf repeated when src is nil.
func (c *client) stor(name string, src *os.File, size int64, buf []byte) (int64, error) {
	return c.transfer("STOR "+name, true, func(conn net.Conn) (int64, error) {
		if src != nil {
			if _, err := src.Seek(0, io.SeekStart); err != nil {
				return 0, err
			}
			if _, ok := conn.(*tls.Conn); ok {
				return io.CopyBuffer(writerOnly{conn}, io.LimitReader(src, size), buf)
			}
			return io.Copy(conn, io.LimitReader(src, size))
		}
		var n int64
		for n < size {
			k, err := conn.Write(buf[:min(int64(len(buf)), size-n)])
			n += int64(k)
			if err != nil {
				return n, err
			}
		}
		return n, nil
	})
}

// list runs LIST, NLST or MLSD on dir and returns the bytes and lines received.
func (c *client) list(verb, dir string, buf []byte) (bytes, lines int64, err error) {
	line := verb
	if dir != "" {
		line += " " + dir
	}
	bytes, err = c.transfer(line, false, func(conn net.Conn) (int64, error) {
		var n int64
		for {
			k, err := conn.Read(buf)
			n += int64(k)
			for _, b := range buf[:k] {
				if b == '\n' {
					lines++
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
		}
	})
	return bytes, lines, err
}

// writerOnly hides ReadFrom so io.CopyBuffer uses the given buffer.
type writerOnly struct{ io.Writer }
