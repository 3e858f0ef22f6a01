//go:build linux

package fs

import (
	"os"
	"path"
	"syscall"

	"golang.org/x/sys/unix"
)

// fastRoot opens the files of transfers with one openat2(2) for the directory (RESOLVE_BENEATH:
// no "..", absolute path or symbolic link leads outside the folder) and one openat(2) for the
// file, instead of os.Root's walk of one openat(2) per path component (each done twice, for the
// check and for the open). It only ever takes the plain case: a last component that is a
// symbolic link, any error, or a kernel without openat2 leaves the call to os.Root, which
// decides (and gives the errors it always gave).
type fastRoot struct {
	f  *os.File // the folder's top directory (O_PATH)
	rc syscall.RawConn
}

// openFastRoot opens dir for the fast path; nil when it cannot be used.
func openFastRoot(dir string) *fastRoot {
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil
	}
	// One probe: a kernel or a sandbox without openat2 never takes the fast path.
	ok := false
	_ = rc.Control(func(fd uintptr) {
		d, err := unix.Openat2(int(fd), ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: beneath})
		if err == nil {
			ok = true
			_ = unix.Close(d)
		}
	})
	if !ok {
		_ = f.Close()
		return nil
	}
	return &fastRoot{f: f, rc: rc}
}

const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

func (r *fastRoot) close() error {
	if r == nil {
		return nil
	}
	return r.f.Close()
}

// dir opens the directory rel as an O_PATH descriptor, inside the folder; ok is false when the
// fast path does not apply (the caller asks os.Root). The root descriptor is held for the call
// only: a concurrent close waits for it.
func (r *fastRoot) dir(rel string) (fd int, ok bool) {
	if r == nil {
		return -1, false
	}
	fd = -1
	_ = r.rc.Control(func(root uintptr) {
		d, err := unix.Openat2(int(root), rel, &unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: beneath})
		if err == nil {
			fd = d
		}
	})
	return fd, fd >= 0
}

// lstatAt describes base in the directory dirfd, without following a symbolic link.
func lstatAt(dirfd int, base string) (uint32, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, err
	}
	return st.Mode & unix.S_IFMT, nil
}

// openRead opens the regular file name for reading. handled is false when os.Root must decide.
// A directory or a special file is refused before it is opened, as by openRegular; the open
// itself does not follow a symbolic link, does not wait for a FIFO put in place meanwhile, and
// the open file is checked again.
func (r *fastRoot) openRead(name string) (f *os.File, handled bool, err error) {
	dirfd, ok := r.dir(path.Dir(name))
	if !ok {
		return nil, false, nil
	}
	defer unix.Close(dirfd)
	base := path.Base(name)
	typ, err := lstatAt(dirfd, base)
	switch {
	case err != nil || typ == unix.S_IFLNK:
		return nil, false, nil
	case typ == unix.S_IFDIR:
		return nil, true, syscall.EISDIR
	case typ != unix.S_IFREG:
		return nil, true, errNotRegular
	}
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		_ = unix.Close(fd)
		return nil, true, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		_ = unix.Close(fd)
		return nil, true, syscall.EISDIR
	default:
		_ = unix.Close(fd)
		return nil, true, errNotRegular
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil { // blocking again
		_ = unix.Close(fd)
		return nil, true, err
	}
	return os.NewFile(uintptr(fd), name), true, nil
}

// createTemp creates the temporary file of an atomic upload of name, beside it. handled is
// false when os.Root must decide.
func (r *fastRoot) createTemp(name string, access int) (u *localUpload, handled bool, err error) {
	dirfd, ok := r.dir(path.Dir(name))
	if !ok {
		return nil, false, nil
	}
	base := path.Base(name)
	typ, err := lstatAt(dirfd, base)
	switch {
	case err == unix.ENOENT:
	case err != nil || typ == unix.S_IFLNK:
		_ = unix.Close(dirfd)
		return nil, false, nil
	case typ == unix.S_IFDIR:
		_ = unix.Close(dirfd)
		return nil, true, syscall.EISDIR
	case typ != unix.S_IFREG:
		_ = unix.Close(dirfd)
		return nil, true, errNotRegular
	}
	d := fdDir(dirfd)
	f, tmp, err := newTemp(func(tmp string) (*os.File, error) {
		fd, err := unix.Openat(dirfd, tmp, access|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: tmp, Err: err}
		}
		return os.NewFile(uintptr(fd), tmp), nil
	}, d)
	if err != nil {
		_ = d.Close()
		return nil, true, err
	}
	return &localUpload{f: f, dir: d, tmp: tmp, base: base}, true, nil
}

// fdDir is the directory of an atomic upload, held open by its descriptor.
type fdDir int

func (d fdDir) Rename(from, to string) error {
	if err := unix.Renameat(int(d), from, int(d), to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

func (d fdDir) Remove(name string) error {
	if err := unix.Unlinkat(int(d), name, 0); err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

func (d fdDir) Close() error { return unix.Close(int(d)) }
