package fs

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLimitUnsent: a guarded download caps the unsent data of its socket, also under a TLS-like
// wrapper; an upload, or a download without a stall timeout, leaves the socket alone.
func TestLimitUnsent(t *testing.T) {
	tests := []struct {
		name    string
		wrap    func(net.Conn) any
		write   bool
		timeout time.Duration
		want    int // 0: unchanged
	}{
		{"download", func(c net.Conn) any { return c }, true, time.Second, unsentLimit},
		{"download under TLS", func(c net.Conn) any { return connOnly{c} }, true, time.Second, unsentLimit},
		{"upload", func(c net.Conn) any { return c }, false, time.Second, 0},
		{"no stall timeout", func(c net.Conn) any { return c }, true, 0, 0},
	}
	for _, tc := range tests {
		_, server := tcpPair(t)
		tr := newTree(t, []Mount{{Path: "/", Dir: t.TempDir(), Perm: PermAll}}, Options{StallTimeout: tc.timeout})
		h := &handle{t: tr}
		before := notsentLowat(t, server)
		h.guard(tc.wrap(server), tc.write)
		got := notsentLowat(t, server)
		if tc.want == 0 {
			tc.want = before // unchanged: the system's default
		}
		if got != tc.want {
			t.Errorf("%s: TCP_NOTSENT_LOWAT = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestUnsentCapFollowsPath: a guarded plain download that copies (few downloads run) caps its
// socket's unsent data at copyUnsent, one that sends with sendfile at unsentLimit.
func TestUnsentCapFollowsPath(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 3<<20+1)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{StallTimeout: 10 * time.Second})
	for _, many := range []bool{false, true} {
		if many {
			manyDownloads(t)
		}
		client, server := tcpPair(t)
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(client); got <- b }()
		h := openDownload(t, tr, "/f")
		if _, err := h.WriteTo(server); err != nil {
			t.Fatal(err)
		}
		_ = h.Close()
		want := copyUnsent
		if many {
			want = unsentLimit
		}
		if v := notsentLowat(t, server); v != want {
			t.Errorf("many downloads %v: TCP_NOTSENT_LOWAT = %d, want %d", many, v, want)
		}
		_ = server.Close()
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("many downloads %v: %d bytes received, differing", many, len(b))
		}
		_ = client.Close()
	}
}

func notsentLowat(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var (
		v    int
		gerr error
	)
	if err := rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	return v
}
