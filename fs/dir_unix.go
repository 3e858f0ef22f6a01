//go:build linux || darwin || freebsd || netbsd || openbsd

package fs

import (
	"os"

	"golang.org/x/sys/unix"
)

// entryStater stats directory entries relative to the open directory (fstatat
// with a single name component and no symlink following: it cannot leave the
// directory), into one reused buffer.
type entryStater struct {
	dirfd int
	st    unix.Stat_t
	cname []byte
}

func newEntryStater(dir *os.File, _ *os.Root, _ string) *entryStater {
	return &entryStater{dirfd: int(dir.Fd())}
}

func (s *entryStater) lstat(e *entry) bool {
	if err := fstatat(s.dirfd, e.Name(), &s.cname, &s.st); err != nil {
		return false
	}
	e.size = s.st.Size
	e.mode = unixMode(uint32(s.st.Mode))
	sec, nsec := s.st.Mtim.Unix()
	e.mtime = sec*1e9 + nsec
	return true
}

// unixMode converts a stat mode into an os.FileMode, as os.Lstat does.
func unixMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= os.ModeDevice
	case unix.S_IFCHR:
		mode |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFIFO:
		mode |= os.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFSOCK:
		mode |= os.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
