package fs

import (
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// ReadDir lists a directory (LIST, NLST, MLSD, STAT). It needs the "list" permission. Entries
// describe symbolic links themselves (Lstat). Temporary upload files are left out; mount points
// below the directory are listed, replacing a real entry of the same name.
func (t *Tree) ReadDir(name string) ([]os.FileInfo, error) {
	n, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	return t.readDir(n)
}

func (t *Tree) readDir(n node) ([]os.FileInfo, error) { return t.readDirWith(n, true) }

func (t *Tree) readDirWith(n node, stat bool) ([]os.FileInfo, error) {
	if n.reserved {
		return nil, fail(n.vpath, errNotExist)
	}
	var entries []os.FileInfo
	switch {
	case n.m == nil && !n.ancestor:
		return nil, fail(n.vpath, errNotExist)
	case n.m == nil:
		// a synthesized directory: only the mounts below it
	case n.ancestor && !n.isMountPoint() && !n.m.perm.Has(PermList):
		// a directory inside a folder, leading to deeper mounts: show those only
	default:
		if err := need(n, PermList); err != nil {
			return nil, err
		}
		listed, err := n.m.b.ReadDir(n.rel, stat)
		if err != nil {
			if !(n.ancestor && !n.isMountPoint() && os.IsNotExist(err)) {
				return nil, t.osError("readdir", n.vpath, err)
			}
		}
		entries = listed
	}
	if n.ancestor {
		entries = t.mergeMounts(n.vpath, entries)
	}
	byName := func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) }
	if !slices.IsSortedFunc(entries, byName) { // a local folder's listing comes sorted
		slices.SortFunc(entries, byName)
	}
	return entries, nil
}

// ReadDirNames is ReadDir for NLST: the same entries, with only their names.
func (t *Tree) ReadDirNames(name string) ([]os.FileInfo, error) {
	n, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	return t.readDirWith(n, false)
}

// entry is one compact directory entry (32 bytes): its name is (*names)[off:off+n], in the
// string of the batch it was read in (less than 64 KiB).
type entry struct {
	names  *string
	off, n uint16
	mode   os.FileMode
	size   int64
	mtime  int64 // Unix nanoseconds
}

func (e *entry) Name() string       { return (*e.names)[e.off : int(e.off)+int(e.n)] }
func (e *entry) Size() int64        { return e.size }
func (e *entry) Mode() os.FileMode  { return e.mode }
func (e *entry) ModTime() time.Time { return time.Unix(0, e.mtime) }
func (e *entry) IsDir() bool        { return e.mode.IsDir() }
func (e *entry) Sys() any           { return nil }

// mergeMounts adds to the entries of directory v its child mount points, and synthesized
// directories for children that only lead to deeper mount points.
func (t *Tree) mergeMounts(v string, entries []os.FileInfo) []os.FileInfo {
	children := t.childMounts(v)
	have := make(map[string]int, len(entries))
	for i, e := range entries {
		have[e.Name()] = i
	}
	for name, isMount := range children {
		i, exists := have[name]
		switch {
		case isMount:
			fi := t.mountInfo(path.Join(v, name))
			if exists {
				entries[i] = fi
			} else {
				entries = append(entries, fi)
			}
		case !exists:
			entries = append(entries, t.virtualDir(path.Join(v, name)))
		}
	}
	return entries
}

// mountInfo describes the mount point at v, by its real directory when it can be read.
func (t *Tree) mountInfo(v string) os.FileInfo {
	for _, m := range t.mounts {
		if m.path == v {
			if fi, err := m.b.Stat("."); err == nil {
				return renamed(fi, baseName(v))
			}
		}
	}
	return t.virtualDir(v)
}

// virtualDir describes a synthesized, read-only directory.
func (t *Tree) virtualDir(v string) os.FileInfo {
	return &dirInfo{name: baseName(v), mtime: t.created}
}

// baseName is the name shown for the virtual path v: its last element, or "/".
func baseName(v string) string { return path.Base(v) }

// dirInfo is the os.FileInfo of a synthesized directory.
type dirInfo struct {
	name  string
	mtime time.Time
}

func (d *dirInfo) Name() string       { return d.name }
func (d *dirInfo) Size() int64        { return 0 }
func (d *dirInfo) Mode() os.FileMode  { return os.ModeDir | 0o555 }
func (d *dirInfo) ModTime() time.Time { return d.mtime }
func (d *dirInfo) IsDir() bool        { return true }
func (d *dirInfo) Sys() any           { return nil }

// namedInfo is an os.FileInfo shown under another name (a mount point, a temporary file).
type namedInfo struct {
	os.FileInfo
	name string
}

func (n *namedInfo) Name() string { return n.name }

// Sys hides the underlying system data.
func (n *namedInfo) Sys() any { return nil }

func renamed(fi os.FileInfo, name string) os.FileInfo {
	if fi.Name() == name {
		return fi
	}
	return &namedInfo{FileInfo: fi, name: name}
}
