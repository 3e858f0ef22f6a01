//go:build linux && (amd64 || arm64)

package fs

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// fstatat is unix.Fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) without its allocation
// per call: the name is made NUL-terminated in *cname, a buffer reused from call to call.
func fstatat(dirfd int, name string, cname *[]byte, st *unix.Stat_t) error {
	b := append(append((*cname)[:0], name...), 0)
	*cname = b
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
