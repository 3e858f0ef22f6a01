package fs

import (
	"os"
	"syscall"
)

// availableBytes returns the space available to unprivileged users on the file system of f.
func availableBytes(f *os.File) (int64, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		st    syscall.Statfs_t
		sferr error
	)
	if err := rc.Control(func(fd uintptr) { sferr = syscall.Fstatfs(int(fd), &st) }); err != nil {
		return 0, err
	}
	if sferr != nil {
		return 0, sferr
	}
	bsize := st.Frsize
	if bsize <= 0 {
		bsize = st.Bsize
	}
	return int64(st.Bavail) * bsize, nil
}
