package fs

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// handle is an open file being transferred. It implements io.WriterTo and io.ReaderFrom so that
// ftpserverlib's io.Copy keeps the kernel's zero-copy paths when no limit applies.
type handle struct {
	t     *Tree
	f     *os.File // the local file, for the zero-copy paths; nil in other storage
	src   Source   // download
	sink  Sink     // upload
	rd    io.Reader
	wr    io.Writer
	m     *mount
	vpath string
	rel   string // target, inside the folder
	dir   Direction
	start time.Time

	limits []*Limiter

	zeroCopyChunk int64 // bytes per unthrottled copy step; limits are checked between steps

	bytes  atomic.Int64
	failed atomic.Bool // TransferError was called, or a copy failed

	// quota accounting of an upload (q nil: none)
	q        *Quota
	qAtomic  bool  // the upload replaces the file only when complete
	qNew     bool  // the upload creates a file (counted as one more file)
	qFree    int64 // bytes of the old file the upload replaces, not yet written over
	qCharged int64 // bytes charged to the quota beyond qFree

	settle SettlingConn // a download's connection, which settles its result when closed

	closeOnce sync.Once
	closeErr  error
}

// Compile-time guards for the interfaces ftpserverlib and io.Copy look for.
var (
	_ ftpserver.FileTransfer      = (*handle)(nil)
	_ ftpserver.FileTransferError = (*handle)(nil)
	_ io.WriterTo                 = (*handle)(nil)
	_ io.ReaderFrom               = (*handle)(nil)
)

// GetHandle opens a file for a transfer. os.O_RDONLY is a download (RETR), which needs "read".
// A write (STOR, APPE) needs "append" with os.O_APPEND or a non-zero offset (REST), and "write"
// otherwise. With atomic uploads a truncating write goes to a hidden temporary file beside the
// target, renamed over it by Close only when the transfer completed.
func (t *Tree) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	h, err := t.openHandle(name, flags, offset)
	if err != nil {
		return nil, err
	}
	return h, nil
}

func (t *Tree) openHandle(name string, flags int, offset int64) (*handle, error) {
	n, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	write := flags&(os.O_WRONLY|os.O_RDWR) != 0
	switch {
	case n.reserved && write:
		return nil, fail(n.vpath, errReservedName)
	case n.reserved:
		return nil, fail(n.vpath, errNotExist)
	case n.m == nil && n.ancestor, n.isMountPoint():
		return nil, fail(n.vpath, errIsDir)
	case n.m == nil && write:
		return nil, fail(n.vpath, errVirtualDir)
	case n.m == nil:
		return nil, fail(n.vpath, errNotExist)
	}
	if !write {
		return t.openRead(n, offset)
	}
	return t.openWrite(n, flags, offset)
}

func (t *Tree) openRead(n node, offset int64) (*handle, error) {
	if err := need(n, PermRead); err != nil {
		return nil, err
	}
	src, err := n.m.b.Open(n.rel, offset)
	if err != nil {
		return nil, t.openError(n, err)
	}
	h := &handle{src: src, rd: src, dir: Download, limits: t.dlLim}
	if f, ok := src.(*os.File); ok {
		h.f = f
	}
	return t.register(n, h)
}

// openError maps a backend's error opening n.
func (t *Tree) openError(n node, err error) error {
	if n.ancestor && os.IsNotExist(err) {
		return fail(n.vpath, errIsDir)
	}
	return t.osError("open", n.vpath, err)
}

func (t *Tree) openWrite(n node, flags int, offset int64) (*handle, error) {
	appending := flags&os.O_APPEND != 0 || offset > 0
	// "append" writes at the end only: APPE, or a REST+STOR at exactly the file's size (checked
	// by the backend on the open file); a REST+STOR elsewhere also needs "write".
	if appending {
		if err := need(n, PermAppend); err != nil {
			return nil, err
		}
	} else if err := need(n, PermWrite); err != nil {
		return nil, err
	}
	if flags&os.O_RDWR != 0 {
		if err := need(n, PermRead); err != nil {
			return nil, err
		}
	}
	w := Write{
		Flags:     flags,
		Offset:    offset,
		Atomic:    t.opt.AtomicUploads && !appending && flags&os.O_TRUNC != 0,
		AtEndOnly: offset > 0 && !n.m.perm.Has(PermWrite),
	}
	h := &handle{dir: Upload, limits: t.ulLim}
	if q := n.m.quota; q != nil {
		if err := t.quotaOpen(n, q, h, w); err != nil {
			return nil, err
		}
	}
	sink, err := n.m.b.Create(n.rel, w)
	if err != nil {
		return nil, t.openError(n, err)
	}
	h.sink, h.wr = sink, sink
	if of, ok := sink.(osFiler); ok {
		h.f = of.File()
		h.wr = h.f
		if flags&os.O_RDWR != 0 {
			h.rd = h.f
		}
	}
	if h.q != nil && !h.qAtomic {
		h.q.add(-h.qFreeTruncated(w), 0) // an in-place STOR truncates the old file at once
	}
	return t.register(n, h)
}

// register completes a new handle; it fails once the tree is closed.
func (t *Tree) register(n node, h *handle) (*handle, error) {
	h.t, h.m, h.vpath, h.rel, h.start, h.zeroCopyChunk = t, n.m, n.vpath, n.rel, time.Now(), zeroCopyChunk
	if err := t.acquire(n.vpath); err != nil {
		h.finish(false)
		return nil, err
	}
	return h, nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// TransferError marks the transfer as interrupted (ABOR, a dropped or reset data connection, a
// copy error): Close then discards an atomic upload's temporary file.
func (h *handle) TransferError(err error) {
	h.failed.Store(true)
	h.t.log.Debug("transfer interrupted", "path", h.vpath, "direction", h.dir.String(), "err", err)
}

// Seek sets the offset of the next read or write (REST).
func (h *handle) Seek(offset int64, whence int) (int64, error) {
	var (
		n   int64
		err error
	)
	if h.sink != nil {
		n, err = h.sink.Seek(offset, whence)
	} else {
		n, err = h.src.Seek(offset, whence)
	}
	if err != nil {
		return n, h.t.osError("seek", h.vpath, err)
	}
	return n, nil
}

// Close closes the file; for a completed atomic upload it renames the temporary file over the
// target, for an interrupted one it removes the temporary file. It then reports the transfer to
// Options.OnTransfer. Only the first call does anything.
func (h *handle) Close() error {
	h.closeOnce.Do(func() { h.closeErr = h.close() })
	return h.closeErr
}

func (h *handle) close() error {
	complete := !h.failed.Load()
	err := h.finish(complete)
	if err != nil {
		complete = false
	}
	h.t.release()
	if cb := h.t.opt.OnTransfer; cb != nil {
		report := func(complete bool) {
			cb(Transfer{
				Direction: h.dir,
				Path:      h.vpath,
				Bytes:     h.bytes.Load(),
				Start:     h.start,
				Duration:  time.Since(h.start),
				Complete:  complete,
			})
		}
		if h.settle != nil && complete {
			// The last bytes may still sit in the connection's buffer: the
			// download is complete only if they leave.
			h.settle.SettleOnClose(func(err error) { report(err == nil) })
		} else {
			report(complete)
		}
	}
	if err != nil && h.dir == Upload {
		return h.t.osError("close", h.vpath, err)
	}
	return nil
}

// finish ends the backend's side of the transfer and settles the quota.
func (h *handle) finish(complete bool) error {
	var err error
	if h.sink != nil {
		err = h.sink.Finish(complete)
	} else if h.src != nil {
		_ = h.src.Close()
	}
	if h.q != nil {
		h.quotaFinish(complete && err == nil)
	}
	return err
}
