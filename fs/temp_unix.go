//go:build linux || darwin || freebsd || netbsd || openbsd

package fs

import (
	"os"

	"golang.org/x/sys/unix"
)

// openNonBlock is the flag that keeps an open of a FIFO from waiting for its other end.
const openNonBlock = unix.O_NONBLOCK

// lockTemp takes the exclusive lock that marks an atomic upload's temporary file as in use: a
// temporary file nobody holds locked was left by a crash (or a killed process) and is stale.
// It fails when the file was removed meanwhile (a sweep got it before the lock).
func lockTemp(f *os.File) error {
	return controlFd(f, func(fd int) error {
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Nlink == 0 {
			return os.ErrNotExist
		}
		return nil
	})
}

// unlocked reports whether f's lock could be taken (and now holds it): nobody else uses f.
func unlocked(f *os.File) bool {
	return controlFd(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }) == nil
}

// blocking clears O_NONBLOCK on a regular file opened with openNonBlock.
func blocking(f *os.File) error {
	return controlFd(f, func(fd int) error { return unix.SetNonblock(fd, false) })
}

func controlFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
