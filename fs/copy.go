package fs

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"
)

const (
	// zeroCopyChunk is how much an unthrottled copy moves per step (one sendfile/splice call
	// sequence); limits set meanwhile (a reload) are applied from the next step on.
	//
	// It is also the unit of the stall timeout on the zero-copy paths: the data connection's
	// deadline is set before each step, so a whole chunk must move within
	// Options.StallTimeout. The slowest client that still counts as "moving" is therefore
	// about zeroCopyChunk / StallTimeout: 1 MiB / 30 s, about 35 KB/s, with the default
	// data_timeout (the buffered paths, TLS, guard each 256 KiB write or each read, and are
	// more lenient). BenchmarkDownloadUnlimited over loopback (~2.1 GB/s): 1 MiB chunks cost
	// under 1% next to 4 MiB ones, 256 KiB chunks 2 to 6% (more CPU per byte), hence 1 MiB.
	zeroCopyChunk = 1 << 20
	// bufferSize is the size of the pooled copy buffers, used when zero-copy is impossible (TLS,
	// deflate) and when throttling.
	bufferSize = 256 << 10
	// unsentLimit caps the data a download leaves unsent in the socket when a stall timeout
	// applies (see limitUnsent), except while it copies with few downloads running (copyUnsent).
	unsentLimit = bufferSize
	// copyingDownloads is how many downloads may run at once before the unthrottled ones send
	// with sendfile(2) instead of copying (see WriteTo).
	copyingDownloads = 4
	// copyBufferSize is the size of the buffers a download copies through while few run (one
	// read and one write per zero-copy step), and copyUnsent the cap on the socket's unsent data
	// meanwhile: 1 MiB writes under a 1 MiB cap cost both ends less CPU than 256 KiB ones (the
	// receiver wakes half as often), and the slowest client a step waits for is the same as
	// with sendfile's 1 MiB steps under a 256 KiB cap (see zeroCopyChunk).
	copyBufferSize = 1 << 20
	copyUnsent     = copyBufferSize
)

// copyBufs holds the buffers of copying downloads, process-wide: few use one at a time.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// sendingDownloads counts the downloads in progress, process-wide, that could send with
// sendfile(2): unthrottled ones choose between a copy and sendfile by it at every step.
var sendingDownloads atomic.Int64

// plan returns the size of the next chunk and whether a limit currently applies: a throttled
// chunk never exceeds the burst of any applicable bucket.
func (h *handle) plan() (chunk int, limited bool) {
	chunk = bufferSize
	for _, l := range h.limits {
		if b := l.current(); b != nil {
			limited = true
			chunk = min(chunk, b.burst)
		}
	}
	return chunk, limited
}

// wait blocks until n bytes may pass every applicable limiter, or the tree is closed.
func (h *handle) wait(n int) error {
	for _, l := range h.limits {
		if err := l.waitN(h.t.ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (h *handle) buffer() (*[]byte, func()) {
	b := h.t.bufs.Get().(*[]byte)
	return b, func() { h.t.bufs.Put(b) }
}

// done records a copy step and turns its error into the one to return.
func (h *handle) done(n int64, err error) error {
	h.bytes.Add(n)
	if err != nil && err != io.EOF {
		h.failed.Store(true)
		return h.t.ioError(h.vpath, err)
	}
	return err
}

// cancelled returns an error once the tree is closed.
func (h *handle) cancelled() error {
	if h.t.ctx.Err() != nil {
		return h.done(0, errWaitCancelled)
	}
	return nil
}

// WriteTo sends the file to w (a download). Unthrottled, it hands w an *io.LimitedReader
// around the *os.File, which a *net.TCPConn turns into sendfile(2), for the first step, and
// for the next ones while more than copyingDownloads downloads run; with fewer, the steps after
// the first copy through a pooled 1 MiB buffer. When w cannot read from a reader (TLS) it
// always copies. Throttled, it copies chunks no larger than
// the burst, waiting on every applicable limiter before each. With Options.StallTimeout, w's
// deadline is set before each chunk or write (see stallGuard).
//
// Why copy when sendfile could be used: with few streams, the copy costs both ends less.
// sendfile queues the page cache's pages themselves, one 4 KiB fragment each, with per-page
// work on the way in and again when they are acknowledged, and a receiver on the same host (a
// local client, a proxy) then copies them out of memory, cold; the copy queues large fragments
// freshly written. 1 GiB over loopback to a Go client reading 256 KiB at a time, medians:
// server 0.31 and client 0.23 CPU s/GiB copying, against 0.47 and 0.36 with sendfile, 2300
// against 1600 MB/s; to a client that discards without copying (MSG_TRUNC), the server still
// spends 0.29 against 0.42. With many streams the copy loses (the fragments are cold again by
// the time they are read, and a buffer per download is memory): 200 parallel downloads ran
// 1474 MB/s copying through 256 KiB buffers, 1777 with sendfile.
func (h *handle) WriteTo(w io.Writer) (int64, error) {
	if sc, ok := transportOf(w).(SettlingConn); ok {
		h.settle = sc
	}
	g := h.guard(w, true)
	defer g.disarm()
	gw := g.writer(w)
	rf, isRF := w.(io.ReaderFrom)
	if isRF && h.f != nil {
		sendingDownloads.Add(1)
		defer sendingDownloads.Add(-1)
		if _, ok := gw.(io.ReaderFrom); ok {
			gw = writerOnly{gw} // the copy must not turn back into sendfile
		}
	}
	var total int64
	for {
		if err := h.cancelled(); err != nil {
			return total, err
		}
		chunk, limited := h.plan()
		var (
			n   int64
			err error
			eof bool
		)
		// the first step always sends with sendfile: a file of one step (most files) goes as
		// before, without a copy, a second cap or the connection's coalescing of small writes
		few := total > 0 && sendingDownloads.Load() <= copyingDownloads
		switch {
		case !limited && isRF && h.f != nil && !few:
			g.limitUnsent(unsentLimit)
			lr := &io.LimitedReader{R: h.f, N: h.zeroCopyChunk}
			g.arm()
			n, err = rf.ReadFrom(lr)
			eof = lr.N > 0
		case !limited && isRF && h.f != nil:
			g.limitUnsent(copyUnsent)
			buf := copyBufs.Get().(*[]byte)
			lr := &io.LimitedReader{R: h.f, N: h.zeroCopyChunk}
			n, err = io.CopyBuffer(gw, lr, *buf)
			copyBufs.Put(buf)
			eof = lr.N > 0
		case !limited:
			buf, put := h.buffer()
			lr := &io.LimitedReader{R: h.rd, N: h.zeroCopyChunk}
			n, err = io.CopyBuffer(gw, lr, *buf)
			put()
			eof = lr.N > 0
		default:
			n, eof, err = h.throttledStep(gw, h.rd, chunk)
		}
		if err == io.EOF {
			err, eof = nil, true
		}
		total += n
		if err := h.done(n, g.check(h, err)); err != nil {
			return total, err
		}
		if eof {
			return total, nil
		}
	}
}

// ReadFrom receives the file from r (an upload). Unthrottled and when r is a socket, it hands
// the *os.File's own ReadFrom an *io.LimitedReader around r, which becomes splice(2); otherwise
// it copies through a pooled buffer. Throttled, it copies chunks no larger than the burst,
// waiting on every applicable limiter before writing each. With Options.StallTimeout, r's
// deadline is set before each chunk or read (see stallGuard).
func (h *handle) ReadFrom(r io.Reader) (int64, error) {
	_, isSocket := r.(syscall.Conn)
	g := h.guard(r, false)
	defer g.disarm()
	gr := g.reader(r)
	var total int64
	for {
		if err := h.cancelled(); err != nil {
			return total, err
		}
		chunk, limited := h.plan()
		step := h.zeroCopyChunk
		if h.q != nil {
			// one byte more than the quota leaves tells a file that fits exactly from one
			// that does not
			if room := h.quotaRoom(); room < step {
				step = room + 1
				chunk = int(min(int64(chunk), step))
			}
		}
		var (
			n   int64
			err error
			eof bool
		)
		switch {
		case !limited && isSocket && h.f != nil:
			lr := &io.LimitedReader{R: r, N: step}
			g.arm()
			n, err = h.f.ReadFrom(lr)
			eof = lr.N > 0
		case !limited:
			buf, put := h.buffer()
			lr := &io.LimitedReader{R: gr, N: step}
			n, err = fillCopy(h.wr, lr, *buf)
			put()
			eof = lr.N > 0
		default:
			n, eof, err = h.throttledStep(h.wr, gr, chunk)
		}
		if err == io.EOF {
			err, eof = nil, true
		}
		total += n
		err = g.check(h, err)
		if err == nil && h.q != nil && n > 0 {
			if err = h.charge(n); err != nil {
				drainRefused(r)
			}
		}
		if err := h.done(n, err); err != nil {
			return total, err
		}
		if eof {
			if ec, ok := transportOf(r).(EndingConn); ok {
				if err := ec.UploadEnd(); err != nil {
					return total, h.done(0, err)
				}
			}
			return total, nil
		}
	}
}

// throttledStep reads up to chunk bytes from src, waits for the limiters, and writes them to dst.
func (h *handle) throttledStep(dst io.Writer, src io.Reader, chunk int) (n int64, eof bool, err error) {
	buf, put := h.buffer()
	defer put()
	nr, rerr := src.Read((*buf)[:chunk])
	if nr > 0 {
		if err := h.wait(nr); err != nil {
			return 0, false, err
		}
		nw, werr := dst.Write((*buf)[:nr])
		n = int64(nw)
		if werr == nil && nw < nr {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return n, false, werr
		}
	}
	switch {
	case rerr == io.EOF:
		return n, true, nil
	case rerr != nil:
		return n, false, rerr
	}
	return n, false, nil
}

// Read reads from the file (used when the library converts line ends, or by other callers),
// throttled like WriteTo.
func (h *handle) Read(p []byte) (int, error) {
	if h.rd == nil {
		return 0, fail(h.vpath, errNotReadable)
	}
	if err := h.cancelled(); err != nil {
		return 0, err
	}
	chunk, limited := h.plan()
	if limited && len(p) > chunk {
		p = p[:chunk]
	}
	n, err := h.rd.Read(p)
	if limited && n > 0 {
		if werr := h.wait(n); werr != nil {
			return 0, h.done(0, werr)
		}
	}
	return n, h.done(int64(n), err)
}

// Write writes to the file, throttled like ReadFrom.
func (h *handle) Write(p []byte) (int, error) {
	if h.wr == nil {
		return 0, fail(h.vpath, errNotWritable)
	}
	total := 0
	for {
		if err := h.cancelled(); err != nil {
			return total, err
		}
		chunk, limited := h.plan()
		k := len(p)
		if limited {
			k = min(k, chunk)
			if err := h.wait(k); err != nil {
				return total, h.done(0, err)
			}
		}
		n, err := h.wr.Write(p[:k])
		total += n
		if err == nil && h.q != nil && n > 0 {
			err = h.charge(int64(n))
		}
		if err := h.done(int64(n), err); err != nil {
			return total, err
		}
		p = p[k:]
		if len(p) == 0 {
			return total, nil
		}
	}
}

// writerOnly hides the ReadFrom of a writer, so that io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }

// fillCopy copies src to dst, filling buf before each write: a TLS connection
// reads one record (16 KiB at most) at a time, and a write per record costs
// more system calls than the disk needs.
func fillCopy(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, rerr := io.ReadFull(src, buf)
		if n > 0 {
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		switch rerr {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return total, nil
		default:
			return total, rerr
		}
	}
}
