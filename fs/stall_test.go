package fs

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// connOnly hides the ReadFrom and WriteTo of a connection, as *tls.Conn has none: copies
// through it take the buffered paths, with its deadlines. Like *tls.Conn, it has NetConn.
type connOnly struct{ net.Conn }

func (c connOnly) NetConn() net.Conn { return c.Conn }

// writeDeadlineOnly is a writer with a write deadline only.
type writeDeadlineOnly struct{ io.Writer }

func (writeDeadlineOnly) SetWriteDeadline(time.Time) error { return nil }

// deadlineLog is a connection that records the deadlines set on it.
type deadlineLog struct {
	net.Conn
	mu  sync.Mutex
	set []time.Time
}

func (c *deadlineLog) SetDeadline(d time.Time) error {
	c.mu.Lock()
	c.set = append(c.set, d)
	c.mu.Unlock()
	return c.Conn.SetDeadline(d)
}

func (c *deadlineLog) calls() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.set...)
}

// sparseFile creates a file of size zero bytes without writing them.
func sparseFile(t testing.TB, dir, name string, size int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
}

// smallBuffers shrinks the socket buffers of a loopback pair, so that a stalled peer blocks
// the other side after a few hundred KiB rather than megabytes.
func smallBuffers(t testing.TB, conns ...net.Conn) {
	t.Helper()
	for _, c := range conns {
		tc := c.(*net.TCPConn)
		if err := tc.SetReadBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
		if err := tc.SetWriteBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
	}
}

// copyResult is what a copy run in a goroutine returned, and how long it took.
type copyResult struct {
	n       int64
	err     error
	elapsed time.Duration
}

func goCopy(dst io.Writer, src io.Reader) <-chan copyResult {
	out := make(chan copyResult, 1)
	start := time.Now()
	go func() {
		n, err := io.Copy(dst, src) // as ftpserverlib does
		out <- copyResult{n, err, time.Since(start)}
	}()
	return out
}

// waitCopy returns the result of a copy, failing the test if it is not over within limit.
func waitCopy(t *testing.T, res <-chan copyResult, limit time.Duration) copyResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(limit):
		t.Fatalf("the copy is still running after %v", limit)
		return copyResult{}
	}
}

// checkStalled checks a copy cut by the stall timeout and the transfer it reported.
func checkStalled(t *testing.T, r copyResult, timeout time.Duration, rec *recorder, dir string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("the copy of a stalled connection succeeded (%d bytes)", r.n)
	}
	if !errors.Is(r.err, os.ErrDeadlineExceeded) || !errors.Is(r.err, errStalled) {
		t.Fatalf("err = %v, want a stall", r.err)
	}
	checkSafe(t, r.err, dir)
	if r.elapsed < timeout {
		t.Errorf("cut after %v, before the stall timeout %v", r.elapsed, timeout)
	}
	ts := rec.all()
	if len(ts) != 1 || ts[0].Complete {
		t.Fatalf("transfers = %+v, want one interrupted", ts)
	}
	if ts[0].Bytes != r.n {
		t.Errorf("transfer reports %d bytes, the copy moved %d", ts[0].Bytes, r.n)
	}
}

// TestStalledDownload: a client that opens the data connection and stops reading fails the
// download after about StallTimeout, on every copy path.
func TestStalledDownload(t *testing.T) {
	const timeout = 300 * time.Millisecond
	dir := t.TempDir()
	const size = 64 << 20
	sparseFile(t, dir, "big", size)
	tests := []struct {
		name  string
		limit Rate
		wrap  func(net.Conn) io.Writer
		shut  bool  // the socket's sending side is shut (TLS: see shutTLSSocket)
		many  bool  // more than copyingDownloads downloads run
		first int64 // bytes the client reads before it stops
	}{
		{"sendfile", 0, func(c net.Conn) io.Writer { return c }, false, true, 0},
		// the first step goes with sendfile, the second copies
		{"copied (few downloads)", 0, func(c net.Conn) io.Writer { return c }, false, false, zeroCopyChunk},
		{"buffered (TLS)", 0, func(c net.Conn) io.Writer { return connOnly{c} }, true, false, 0},
		{"throttled", 100_000_000, func(c net.Conn) io.Writer { return c }, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.many {
				manyDownloads(t)
			}
			var rec recorder
			tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
				StallTimeout:   timeout,
				DownloadLimits: []*Limiter{NewLimiter(tc.limit)},
				OnTransfer:     rec.add,
			})
			client, server := tcpPair(t)
			smallBuffers(t, client, server)
			h := openDownload(t, tr, "/big")
			res := goCopy(tc.wrap(server), h)
			if tc.first > 0 {
				_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.CopyN(io.Discard, client, tc.first); err != nil {
					t.Fatal(err)
				}
			}
			r := waitCopy(t, res, 20*time.Second) // the client reads no more
			_ = h.Close()
			if r.n >= size || r.n <= tc.first {
				t.Fatalf("%d bytes sent to a client that read %d, want more, and less than all", r.n, tc.first)
			}
			checkStalled(t, r, timeout, &rec, dir)
			if tc.shut {
				_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
				if n, err := io.Copy(io.Discard, client); err != nil || n != r.n {
					t.Fatalf("client drained %d of %d bytes sent: %v, want the end of the stream", n, r.n, err)
				}
			}
		})
	}
}

// TestStalledUpload: a client that sends some bytes and then nothing (without closing) fails
// the upload after about StallTimeout; the old file is intact and no temporary file remains.
func TestStalledUpload(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name  string
		limit Rate
		wrap  func(net.Conn) io.Reader
	}{
		{"splice", 0, func(c net.Conn) io.Reader { return c }}, // io.Copy goes through TCPConn.WriteTo
		{"buffered (TLS)", 0, func(c net.Conn) io.Reader { return connOnly{c} }},
		{"throttled", 100_000_000, func(c net.Conn) io.Reader { return c }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"target": "old content"})
			var rec recorder
			tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
				StallTimeout:  timeout,
				UploadLimits:  []*Limiter{NewLimiter(tc.limit)},
				OnTransfer:    rec.add,
				AtomicUploads: true,
			})
			client, server := tcpPair(t)
			if _, err := client.Write(make([]byte, 100_000)); err != nil { // then silence
				t.Fatal(err)
			}
			h, err := tr.openHandle("/target", storFlags, 0)
			if err != nil {
				t.Fatal(err)
			}
			r := waitCopy(t, goCopy(h, tc.wrap(server)), 20*time.Second)
			_ = h.Close()
			checkStalled(t, r, timeout, &rec, dir)
			if r.n != 100_000 {
				t.Errorf("%d bytes received before the stall, want 100000", r.n)
			}
			if got := readFile(t, filepath.Join(dir, "target")); got != "old content" {
				t.Errorf("target = %q after a stalled upload", got)
			}
			if left := tempFiles(t, dir); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
		})
	}
}

// TestSlowClientNotCut: clients slower than the network but faster than
// zeroCopyChunk / StallTimeout complete their transfers, both ways, zero-copy, copied and buffered.
// Each is slow for 1.5 s (2.5 MiB/s: a 1 MiB chunk every 0.4 s), then quick.
func TestSlowClientNotCut(t *testing.T) {
	const (
		timeout = time.Second
		step    = 256 << 10
		every   = 100 * time.Millisecond
		slowFor = 1500 * time.Millisecond
		size    = 8 << 20 // more than the send buffer the kernel grows on loopback (4 MiB)
	)
	dir := t.TempDir()
	data := randomFile(t, dir, "src", size)
	for _, mode := range []string{"zero-copy", "copied", "buffered"} {
		buffered := mode == "buffered"
		wrap := func(c net.Conn) net.Conn {
			if buffered {
				return connOnly{c}
			}
			return c
		}
		t.Run(mode, func(t *testing.T) {
			if mode == "zero-copy" {
				manyDownloads(t) // sendfile; "copied": a plain connection, few downloads
			}
			var rec recorder
			tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
				StallTimeout: timeout, OnTransfer: rec.add, AtomicUploads: true,
			})

			// download: the server's send buffer is the kernel's, autotuned (see limitUnsent)
			client, server := tcpPair(t)
			smallBuffers(t, client)
			h := openDownload(t, tr, "/src")
			res := goCopy(wrap(server), h)
			var got bytes.Buffer
			tick := time.NewTicker(every)
			for end := time.Now().Add(slowFor); time.Now().Before(end); {
				<-tick.C
				_ = client.SetReadDeadline(time.Now().Add(5 * time.Second)) // bounded if the server gives up
				if _, err := io.CopyN(&got, client, step); err != nil {
					t.Fatalf("slow client cut after %d bytes: %v", got.Len(), err)
				}
			}
			tick.Stop()
			_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.CopyN(&got, client, int64(size-got.Len())); err != nil {
				t.Fatalf("client read after %d bytes: %v", got.Len(), err)
			}
			r := waitCopy(t, res, 10*time.Second)
			_ = h.Close()
			if r.err != nil || !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("slow download: %d bytes, %v", r.n, r.err)
			}

			// upload: the client sends 256 KiB every 100 ms, then the rest, and closes
			client, server = tcpPair(t)
			smallBuffers(t, client, server)
			up, err := tr.openHandle("/dst", storFlags, 0)
			if err != nil {
				t.Fatal(err)
			}
			res = goCopy(up, wrap(server))
			tick = time.NewTicker(every)
			sent := 0
			for end := time.Now().Add(slowFor); time.Now().Before(end); sent += step {
				<-tick.C
				_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if _, err := client.Write(data[sent : sent+step]); err != nil {
					t.Fatalf("client write after %d bytes: %v", sent, err)
				}
			}
			tick.Stop()
			_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := client.Write(data[sent:]); err != nil {
				t.Fatalf("client write after %d bytes: %v", sent, err)
			}
			_ = client.Close()
			r = waitCopy(t, res, 10*time.Second)
			if r.err != nil || r.n != size {
				t.Fatalf("slow upload: %d bytes, %v", r.n, r.err)
			}
			if err := up.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal([]byte(readFile(t, filepath.Join(dir, "dst"))), data) {
				t.Fatal("slow upload: content differs")
			}
			if ts := rec.all(); len(ts) != 2 || !ts[0].Complete || !ts[1].Complete {
				t.Errorf("transfers = %+v, want two complete", ts)
			}
		})
	}
}

// TestStallGuardDeadlines: a deadline is set before each write and cleared at the end.
func TestStallGuardDeadlines(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 3*bufferSize+5)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{StallTimeout: time.Minute})
	client, server := tcpPair(t)
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(client); got <- b }()
	conn := &deadlineLog{Conn: server}
	h := openDownload(t, tr, "/f")
	start := time.Now()
	// deadlineLog has no ReadFrom: this is the buffered path, one deadline per 256 KiB write
	if _, err := io.Copy(conn, h); err != nil {
		t.Fatal(err)
	}
	_ = h.Close()
	_ = server.Close()
	if b := <-got; !bytes.Equal(b, data) {
		t.Fatal("content differs")
	}
	calls := conn.calls()
	if len(calls) < 4 {
		t.Fatalf("%d deadlines set for 4 writes", len(calls))
	}
	for _, d := range calls[:len(calls)-1] {
		if d.Before(start.Add(time.Minute)) {
			t.Fatalf("deadline %v, want StallTimeout after the write", d)
		}
	}
	if last := calls[len(calls)-1]; !last.IsZero() {
		t.Fatalf("deadline left at %v after the copy", last)
	}
}

// TestStallGuardChoice: which side of a copy gets a deadline.
func TestStallGuardChoice(t *testing.T) {
	_, server := tcpPair(t)
	tests := []struct {
		name    string
		conn    any
		write   bool
		timeout time.Duration
		guarded bool
	}{
		{"tcp download", server, true, time.Second, true},
		{"tcp upload", server, false, time.Second, true},
		{"tls-like download", connOnly{server}, true, time.Second, true},
		{"write deadline, download", writeDeadlineOnly{io.Discard}, true, time.Second, true},
		{"write deadline, upload", writeDeadlineOnly{io.Discard}, false, time.Second, false},
		{"no deadline (MODE Z)", onlyWriter{server}, true, time.Second, false},
		{"no deadline upload (ASCII)", onlyReader{server}, false, time.Second, false},
		{"no stall timeout", server, true, 0, false},
	}
	for _, tc := range tests {
		tr := newTree(t, []Mount{{Path: "/", Dir: t.TempDir(), Perm: PermAll}}, Options{StallTimeout: tc.timeout})
		h := &handle{t: tr}
		if g := h.guard(tc.conn, tc.write); (g.set != nil) != tc.guarded {
			t.Errorf("%s: guarded = %v, want %v", tc.name, g.set != nil, tc.guarded)
		}
	}
}
