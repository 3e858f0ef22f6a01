//go:build (linux && !(amd64 || arm64)) || darwin || freebsd || netbsd || openbsd

package fs

import "golang.org/x/sys/unix"

// fstatat is unix.Fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW).
func fstatat(dirfd int, name string, _ *[]byte, st *unix.Stat_t) error {
	return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
}
