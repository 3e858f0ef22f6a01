package fs

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path"
	"sync"
	"sync/atomic"
	"time"
)

// Quota bounds the bytes and the number of files of one folder, whoever writes them, and counts
// what the folder holds. One Quota serves every tree that mounts the folder (a group's folder
// shared by several users is counted once). Usage is counted by walking the folder (Count), in
// the background, and kept exact meanwhile and afterwards by the tree's own writes; a folder
// works while it is being counted, checked against what is counted so far.
type Quota struct {
	maxBytes atomic.Int64 // 0 = no cap
	maxFiles atomic.Int64 // 0 = no cap
	bytes    atomic.Int64
	files    atomic.Int64

	// OnRefusal, when set, is called once for every upload refused for the quota.
	OnRefusal func()

	countMu  sync.Mutex   // one Count at a time
	counting atomic.Bool  // a Count runs: changes also go to pending
	pendingB atomic.Int64 // bytes changed by writes while counting
	pendingF atomic.Int64 // files changed by writes while counting
}

// NewQuota returns a quota of size bytes and files files (0 = no cap), with nothing counted yet.
func NewQuota(size Size, files int64) *Quota {
	q := &Quota{}
	q.SetLimits(size, files)
	return q
}

// SetLimits changes the caps (a reload); what is counted stays.
func (q *Quota) SetLimits(size Size, files int64) {
	q.maxBytes.Store(int64(size))
	q.maxFiles.Store(files)
}

// Limits returns the caps (0 = no cap).
func (q *Quota) Limits() (size Size, files int64) {
	return Size(q.maxBytes.Load()), q.maxFiles.Load()
}

// Usage returns the bytes and files counted in the folder.
func (q *Quota) Usage() (bytes, files int64) { return q.bytes.Load(), q.files.Load() }

// left returns the bytes that may still be written, and whether a byte cap applies.
func (q *Quota) left() (int64, bool) {
	lim := q.maxBytes.Load()
	if lim <= 0 {
		return math.MaxInt64, false
	}
	return max(lim-q.bytes.Load(), 0), true
}

// add records a change made by the tree.
func (q *Quota) add(bytes, files int64) {
	q.bytes.Add(bytes)
	q.files.Add(files)
	if q.counting.Load() {
		q.pendingB.Add(bytes)
		q.pendingF.Add(files)
	}
}

// newFileAllowed reports whether one more file fits.
func (q *Quota) newFileAllowed() bool {
	lim := q.maxFiles.Load()
	return lim <= 0 || q.files.Load() < lim
}

func (q *Quota) refused() {
	if q.OnRefusal != nil {
		q.OnRefusal()
	}
}

// Counter is a backend that can count a folder's usage faster than by listing it directory by
// directory (an object store lists every key below a prefix at once).
type Counter interface {
	Usage(ctx context.Context) (bytes, files int64, err error)
}

// Count recounts the folder of b, in the caller's goroutine: regular files (objects) and their
// sizes, not directories, symbolic links or temporary upload files. Changes the tree makes
// meanwhile are added to the result. On error (ctx cancelled, the storage unreachable) the
// previous usage stays.
func (q *Quota) Count(ctx context.Context, b Backend) error {
	q.countMu.Lock()
	defer q.countMu.Unlock()
	q.pendingB.Store(0)
	q.pendingF.Store(0)
	q.counting.Store(true)
	defer q.counting.Store(false)
	var bytes, files int64
	var err error
	if c, ok := b.(Counter); ok {
		bytes, files, err = c.Usage(ctx)
	} else {
		bytes, files, err = walkUsage(ctx, b, ".")
	}
	if err != nil {
		return err
	}
	q.bytes.Store(bytes + q.pendingB.Load())
	q.files.Store(files + q.pendingF.Load())
	return nil
}

// CountDir is Count for a local directory.
func (q *Quota) CountDir(ctx context.Context, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return q.Count(ctx, &localFS{root: root})
}

func walkUsage(ctx context.Context, b Backend, dir string) (bytes, files int64, err error) {
	entries, err := b.ReadDir(dir, true)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		switch {
		case e.Mode().IsRegular():
			bytes += e.Size()
			files++
		case e.IsDir():
			b2, f2, err := walkUsage(ctx, b, path.Join(dir, e.Name()))
			if errors.Is(err, os.ErrNotExist) {
				continue // removed meanwhile
			}
			if err != nil {
				return 0, 0, err
			}
			bytes += b2
			files += f2
		}
	}
	return bytes, files, nil
}

// errQuota refuses an upload that would pass its folder's quota (552).
var errQuota = newReason("quota exceeded", errNoSpace.kinds...)

// quotaOpen prepares the quota accounting of an upload to n, refusing a new file that the
// file cap leaves no room for. A replacement counts its new size in place of the old one: the
// old file's bytes that the upload writes over are free (qFree).
func (t *Tree) quotaOpen(n node, q *Quota, h *handle, w Write) error {
	var old int64
	fi, err := n.m.b.Stat(n.rel)
	exists := err == nil && fi.Mode().IsRegular()
	if exists {
		old = fi.Size()
	}
	if !exists {
		if !q.newFileAllowed() {
			q.refused()
			return fail(n.vpath, errQuota)
		}
		h.qNew = true
	}
	h.q, h.qAtomic = q, w.Atomic
	switch {
	case w.Flags&os.O_APPEND != 0:
	case w.Flags&os.O_TRUNC != 0:
		h.qFree = old
	case w.Offset < old:
		h.qFree = old - w.Offset
	}
	if h.qNew {
		q.add(0, 1)
	}
	return nil
}

// qFreeTruncated returns the bytes an in-place upload's open released (O_TRUNC), and stops
// counting them as free.
func (h *handle) qFreeTruncated(w Write) int64 {
	if w.Flags&os.O_TRUNC == 0 || w.Flags&os.O_APPEND != 0 || w.Offset > 0 {
		return 0
	}
	free := h.qFree
	h.qFree = 0
	return free
}

// quotaRoom returns how many more bytes the upload may write.
func (h *handle) quotaRoom() int64 {
	left, capped := h.q.left()
	if !capped {
		return math.MaxInt64
	}
	return left + h.qFree
}

// charge counts n bytes written; it fails once the quota is passed.
func (h *handle) charge(n int64) error {
	if n <= h.qFree {
		h.qFree -= n
		return nil
	}
	extra := n - h.qFree
	h.qFree = 0
	h.qCharged += extra
	h.q.add(extra, 0)
	if left, capped := h.q.left(); capped && left == 0 && h.q.bytes.Load() > h.q.maxBytes.Load() {
		h.q.refused()
		return fail(h.vpath, errQuota)
	}
	return nil
}

// What the client may still send of an upload refused for its quota, read and discarded
// before the data connection closes.
const (
	drainLimit = 64 << 20
	drainTime  = 10 * time.Second
)

// drainRefused reads and discards what the client still sends of an upload refused for its
// quota (until it closes, at most drainLimit bytes within drainTime), so that a client still
// writing reads the 552 reply instead of failing on a reset connection. A connection without
// read deadlines is not drained.
func drainRefused(r io.Reader) {
	d, ok := r.(interface{ SetReadDeadline(time.Time) error })
	if !ok || d.SetReadDeadline(time.Now().Add(drainTime)) != nil {
		return
	}
	defer func() { _ = d.SetReadDeadline(time.Time{}) }()
	_, _ = io.Copy(io.Discard, io.LimitReader(r, drainLimit))
}

// quotaFinish settles the accounting of an upload that completed (or, in place, was cut: what
// was written stays) or was discarded.
func (h *handle) quotaFinish(complete bool) {
	switch {
	case complete && h.qAtomic:
		h.q.add(-h.qFree, 0) // the rest of the old file is gone
	case !complete && h.qAtomic, h.sink == nil:
		files := int64(0)
		if h.qNew {
			files = -1
		}
		h.q.add(-h.qCharged, files)
	}
	h.qCharged, h.qFree = 0, 0
}
