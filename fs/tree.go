package fs

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/spf13/afero"
)

// Options tune a Tree.
type Options struct {
	AtomicUploads  bool           // STOR writes a hidden temporary file, renamed into place when complete
	DownloadLimits []*Limiter     // every limiter that applies to downloads (server, user); nil entries ignored
	UploadLimits   []*Limiter     // likewise for uploads
	OnTransfer     func(Transfer) // called once per file transfer, when its handle is closed
	Logger         *slog.Logger   // nil discards

	// WorkDir returns the session's current directory, against which a relative name is
	// resolved (ftpserverlib passes absolute paths, except to Stat for HASH); nil = "/".
	WorkDir func() string

	// StallTimeout fails a transfer whose data connection makes no progress for this long
	// (a client that stops reading or sending); 0 = no limit. A zero-copy step must move a
	// whole chunk within it, so the slowest client still counted as moving is
	// zeroCopyChunk / StallTimeout (see copy.go). Connections behind a wrapper without
	// deadlines (MODE Z, ASCII conversion) are not guarded.
	StallTimeout time.Duration
}

// Tree is one account's virtual file tree, built from its mounts. It is the ftpserverlib
// ClientDriver of a session: an afero.Fs plus the GetHandle, ReadDir, RemoveDir,
// GetAvailableSpace and ComputeHash extensions. Its methods take virtual paths and return
// *PathError values whose text never holds a real path.
type Tree struct {
	mounts  []*mount // deepest first
	opt     Options
	dlLim   []*Limiter
	ulLim   []*Limiter
	log     *slog.Logger
	created time.Time // modification time of synthesized directories

	ctx    context.Context // cancelled by Close: interrupts throttling waits
	cancel context.CancelFunc

	mu     sync.Mutex
	open   int  // handles not yet closed; the roots stay open for them
	closed bool // Close was called
	bufs   sync.Pool
}

// Compile-time guards for the ftpserverlib interfaces the tree implements.
var (
	_ ftpserver.ClientDriver                        = (*Tree)(nil)
	_ ftpserver.ClientDriverExtentionFileTransfer   = (*Tree)(nil)
	_ ftpserver.ClientDriverExtensionFileList       = (*Tree)(nil)
	_ ftpserver.ClientDriverExtensionRemoveDir      = (*Tree)(nil)
	_ ftpserver.ClientDriverExtensionAvailableSpace = (*Tree)(nil)
	_ ftpserver.ClientDriverExtensionHasher         = (*Tree)(nil)
	_ afero.Fs                                      = (*Tree)(nil)
)

// NewTree opens each mount's Dir (an error if it is missing or not a directory) and returns the
// tree. The error may name real paths: it is meant for the operator, not for a client.
func NewTree(mounts []Mount, opt Options) (*Tree, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ms, err := openMounts(mounts, log)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Tree{
		mounts:  ms,
		opt:     opt,
		dlLim:   compactLimiters(opt.DownloadLimits),
		ulLim:   compactLimiters(opt.UploadLimits),
		log:     log,
		created: time.Now(),
		ctx:     ctx,
		cancel:  cancel,
	}
	t.bufs.New = func() any { b := make([]byte, bufferSize); return &b }
	return t, nil
}

func compactLimiters(ls []*Limiter) []*Limiter {
	var out []*Limiter
	for _, l := range ls {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// Close cancels throttling waits and releases the mounts' directories once the last open
// handle is closed. It is safe to call more than once.
func (t *Tree) Close() error {
	t.cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.open == 0 {
		closeMounts(t.mounts)
	}
	return nil
}

// acquire registers an open handle; it fails once the tree is closed.
func (t *Tree) acquire(vpath string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return fail(vpath, errClosed)
	}
	t.open++
	return nil
}

// release unregisters a handle, closing the roots if it was the last one after Close.
func (t *Tree) release() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.open--
	if t.closed && t.open == 0 {
		closeMounts(t.mounts)
	}
}

// Name returns "wharf".
func (t *Tree) Name() string { return "wharf" }

// need returns a *PathError unless m grants p.
func need(n node, p Perm) error {
	if n.m.perm.Has(p) {
		return nil
	}
	return fail(n.vpath, &permError{need: []Perm{p}})
}

// Stat describes a file or directory (following symbolic links that stay inside the folder).
// It needs the "list" or the "read" permission.
func (t *Tree) Stat(name string) (os.FileInfo, error) {
	return t.StatFor(name, PermList|PermRead)
}

// StatFor is Stat for a command that needs any one of the permissions in need
// (e.g. PermRead for SIZE and MDTM, PermList for CWD and MLST, PermRename for
// RNFR), so that a folder's metadata is shown only to those allowed to use it.
func (t *Tree) StatFor(name string, need Perm) (os.FileInfo, error) {
	n, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	return t.stat(n, need)
}

func (t *Tree) stat(n node, need Perm) (os.FileInfo, error) {
	if n.reserved {
		return nil, fail(n.vpath, errNotExist)
	}
	if n.m == nil {
		if n.ancestor {
			return t.virtualDir(n.vpath), nil
		}
		return nil, fail(n.vpath, errNotExist)
	}
	if n.m.perm&need == 0 {
		if n.ancestor && !n.isMountPoint() {
			return t.virtualDir(n.vpath), nil
		}
		return nil, fail(n.vpath, &permError{need: need.split()})
	}
	fi, err := n.m.b.Stat(n.rel)
	if err != nil {
		if n.ancestor && !n.isMountPoint() && os.IsNotExist(err) {
			return t.virtualDir(n.vpath), nil
		}
		return nil, t.osError("stat", n.vpath, err)
	}
	if need == PermRead && !fi.IsDir() && !fi.Mode().IsRegular() {
		// SIZE, MDTM: only files have a size and a time to tell
		return nil, fail(n.vpath, errNotRegular)
	}
	if n.rel == "." {
		fi = renamed(fi, baseName(n.vpath))
	}
	return fi, nil
}

// Mkdir creates a directory (MKD). It needs the "mkdir" permission.
func (t *Tree) Mkdir(name string, _ os.FileMode) error {
	return t.mkdir(name, false)
}

// MkdirAll creates a directory and its missing parents. It needs the "mkdir" permission.
func (t *Tree) MkdirAll(name string, _ os.FileMode) error {
	return t.mkdir(name, true)
}

func (t *Tree) mkdir(name string, all bool) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	switch {
	case n.reserved:
		return fail(n.vpath, errReservedName)
	case n.m == nil && n.ancestor, n.isMountPoint():
		if all {
			return nil
		}
		return fail(n.vpath, errExist)
	case n.m == nil:
		return fail(n.vpath, errVirtualDir)
	}
	if err := need(n, PermMkdir); err != nil {
		return err
	}
	return t.osError("mkdir", n.vpath, n.m.b.Mkdir(n.rel, all))
}

// changeable returns an error unless n is a real path that may be removed or renamed: not a
// mount point, not an ancestor of one, not a synthesized directory, not a temporary file.
func changeable(n node) error {
	switch {
	case n.reserved:
		return fail(n.vpath, errNotExist)
	case n.isMountPoint():
		return fail(n.vpath, errMountPoint)
	case n.ancestor:
		return fail(n.vpath, errHasMount)
	case n.m == nil:
		return fail(n.vpath, errNotExist)
	}
	return nil
}

// Remove deletes a file (DELE). It needs the "delete" permission; directories are refused.
func (t *Tree) Remove(name string) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	if err := changeable(n); err != nil {
		return err
	}
	if err := need(n, PermDelete); err != nil {
		return err
	}
	gone := quotaTarget(n)
	err = n.m.b.Remove(n.rel)
	if errors.Is(err, syscall.EISDIR) {
		return fail(n.vpath, errUseRMD)
	}
	if err == nil {
		gone()
	}
	return t.osError("remove", n.vpath, err)
}

// quotaTarget returns what gives a file's bytes and place back to its folder's quota once the
// file is gone (deleted, or replaced by a rename); it does nothing without a quota or a file.
func quotaTarget(n node) func() {
	q := n.m.quota
	if q == nil {
		return func() {}
	}
	fi, err := n.m.b.Stat(n.rel)
	if err != nil || !fi.Mode().IsRegular() {
		return func() {}
	}
	return func() { q.add(-fi.Size(), -1) }
}

// RemoveDir deletes an empty directory (RMD). It needs the "rmdir" permission.
func (t *Tree) RemoveDir(name string) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	if err := changeable(n); err != nil {
		return err
	}
	if err := need(n, PermRmdir); err != nil {
		return err
	}
	return t.osError("rmdir", n.vpath, n.m.b.RemoveDir(n.rel))
}

// RemoveAll is always refused: a client removes a tree one file and directory at a time.
func (t *Tree) RemoveAll(name string) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	return fail(n.vpath, errNoRemoveAll)
}

// Rename renames a file or directory (RNFR/RNTO) within one folder. It needs the "rename"
// permission on the folder of both paths; mount points cannot be renamed, nor be overwritten.
func (t *Tree) Rename(oldname, newname string) error {
	from, err := t.resolve(oldname)
	if err != nil {
		return err
	}
	to, err := t.resolve(newname)
	if err != nil {
		return err
	}
	if err := changeable(from); err != nil {
		return err
	}
	switch {
	case to.reserved:
		return fail(to.vpath, errReservedName)
	case to.isMountPoint():
		return fail(to.vpath, errMountPoint)
	case to.ancestor:
		return fail(to.vpath, errHasMount)
	case to.m == nil:
		return fail(to.vpath, errVirtualDir)
	case to.m != from.m:
		return fail(to.vpath, errCrossMount)
	}
	if err := need(from, PermRename); err != nil {
		return err
	}
	if err := need(to, PermRename); err != nil {
		return err
	}
	replaced := func() {}
	if to.rel != from.rel {
		replaced = quotaTarget(to)
	}
	err = from.m.b.Rename(from.rel, to.rel)
	if err == nil {
		replaced()
	}
	return t.osError("rename", from.vpath, err)
}

// Chtimes sets access and modification times (MFMT). It needs the "write" permission.
func (t *Tree) Chtimes(name string, atime, mtime time.Time) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	switch {
	case n.reserved:
		return fail(n.vpath, errNotExist)
	case n.m == nil:
		if n.ancestor {
			return fail(n.vpath, errVirtualDir)
		}
		return fail(n.vpath, errNotExist)
	}
	if err := need(n, PermWrite); err != nil {
		return err
	}
	return t.osError("chtimes", n.vpath, n.m.b.Chtimes(n.rel, atime, mtime))
}

// Chmod is always refused.
func (t *Tree) Chmod(name string, _ os.FileMode) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	return fail(n.vpath, errNoChmod)
}

// Chown is always refused.
func (t *Tree) Chown(name string, _, _ int) error {
	n, err := t.resolve(name)
	if err != nil {
		return err
	}
	return fail(n.vpath, errNoChown)
}
