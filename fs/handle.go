package fs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// handle is an open file being transferred. It implements io.WriterTo and io.ReaderFrom so that
// ftpserverlib's io.Copy keeps the kernel's zero-copy paths when no limit applies.
type handle struct {
	t      *Tree
	f      *os.File
	m      *mount
	vpath  string
	rel    string   // target, inside m.root
	tmpDir *os.Root // atomic upload: the target's directory, wherever it moves; nil otherwise
	tmp    string   // atomic upload: the temporary file's name in tmpDir
	// appendAt is, for a REST+STOR allowed by "append" only, the offset of the file's end:
	// Seek may not go elsewhere. 0 otherwise.
	appendAt int64
	dir      Direction
	limits   []*Limiter
	start    time.Time

	zeroCopyChunk int64 // bytes per unthrottled copy step; limits are checked between steps

	bytes  atomic.Int64
	failed atomic.Bool // TransferError was called, or a copy failed

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
		return t.openRead(n)
	}
	return t.openWrite(n, flags, offset)
}

func (t *Tree) openRead(n node) (*handle, error) {
	if err := need(n, PermRead); err != nil {
		return nil, err
	}
	f, err := t.openRegular(n, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return t.newHandle(n, f, nil, "", Download)
}

// openRegular opens the file of n with flags, unless it is not a regular file: a directory,
// a FIFO, a device or a socket is refused at once, and never opened (an open of a FIFO waits for
// its other end; an open of a device may act on it). The file is checked before the open, and
// once more on the open file, which a FIFO put in its place meanwhile cannot block.
func (t *Tree) openRegular(n node, flags int) (*os.File, error) {
	fi, err := n.m.root.Stat(n.rel)
	switch {
	case err != nil && n.ancestor && os.IsNotExist(err):
		return nil, fail(n.vpath, errIsDir)
	case err != nil && !(os.IsNotExist(err) && flags&os.O_CREATE != 0):
		return nil, t.osError("open", n.vpath, err)
	case err == nil && fi.IsDir():
		return nil, fail(n.vpath, errIsDir)
	case err == nil && !fi.Mode().IsRegular():
		return nil, fail(n.vpath, errNotRegular)
	}
	f, err := n.m.root.OpenFile(n.rel, flags|openNonBlock, 0o644)
	if err != nil {
		return nil, t.osError("open", n.vpath, err)
	}
	if err := regular(t, n, f); err != nil {
		return nil, err
	}
	if err := blocking(f); err != nil {
		_ = f.Close()
		return nil, t.osError("open", n.vpath, err)
	}
	return f, nil
}

func (t *Tree) openWrite(n node, flags int, offset int64) (*handle, error) {
	appending := flags&os.O_APPEND != 0 || offset > 0
	// "append" writes at the end only: APPE, or a REST+STOR at exactly the file's size (checked
	// once the file is open); a REST+STOR elsewhere also needs "write".
	if appending {
		if err := need(n, PermAppend); err != nil {
			return nil, err
		}
	} else if err := need(n, PermWrite); err != nil {
		return nil, err
	}
	canWrite := n.m.perm.Has(PermWrite)
	if flags&os.O_RDWR != 0 {
		if err := need(n, PermRead); err != nil {
			return nil, err
		}
	}
	access := os.O_WRONLY
	if flags&os.O_RDWR != 0 {
		access = os.O_RDWR
	}
	if t.opt.AtomicUploads && !appending && flags&os.O_TRUNC != 0 {
		return t.openTemp(n, access)
	}
	// O_APPEND is replaced by a seek to the end: the kernel refuses splice(2) into O_APPEND files.
	oflags := access | flags&(os.O_CREATE|os.O_EXCL)
	if !appending {
		oflags |= flags & os.O_TRUNC
	}
	f, err := t.openRegular(n, oflags)
	if err != nil {
		return nil, err
	}
	if flags&os.O_APPEND != 0 {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			_ = f.Close()
			return nil, t.osError("seek", n.vpath, err)
		}
	} else if offset > 0 && !canWrite {
		fi, err := f.Stat()
		if err == nil && fi.Size() != offset {
			err = fail(n.vpath, &permError{need: []Perm{PermWrite}, why: "a restart offset below or past the end of the file"})
		}
		if err != nil {
			_ = f.Close()
			return nil, t.osError("stat", n.vpath, err)
		}
	}
	h, err := t.newHandle(n, f, nil, "", Upload)
	if err != nil {
		return nil, err
	}
	if offset > 0 && !canWrite {
		h.appendAt = offset
	}
	return h, nil
}

// openTemp creates the hidden temporary file of an atomic upload beside the target. The upload
// keeps the directory open (dir), so that the temporary file is renamed or removed wherever the
// directory moves meanwhile, and keeps the file locked, which tells it from a stale one.
func (t *Tree) openTemp(n node, access int) (*handle, error) {
	// Refuse what a direct write would refuse: a directory, a special file, or a symbolic
	// link leading outside.
	fi, err := n.m.root.Stat(n.rel)
	switch {
	case err == nil && fi.IsDir():
		return nil, fail(n.vpath, errIsDir)
	case err == nil && !fi.Mode().IsRegular():
		return nil, fail(n.vpath, errNotRegular)
	case err != nil && !os.IsNotExist(err):
		return nil, t.osError("open", n.vpath, err)
	}
	dir, err := n.m.root.OpenRoot(path.Dir(n.rel))
	if err != nil {
		return nil, t.osError("open", n.vpath, err)
	}
	var lastErr error
	for range 8 {
		tmp := tempPrefix + randomSuffix()
		f, err := dir.OpenFile(tmp, access|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			lastErr = err
			if errors.Is(err, os.ErrExist) {
				continue
			}
			break
		}
		if lastErr = lockTemp(f); lastErr == nil {
			return t.newHandle(n, f, dir, tmp, Upload)
		}
		// a sweep took it between the create and the lock: try another name
		_ = f.Close()
		_ = dir.Remove(tmp)
	}
	_ = dir.Close()
	return nil, t.osError("create temporary", n.vpath, lastErr)
}

// regular closes f and returns an error unless it is a regular file.
func regular(t *Tree, n node, f *os.File) error {
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = t.osError("open", n.vpath, err)
	case fi.IsDir():
		err = fail(n.vpath, errIsDir)
	case !fi.Mode().IsRegular():
		err = fail(n.vpath, errNotRegular)
	default:
		return nil
	}
	_ = f.Close()
	return err
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

func (t *Tree) newHandle(n node, f *os.File, tmpDir *os.Root, tmp string, dir Direction) (*handle, error) {
	if err := t.acquire(n.vpath); err != nil {
		_ = f.Close()
		if tmpDir != nil {
			_ = tmpDir.Remove(tmp)
			_ = tmpDir.Close()
		}
		return nil, err
	}
	limits := t.dlLim
	if dir == Upload {
		limits = t.ulLim
	}
	return &handle{
		t:             t,
		f:             f,
		m:             n.m,
		vpath:         n.vpath,
		rel:           n.rel,
		tmpDir:        tmpDir,
		tmp:           tmp,
		dir:           dir,
		limits:        limits,
		start:         time.Now(),
		zeroCopyChunk: zeroCopyChunk,
	}, nil
}

// TransferError marks the transfer as interrupted (ABOR, a dropped or reset data connection, a
// copy error): Close then discards an atomic upload's temporary file.
func (h *handle) TransferError(err error) {
	h.failed.Store(true)
	h.t.log.Debug("transfer interrupted", "path", h.vpath, "direction", h.dir.String(), "err", err)
}

// Seek sets the offset of the next read or write (REST).
func (h *handle) Seek(offset int64, whence int) (int64, error) {
	if h.appendAt > 0 && (whence != io.SeekStart || offset != h.appendAt) {
		return 0, fail(h.vpath, &permError{need: []Perm{PermWrite}, why: "a restart offset below or past the end of the file"})
	}
	n, err := h.f.Seek(offset, whence)
	return n, h.t.ioError(h.vpath, err)
}

// Close closes the file; for a completed atomic upload it renames the temporary file over the
// target, for an interrupted one it removes the temporary file. It then reports the transfer to
// Options.OnTransfer. Only the first call does anything.
func (h *handle) Close() error {
	h.closeOnce.Do(func() { h.closeErr = h.close() })
	return h.closeErr
}

func (h *handle) close() error {
	err := h.f.Close()
	complete := err == nil && !h.failed.Load()
	if h.tmpDir != nil {
		if complete {
			err = h.tmpDir.Rename(h.tmp, path.Base(h.rel))
			complete = err == nil
		}
		if !complete {
			if rerr := h.tmpDir.Remove(h.tmp); rerr != nil && !os.IsNotExist(rerr) {
				h.t.log.Warn("cannot remove temporary upload file", "path", h.vpath, "err", rerr)
			}
		}
		_ = h.tmpDir.Close()
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
