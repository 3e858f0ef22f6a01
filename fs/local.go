package fs

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// localFS is the backend of a local directory. Every access goes through an os.Root, or on
// Linux, for the files of transfers, through openat2(2) with RESOLVE_BENEATH (fastRoot), so no
// name, ".." or symbolic link can reach outside the directory.
type localFS struct {
	root *os.Root
	fast *fastRoot // the one-openat2 path for transfers' files (Linux); nil: os.Root only
	log  *slog.Logger
}

var _ Backend = (*localFS)(nil)

// openLocal opens the directory dir as a backend, and starts sweeping its stale temporary
// upload files (once per process and directory, in the background).
func openLocal(dir string, log *slog.Logger) (*localFS, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	sweepFolder(dir, log)
	return &localFS{root: root, fast: openFastRoot(dir), log: log}, nil
}

func (l *localFS) Close() error {
	_ = l.fast.close()
	return l.root.Close()
}

func (l *localFS) Stat(name string) (os.FileInfo, error) { return l.root.Stat(name) }

func (l *localFS) Mkdir(name string, all bool) error {
	if all {
		return l.root.MkdirAll(name, 0o755)
	}
	return l.root.Mkdir(name, 0o755)
}

func (l *localFS) Remove(name string) error {
	fi, err := l.root.Lstat(name)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	return l.root.Remove(name)
}

func (l *localFS) RemoveDir(name string) error {
	fi, err := l.root.Lstat(name)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return syscall.ENOTDIR
	}
	err = l.root.Remove(name)
	if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		// Stale temporary upload files are invisible: they must not keep a directory that
		// looks empty from being removed.
		if l.removeStaleIn(name) {
			err = l.root.Remove(name)
		}
	}
	return err
}

// removeStaleIn removes the stale temporary upload files of the directory name; it reports
// whether it held nothing else.
func (l *localFS) removeStaleIn(name string) bool {
	d, err := l.root.Open(name)
	if err != nil {
		return false
	}
	names, err := d.Readdirnames(-1)
	_ = d.Close()
	if err != nil {
		return false
	}
	for _, n := range names {
		if !strings.HasPrefix(n, tempPrefix) {
			return false
		}
	}
	return removeStale(l.root, name, names, l.log) == 0
}

func (l *localFS) Rename(from, to string) error { return l.root.Rename(from, to) }

func (l *localFS) Chtimes(name string, atime, mtime time.Time) error {
	return l.root.Chtimes(name, atime, mtime)
}

func (l *localFS) Available() (int64, error) {
	f, err := l.root.Open(".")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return availableBytes(f)
}

// ReadDir lists the directory name, without temporary upload files, sorted by name (see
// readLocalDir); with stat false it gives names only (NLST needs nothing else).
func (l *localFS) ReadDir(name string, stat bool) ([]os.FileInfo, error) {
	return readLocalDir(l.root, name, stat)
}

// Open opens a regular file for reading: its *os.File keeps the zero-copy path.
func (l *localFS) Open(name string, offset int64) (Source, error) {
	f, handled, err := l.fast.openRead(name)
	if !handled {
		f, err = l.openRegular(name, os.O_RDONLY)
	}
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return f, nil
}

// openRegular opens name with flags, unless it is not a regular file: a directory, a FIFO, a
// device or a socket is refused at once, and never opened (an open of a FIFO waits for its
// other end; an open of a device may act on it). The file is checked before the open, and once
// more on the open file, which a FIFO put in its place meanwhile cannot block.
func (l *localFS) openRegular(name string, flags int) (*os.File, error) {
	fi, err := l.root.Stat(name)
	switch {
	case err != nil && !(os.IsNotExist(err) && flags&os.O_CREATE != 0):
		return nil, err
	case err == nil && fi.IsDir():
		return nil, syscall.EISDIR
	case err == nil && !fi.Mode().IsRegular():
		return nil, errNotRegular
	}
	f, err := l.root.OpenFile(name, flags|openNonBlock, 0o644)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := blocking(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// checkRegular returns an error unless the open file f is a regular file.
func checkRegular(f *os.File) error {
	fi, err := f.Stat()
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return syscall.EISDIR
	case !fi.Mode().IsRegular():
		return errNotRegular
	}
	return nil
}

// Create opens a file for an upload. An atomic one goes to a hidden temporary file beside the
// target, renamed over it by Finish only when complete. O_APPEND is replaced by a seek to the
// end: the kernel refuses splice(2) into O_APPEND files.
func (l *localFS) Create(name string, w Write) (Sink, error) {
	access := os.O_WRONLY
	if w.Flags&os.O_RDWR != 0 {
		access = os.O_RDWR
	}
	appending := w.Flags&os.O_APPEND != 0 || w.Offset > 0
	if w.Atomic && !appending {
		return l.createTemp(name, access)
	}
	oflags := access | w.Flags&(os.O_CREATE|os.O_EXCL)
	if !appending {
		oflags |= w.Flags & os.O_TRUNC
	}
	f, err := l.openRegular(name, oflags)
	if err != nil {
		return nil, err
	}
	u := &localUpload{f: f}
	switch {
	case w.Flags&os.O_APPEND != 0:
		_, err = f.Seek(0, io.SeekEnd)
	case w.Offset > 0 && w.AtEndOnly:
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil && fi.Size() != w.Offset {
			err = errNotAtEnd
		}
		u.atEnd = w.Offset
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return u, nil
}

// errNotAtEnd refuses a REST+STOR that would not append.
var errNotAtEnd = &permError{need: []Perm{PermWrite}, why: "a restart offset below or past the end of the file"}

// createTemp creates the hidden temporary file of an atomic upload beside the target. The
// upload keeps the directory open, so that the temporary file is renamed or removed wherever the
// directory moves meanwhile, and keeps the file locked, which tells it from a stale one.
func (l *localFS) createTemp(name string, access int) (Sink, error) {
	u, handled, err := l.fast.createTemp(name, access)
	if handled {
		if err != nil {
			return nil, err
		}
		u.log = l.log
		return u, nil
	}
	// Refuse what a direct write would refuse: a directory, a special file, or a symbolic
	// link leading outside.
	fi, err := l.root.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return nil, syscall.EISDIR
	case err == nil && !fi.Mode().IsRegular():
		return nil, errNotRegular
	case err != nil && !os.IsNotExist(err):
		return nil, err
	}
	dir, err := l.root.OpenRoot(path.Dir(name))
	if err != nil {
		return nil, err
	}
	f, tmp, err := newTemp(func(tmp string) (*os.File, error) {
		return dir.OpenFile(tmp, access|os.O_CREATE|os.O_EXCL, 0o644)
	}, dir)
	if err != nil {
		_ = dir.Close()
		return nil, err
	}
	return &localUpload{f: f, dir: dir, tmp: tmp, base: path.Base(name), log: l.log}, nil
}

// tempDir is the directory of an atomic upload, held open for the upload's life.
type tempDir interface {
	Rename(from, to string) error
	Remove(name string) error
	Close() error
}

// newTemp creates (with create) and locks a temporary file under a fresh random name.
func newTemp(create func(tmp string) (*os.File, error), dir tempDir) (*os.File, string, error) {
	var lastErr error
	for range 8 {
		tmp := tempPrefix + randomSuffix()
		f, err := create(tmp)
		if err != nil {
			lastErr = err
			if errors.Is(err, os.ErrExist) {
				continue
			}
			break
		}
		if lastErr = lockTemp(f); lastErr == nil {
			return f, tmp, nil
		}
		// a sweep took it between the create and the lock: try another name
		_ = f.Close()
		_ = dir.Remove(tmp)
	}
	return nil, "", lastErr
}

// localUpload is an upload to a local file, in place or (with dir) to a temporary file.
type localUpload struct {
	f     *os.File
	dir   tempDir // atomic upload: the target's directory, wherever it moves; nil otherwise
	tmp   string  // atomic upload: the temporary file's name in dir
	base  string  // atomic upload: the target's name in dir
	atEnd int64   // REST+STOR allowed by "append" only: the one offset Seek accepts; 0 otherwise
	log   *slog.Logger
}

func (u *localUpload) File() *os.File              { return u.f }
func (u *localUpload) Write(p []byte) (int, error) { return u.f.Write(p) }

func (u *localUpload) Seek(offset int64, whence int) (int64, error) {
	if u.atEnd > 0 && (whence != io.SeekStart || offset != u.atEnd) {
		return 0, errNotAtEnd
	}
	return u.f.Seek(offset, whence)
}

// Finish renames or removes the temporary file while still holding it open (and locked): a
// sweep can never take it for a stale one.
func (u *localUpload) Finish(complete bool) error {
	if u.dir == nil {
		return u.f.Close()
	}
	defer u.dir.Close()
	var err error
	if complete {
		if err = u.dir.Rename(u.tmp, u.base); err == nil {
			return u.f.Close()
		}
	}
	if rerr := u.dir.Remove(u.tmp); rerr != nil && !os.IsNotExist(rerr) {
		u.log.Warn("cannot remove temporary upload file", "file", u.tmp, "err", rerr)
	}
	_ = u.f.Close()
	return err
}
