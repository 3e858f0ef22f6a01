//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package fs

import (
	"os"
	"path"
)

// entryStater stats directory entries through the folder's os.Root.
type entryStater struct {
	root *os.Root
	rel  string
}

func newEntryStater(_ *os.File, root *os.Root, rel string) *entryStater {
	return &entryStater{root: root, rel: rel}
}

func (s *entryStater) lstat(e *entry) bool {
	fi, err := s.root.Lstat(path.Join(s.rel, e.Name()))
	if err != nil {
		return false
	}
	e.size, e.mode, e.mtime = fi.Size(), fi.Mode(), fi.ModTime().UnixNano()
	return true
}
