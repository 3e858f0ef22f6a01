package fs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// randomFile writes n random bytes to dir/name and returns them.
func randomFile(t testing.TB, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// recordingRF is an io.ReaderFrom that records the readers it is handed.
type recordingRF struct {
	buf     bytes.Buffer
	readers []io.Reader
}

func (r *recordingRF) Write(p []byte) (int, error) { return r.buf.Write(p) }
func (r *recordingRF) ReadFrom(src io.Reader) (int64, error) {
	r.readers = append(r.readers, src)
	return io.Copy(&r.buf, onlyReader{src})
}

type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// sizeWriter records the size of every Write (a writer without ReadFrom, like a *tls.Conn).
type sizeWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	sizes  []int
	onLast func(n int) // called after each write, with the number of writes so far
}

func (w *sizeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.sizes = append(w.sizes, len(p))
	n, _ := w.buf.Write(p)
	count := len(w.sizes)
	w.mu.Unlock()
	if w.onLast != nil {
		w.onLast(count)
	}
	return n, nil
}

func openDownload(t *testing.T, tr *Tree, name string) *handle {
	t.Helper()
	h, err := tr.openHandle(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// manyDownloads makes the downloads of a test count as if copyingDownloads others ran, so that
// unthrottled ones take sendfile(2).
func manyDownloads(t *testing.T) {
	sendingDownloads.Add(copyingDownloads)
	t.Cleanup(func() { sendingDownloads.Add(-copyingDownloads) })
}

// TestZeroCopyDownload: unthrottled, with more than copyingDownloads downloads running, WriteTo
// hands a ReaderFrom destination an *io.LimitedReader around the *os.File itself, which
// *net.TCPConn.ReadFrom turns into sendfile(2).
func TestZeroCopyDownload(t *testing.T) {
	manyDownloads(t)
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 3*1024*1024+123)
	var rec recorder
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
		OnTransfer:     rec.add,
		DownloadLimits: []*Limiter{nil, NewLimiter(0)}, // present but unlimited
	})
	h := openDownload(t, tr, "/f")
	h.zeroCopyChunk = 1 << 20
	dst := &recordingRF{}
	n, err := io.Copy(dst, h) // as ftpserverlib does
	if err != nil || n != int64(len(data)) || !bytes.Equal(dst.buf.Bytes(), data) {
		t.Fatalf("io.Copy = %d, %v; content equal: %v", n, err, bytes.Equal(dst.buf.Bytes(), data))
	}
	if len(dst.readers) < 4 {
		t.Fatalf("ReadFrom called %d times, want one per 1 MiB chunk", len(dst.readers))
	}
	for i, r := range dst.readers {
		lr, ok := r.(*io.LimitedReader)
		if !ok {
			t.Fatalf("reader %d is a %T, want *io.LimitedReader", i, r)
		}
		if f, ok := lr.R.(*os.File); !ok || f != h.f {
			t.Fatalf("reader %d wraps a %T, want the handle's *os.File", i, lr.R)
		}
	}
	_ = h.Close()
	if ts := rec.all(); len(ts) != 1 || ts[0].Bytes != int64(len(data)) || !ts[0].Complete || ts[0].Direction != Download {
		t.Fatalf("transfers = %+v", ts)
	}
}

// TestFewDownloadsCopy: unthrottled, while at most copyingDownloads downloads run, WriteTo
// sends the first step with sendfile(2) and copies the next ones through the pooled buffer even
// to a ReaderFrom destination, and goes back to sendfile as soon as more run, in the middle of
// a transfer. A file of one step is sent as before.
func TestFewDownloadsCopy(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 5<<20+5)
	small := randomFile(t, dir, "small", 100<<10)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{})

	h := openDownload(t, tr, "/small")
	dst := &switchingRF{onWrite: func(int) {}}
	if n, err := io.Copy(dst, h); err != nil || !bytes.Equal(dst.buf.Bytes(), small) {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	if dst.copied != 0 || len(dst.readers) != 1 {
		t.Fatalf("small file: %d bytes written, %d ReadFrom calls; want 0 and 1", dst.copied, len(dst.readers))
	}
	_ = h.Close()

	h = openDownload(t, tr, "/f")
	h.zeroCopyChunk = 1 << 20
	dst = &switchingRF{}
	dst.onWrite = func(total int) {
		if total == 2<<20 && !dst.switched { // two chunks copied: the others start
			dst.switched = true
			manyDownloads(t)
		}
	}
	n, err := io.Copy(dst, h)
	if err != nil || n != int64(len(data)) || !bytes.Equal(dst.buf.Bytes(), data) {
		t.Fatalf("io.Copy = %d, %v; content equal: %v", n, err, bytes.Equal(dst.buf.Bytes(), data))
	}
	if dst.copied != 2<<20 || len(dst.readers) != 1+3 {
		t.Fatalf("%d bytes copied through Write, %d ReadFrom calls; want 2 MiB, and 1 before, 3 after",
			dst.copied, len(dst.readers))
	}
	for _, sz := range dst.sizes {
		if sz != copyBufferSize {
			t.Fatalf("writes of %v bytes, want %d each", dst.sizes, copyBufferSize)
		}
	}
	_ = h.Close()
	if sendingDownloads.Load() != copyingDownloads {
		t.Fatalf("%d downloads counted after the transfer, want the %d others", sendingDownloads.Load(), copyingDownloads)
	}
}

// switchingRF is an io.ReaderFrom that records the writes and readers it is handed.
type switchingRF struct {
	recordingRF
	sizes    []int
	copied   int
	switched bool
	onWrite  func(total int)
}

func (r *switchingRF) Write(p []byte) (int, error) {
	r.sizes = append(r.sizes, len(p))
	r.copied += len(p)
	n, err := r.buf.Write(p)
	r.onWrite(r.copied)
	return n, err
}

func (r *switchingRF) ReadFrom(src io.Reader) (int64, error) { return r.recordingRF.ReadFrom(src) }

// TestBufferedDownload: a destination without ReadFrom (TLS) gets large writes from a pooled buffer.
func TestBufferedDownload(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 1<<20+7)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{})
	h := openDownload(t, tr, "/f")
	w := &sizeWriter{}
	if n, err := io.Copy(w, h); err != nil || n != int64(len(data)) || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("io.Copy = %d, %v", n, err)
	}
	if w.sizes[0] != bufferSize {
		t.Errorf("first write of %d bytes, want %d", w.sizes[0], bufferSize)
	}
	_ = h.Close()
}

// TestThrottledDownload: with limits, chunks never exceed the smallest burst, the lowest rate
// applies, and the time taken matches it.
func TestThrottledDownload(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 300_000)
	server, user := NewLimiter(4_000_000), NewLimiter(1_000_000) // bursts 400 KB and 100 KB
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{DownloadLimits: []*Limiter{server, user}})
	for _, mode := range []string{"WriteTo", "Read"} {
		h := openDownload(t, tr, "/f")
		w := &sizeWriter{}
		start := time.Now()
		var err error
		if mode == "WriteTo" {
			_, err = io.Copy(w, h)
		} else {
			_, err = io.Copy(onlyWriter{w}, onlyReader{h}) // the ASCII conversion path
		}
		elapsed := time.Since(start)
		_ = h.Close()
		if err != nil || !bytes.Equal(w.buf.Bytes(), data) {
			t.Fatalf("%s: %v", mode, err)
		}
		for _, s := range w.sizes {
			if s > 100_000 {
				t.Fatalf("%s: a write of %d bytes, more than the user's burst", mode, s)
			}
		}
		// the first 100 KB pass at once (full bucket), the other 200 KB take 0.2 s at 1 MB/s
		// (the second run starts with an empty bucket: 0.3 s)
		if elapsed < 150*time.Millisecond {
			t.Errorf("%s: 300 KB at 1 MB/s took %v", mode, elapsed)
		}
	}
}

// TestSetRateAppliesToRunningTransfer: a transfer that started unlimited is throttled from its
// next chunk on when a limit is set (reload).
func TestSetRateAppliesToRunningTransfer(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "f", 400_000)
	lim := NewLimiter(0)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{DownloadLimits: []*Limiter{lim}})
	h := openDownload(t, tr, "/f")
	h.zeroCopyChunk = 64 << 10
	w := &sizeWriter{onLast: func(n int) {
		if n == 1 {
			lim.SetRate(1_000_000) // burst 100 KB
		}
	}}
	start := time.Now()
	if _, err := io.Copy(w, h); err != nil || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	_ = h.Close()
	if w.sizes[0] != 64<<10 {
		t.Errorf("first chunk %d bytes", w.sizes[0])
	}
	for _, s := range w.sizes[1:] {
		if s > 100_000 {
			t.Fatalf("a write of %d bytes after the limit was set", s)
		}
	}
	// 64 KiB unthrottled, 100 KB from the full bucket, the remaining ~234 KB at 1 MB/s
	if elapsed < 150*time.Millisecond {
		t.Errorf("took %v, the new limit was not applied", elapsed)
	}
}

// TestSharedLimiter: two transfers sharing a bucket together stay within its rate.
func TestSharedLimiter(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "a", 200_000)
	randomFile(t, dir, "b", 200_000)
	shared := NewLimiter(1_000_000)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{DownloadLimits: []*Limiter{shared}})
	start := time.Now()
	var wg sync.WaitGroup
	for _, name := range []string{"/a", "/b"} {
		h := openDownload(t, tr, name)
		wg.Go(func() {
			defer h.Close()
			if _, err := io.Copy(io.Discard, h); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// 400 KB at 1 MB/s, the first 100 KB free: at least 0.3 s
	if elapsed := time.Since(start); elapsed < 250*time.Millisecond {
		t.Errorf("two transfers sharing 1 MB/s moved 400 KB in %v", elapsed)
	}
}

// TestCloseInterruptsWait: closing the tree interrupts a throttled transfer at once.
func TestCloseInterruptsWait(t *testing.T) {
	dir := t.TempDir()
	randomFile(t, dir, "f", 100_000)
	var rec recorder
	tr, err := NewTree([]Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
		DownloadLimits: []*Limiter{NewLimiter(1000)}, // 100 s for the file
		UploadLimits:   []*Limiter{NewLimiter(1000)},
		OnTransfer:     rec.add,
		AtomicUploads:  true,
	})
	if err != nil {
		t.Fatal(err)
	}
	down := openDownload(t, tr, "/f")
	up, err := tr.openHandle("/g", storFlags, 0)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { _, err := io.Copy(io.Discard, down); errs <- err }()
	go func() { _, err := io.Copy(up, bytes.NewReader(make([]byte, 100_000))); errs <- err }()
	_ = tr.Close()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, os.ErrClosed) {
				t.Errorf("err = %v, want the session closed", err)
			}
			checkSafe(t, err, dir)
		case <-time.After(10 * time.Second):
			t.Fatal("a throttled transfer was not interrupted by Close")
		}
	}
	_ = down.Close()
	_ = up.Close()
	for _, tr := range rec.all() {
		if tr.Complete {
			t.Errorf("interrupted transfer reported complete: %+v", tr)
		}
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestThrottledUpload covers ReadFrom and Write with a limit.
func TestThrottledUpload(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 250_000)
	_, _ = rand.Read(data)
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{UploadLimits: []*Limiter{NewLimiter(1_000_000)}})
	for _, mode := range []string{"ReadFrom", "Write"} {
		h, err := tr.openHandle("/"+mode, storFlags, 0)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if mode == "ReadFrom" {
			_, err = io.Copy(h, bytes.NewReader(data))
		} else {
			_, err = h.Write(data)
		}
		elapsed := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		_ = h.Close()
		if got := readFile(t, filepath.Join(dir, mode)); got != string(data) {
			t.Fatalf("%s: content differs", mode)
		}
		if elapsed < 100*time.Millisecond {
			t.Errorf("%s: 250 KB at 1 MB/s took %v", mode, elapsed)
		}
	}
}

// TestTCPTransfers moves files over real loopback TCP connections, both ways, unthrottled
// (copied or with sendfile, and splice) and throttled.
func TestTCPTransfers(t *testing.T) {
	dir := t.TempDir()
	data := randomFile(t, dir, "src", 5<<20+17)
	for i, limit := range []Rate{0, 50_000_000, 0} {
		if i == 2 {
			manyDownloads(t) // sendfile
		}
		tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
			DownloadLimits: []*Limiter{NewLimiter(limit)},
			UploadLimits:   []*Limiter{NewLimiter(limit)},
			AtomicUploads:  true,
		})
		// download: io.Copy(conn, handle)
		client, server := tcpPair(t)
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(client); got <- b }()
		h := openDownload(t, tr, "/src")
		if _, err := io.Copy(server, h); err != nil {
			t.Fatal(err)
		}
		_ = h.Close()
		_ = server.Close()
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("limit %v: downloaded %d bytes, differing", limit, len(b))
		}
		_ = client.Close()

		// upload: io.Copy(handle, conn)
		client, server = tcpPair(t)
		go func() { _, _ = client.Write(data); _ = client.Close() }()
		up, err := tr.openHandle("/dst", storFlags, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := io.Copy(up, server); err != nil || n != int64(len(data)) {
			t.Fatalf("limit %v: upload = %d, %v", limit, n, err)
		}
		if err := up.Close(); err != nil {
			t.Fatal(err)
		}
		_ = server.Close()
		if got := readFile(t, filepath.Join(dir, "dst")); got != string(data) {
			t.Fatalf("limit %v: uploaded content differs (%d bytes)", limit, len(got))
		}
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return client, server
}
