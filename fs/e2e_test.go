package fs

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/jlaffaye/ftp"
)

// testDriver is a minimal ftpserverlib main driver handing every login the same mounts.
type testDriver struct {
	ln     net.Listener
	mounts []Mount
	opt    Options
}

func (d *testDriver) GetSettings() (*ftpserver.Settings, error) {
	return &ftpserver.Settings{Listener: d.ln, ConnectionTimeout: 10, IdleTimeout: 60, EnableHASH: true}, nil
}
func (d *testDriver) ClientConnected(ftpserver.ClientContext) (string, error) { return "ready", nil }
func (d *testDriver) ClientDisconnected(cc ftpserver.ClientContext) {
	if tr, ok := cc.Extra().(*Tree); ok {
		_ = tr.Close()
	}
}
func (d *testDriver) AuthUser(cc ftpserver.ClientContext, _, _ string) (ftpserver.ClientDriver, error) {
	opt := d.opt
	opt.WorkDir = cc.Path
	tr, err := NewTree(d.mounts, opt)
	if err != nil {
		return nil, err
	}
	cc.SetExtra(tr)
	return &commandTree{Tree: tr, cc: cc}, nil
}

// commandTree gives Stat the permission of the command asking, as the server's driver does:
// "read" for SIZE and MDTM.
type commandTree struct {
	*Tree
	cc ftpserver.ClientContext
}

func (c *commandTree) Stat(name string) (os.FileInfo, error) {
	switch c.cc.GetLastCommand() {
	case "SIZE", "MDTM":
		return c.StatFor(name, PermRead)
	}
	return c.Tree.Stat(name)
}
func (d *testDriver) GetTLSConfig() (*tls.Config, error) { return nil, errors.New("no TLS") }

// startServer runs ftpserverlib over a tree of mounts and returns its address.
func startServer(t *testing.T, mounts []Mount, opt Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := ftpserver.NewFtpServer(&testDriver{ln: ln, mounts: mounts, opt: opt})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve() }()
	t.Cleanup(func() {
		_ = srv.Stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return ln.Addr().String()
}

func dialFTP(t *testing.T, addr string) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second), ftp.DialWithDisabledEPSV(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("u", "p"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Quit() })
	return c
}

// TestFTPServer drives the tree through ftpserverlib with a real client.
func TestFTPServer(t *testing.T) {
	base := t.TempDir()
	home, ro := filepath.Join(base, "home"), filepath.Join(base, "ro")
	writeFiles(t, home, map[string]string{"old.txt": "old content"})
	writeFiles(t, ro, map[string]string{"r.txt": "read only"})
	if err := os.Symlink("/etc", filepath.Join(home, "etc")); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	addr := startServer(t, []Mount{
		{Path: "/", Dir: home, Perm: PermAll},
		{Path: "/ro", Dir: ro, Perm: PermList | PermRead},
	}, Options{AtomicUploads: true, OnTransfer: rec.add})
	c := dialFTP(t, addr)

	data := make([]byte, 3<<20+5)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := c.Stor("big.bin", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	_ = r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("RETR: %d bytes, %v", len(got), err)
	}
	entries, err := c.List("/")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, e := range entries {
		listed = append(listed, e.Name)
	}
	slices.Sort(listed)
	if want := []string{"big.bin", "etc", "old.txt", "ro"}; !slices.Equal(listed, want) {
		t.Errorf("LIST / = %q, want %q", listed, want)
	}

	// refusals carry virtual paths only
	for _, tc := range []struct {
		name string
		do   func() error
		want string
	}{
		{"STOR read-only", func() error { return c.Stor("/ro/x.txt", strings.NewReader("x")) }, `/ro/x.txt: permission denied (no "write" permission)`},
		{"DELE read-only", func() error { return c.Delete("/ro/r.txt") }, `/ro/r.txt: permission denied (no "delete" permission)`},
		{"CWD escaping link", func() error { return c.ChangeDir("/etc") }, "/etc: permission denied"},
		{"RETR escaping link", func() error {
			r, err := c.Retr("/etc/passwd")
			if err == nil {
				_ = r.Close()
			}
			return err
		}, "/etc/passwd: permission denied"},
		{"RETR missing", func() error {
			r, err := c.Retr("/nope")
			if err == nil {
				_ = r.Close()
			}
			return err
		}, "/nope: no such file or directory"},
		{"RNTO across folders", func() error { return c.Rename("/old.txt", "/ro/old.txt") }, "cannot rename across folders"},
		{"DELE mount point", func() error { return c.Delete("/ro") }, "mounted folder"},
		{"RMD mount point", func() error { return c.RemoveDir("/ro") }, "mounted folder"},
	} {
		err := tc.do()
		if err == nil {
			t.Errorf("%s succeeded", tc.name)
			continue
		}
		msg := err.Error()
		var te *textproto.Error
		if errors.As(err, &te) {
			msg = te.Msg
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s: reply %q, want %q", tc.name, msg, tc.want)
		}
		if strings.Contains(err.Error(), base) {
			t.Errorf("%s: reply %q shows the real path", tc.name, err)
		}
	}
	if err := c.Stor("/ro/x.txt", strings.NewReader("x")); err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Errorf("STOR refusal code: %v", err)
	}
	if err := c.Rename("/old.txt", "/.wharf-upload-x"); err == nil || !strings.HasPrefix(err.Error(), "553") {
		t.Errorf("RNTO to a reserved name: %v", err)
	}
	if left := tempFiles(t, base); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	var uploads int
	for _, tr := range rec.all() {
		if tr.Direction == Upload && tr.Path == "/big.bin" && tr.Complete && tr.Bytes == int64(len(data)) {
			uploads++
		}
	}
	if uploads != 1 {
		t.Errorf("transfers = %+v", rec.all())
	}
}

// rawConn is a bare FTP control connection, for interrupting uploads.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	rc := &rawConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	rc.expect("220")
	rc.cmd("USER u", "331")
	rc.cmd("PASS p", "230")
	rc.cmd("TYPE I", "200")
	return rc
}

// reply reads one (possibly multi-line) reply.
func (c *rawConn) reply() string {
	c.t.Helper()
	var all []string
	for i := 0; i < 100; i++ {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("reading a reply: %v (so far %q)", err, all)
		}
		all = append(all, strings.TrimRight(line, "\r\n"))
		if len(line) >= 4 && line[3] == ' ' && (len(all) == 1 || strings.HasPrefix(line, all[0][:3])) {
			break
		}
	}
	return strings.Join(all, "\n")
}

func (c *rawConn) expect(code string) string {
	c.t.Helper()
	r := c.reply()
	if !strings.HasPrefix(r, code) {
		c.t.Fatalf("reply %q, want %s", r, code)
	}
	return r
}

func (c *rawConn) cmd(line, code string) string {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatal(err)
	}
	return c.expect(code)
}

// pasv opens a passive data connection.
func (c *rawConn) pasv() *net.TCPConn {
	c.t.Helper()
	r := c.cmd("PASV", "227")
	open, end := strings.IndexByte(r, '('), strings.IndexByte(r, ')')
	f := strings.Split(r[open+1:end], ",")
	p1, _ := strconv.Atoi(f[4])
	p2, _ := strconv.Atoi(f[5])
	conn, err := net.Dial("tcp", fmt.Sprintf("%s.%s.%s.%s:%d", f[0], f[1], f[2], f[3], p1*256+p2))
	if err != nil {
		c.t.Fatal(err)
	}
	return conn.(*net.TCPConn)
}

// TestInterruptedUploads: an upload reset by the client, or aborted with ABOR, leaves the old
// file as it was and no temporary file.
func TestInterruptedUploads(t *testing.T) {
	home := t.TempDir()
	writeFiles(t, home, map[string]string{"f.txt": "old content"})
	var rec recorder
	addr := startServer(t, []Mount{{Path: "/", Dir: home, Perm: PermAll}}, Options{AtomicUploads: true, OnTransfer: rec.add})
	chunk := bytes.Repeat([]byte("new data "), 20_000)

	// a reset data connection
	c := dialRaw(t, addr)
	data := c.pasv()
	c.cmd("STOR f.txt", "150")
	if _, err := data.Write(chunk); err != nil {
		t.Fatal(err)
	}
	_ = data.SetLinger(0) // close with a TCP RST
	_ = data.Close()
	if r := c.reply(); strings.HasPrefix(r, "226") {
		t.Fatalf("a reset upload was acknowledged: %q", r)
	}
	waitTransfers(t, &rec, 1)

	// ABOR while the data connection is open
	data = c.pasv()
	c.cmd("STOR f.txt", "150")
	if _, err := data.Write(chunk); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(c.conn, "ABOR\r\n"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // 426 for the transfer, then 226 for ABOR (in either order)
		if r := c.reply(); strings.HasPrefix(r, "226 ABOR") || strings.Contains(r, "ABOR successful") {
			break
		}
	}
	_ = data.Close()
	waitTransfers(t, &rec, 2)

	if got := readFile(t, filepath.Join(home, "f.txt")); got != "old content" {
		t.Errorf("f.txt = %.40q after interrupted uploads", got)
	}
	if left := tempFiles(t, home); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
	for _, tr := range rec.all() {
		if tr.Complete {
			t.Errorf("interrupted upload reported complete: %+v", tr)
		}
	}

	// a complete upload still works on the same session
	data = c.pasv()
	c.cmd("STOR f.txt", "150")
	_, _ = data.Write([]byte("new content"))
	_ = data.Close()
	c.expect("226")
	if got := readFile(t, filepath.Join(home, "f.txt")); got != "new content" {
		t.Errorf("f.txt = %q after a complete upload", got)
	}
}

// waitTransfers polls until n transfers were reported.
func waitTransfers(t *testing.T, rec *recorder, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.all()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d transfers reported, want %d", len(rec.all()), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
