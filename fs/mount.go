package fs

import (
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
)

// Mount is one folder of an account's tree: the real directory Dir (or the Backend) seen at the
// virtual path Path, with permissions Perm applying to everything below it, down to a deeper
// mount.
type Mount struct {
	Path string // virtual path, absolute, clean ("/", "/shared")
	Dir  string // real directory, when Backend is nil
	Perm Perm
	// Backend, when set, does the folder's I/O instead of the directory Dir. It is shared: the
	// tree never closes it.
	Backend Backend
	// Quota, when set, bounds what the folder holds; it is shared by every tree that mounts
	// the folder.
	Quota *Quota
}

// tempPrefix starts the name of an atomic upload's temporary file. Any path element starting
// with it is hidden: it does not exist for listings, downloads, deletions or renames.
const tempPrefix = ".wharf-upload-"

// reservedElem is tempPrefix at the start of a path element.
const reservedElem = "/" + tempPrefix

// mount is an opened Mount. Every real access goes through its backend, so nothing outside the
// folder can be reached, whatever the path or the symbolic links on disk.
type mount struct {
	path  string
	perm  Perm
	b     Backend
	own   bool // b was opened by the tree, which closes it
	quota *Quota
}

// node is a virtual path resolved against the mount table.
type node struct {
	vpath    string // cleaned virtual path
	m        *mount // deepest mount containing vpath; nil outside every mount
	rel      string // name inside the folder, "." for the mount point itself
	ancestor bool   // vpath is a strict ancestor of some mount point
	reserved bool   // some element of vpath starts with tempPrefix
}

// isMountPoint reports whether n is the mount point of its mount.
func (n node) isMountPoint() bool { return n.m != nil && n.m.path == n.vpath }

// openMounts checks and opens the mounts, deepest first. On error nothing stays open.
func openMounts(mounts []Mount, log *slog.Logger) ([]*mount, error) {
	var out []*mount
	fail := func(err error) ([]*mount, error) {
		closeMounts(out)
		return nil, err
	}
	seen := make(map[string]bool, len(mounts))
	for _, mt := range mounts {
		p := mt.Path
		if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 {
			return fail(fmt.Errorf("mount %q: the virtual path must be absolute", p))
		}
		p = path.Clean(p)
		for _, el := range strings.Split(p, "/") {
			if strings.HasPrefix(el, tempPrefix) {
				return fail(fmt.Errorf("mount %q: names starting with %q are reserved", p, tempPrefix))
			}
		}
		if seen[p] {
			return fail(fmt.Errorf("mount %q: mounted twice", p))
		}
		seen[p] = true
		m := &mount{path: p, perm: mt.Perm & PermAll, b: mt.Backend, quota: mt.Quota}
		if m.b == nil {
			l, err := openLocal(mt.Dir, log)
			if err != nil {
				return fail(fmt.Errorf("mount %q: %w", p, err))
			}
			m.b, m.own = l, true
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *mount) int { return len(b.path) - len(a.path) })
	return out, nil
}

func closeMounts(ms []*mount) {
	for _, m := range ms {
		if m.own {
			_ = m.b.Close()
		}
	}
}

// cleanPath turns a client path into a clean absolute virtual path; ".." never climbs above "/".
func cleanPath(name string) string { return path.Clean("/" + name) }

// contains reports whether the mount at mp contains the virtual path v.
func contains(mp, v string) bool {
	return mp == "/" || v == mp || strings.HasPrefix(v, mp) && v[len(mp)] == '/'
}

// resolve maps a client path onto the mount table. It fails only on a NUL byte.
func (t *Tree) resolve(name string) (node, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return node{}, fail(cleanPath(strings.ReplaceAll(name, "\x00", "?")), errInvalidName)
	}
	if !strings.HasPrefix(name, "/") && t.opt.WorkDir != nil {
		name = t.opt.WorkDir() + "/" + name
	}
	n := node{vpath: cleanPath(name)}
	n.reserved = strings.Contains(n.vpath, reservedElem)
	for _, m := range t.mounts {
		if n.m == nil && contains(m.path, n.vpath) {
			n.m = m
			if m.path == n.vpath {
				n.rel = "."
			} else {
				n.rel = strings.TrimPrefix(n.vpath[len(m.path):], "/")
			}
		}
		if m.path != n.vpath && contains(n.vpath, m.path) {
			n.ancestor = true
		}
	}
	return n, nil
}

// childMounts returns, for a virtual directory v, the names of its children that are mount
// points (true) or ancestors of deeper mount points (false).
func (t *Tree) childMounts(v string) map[string]bool {
	var out map[string]bool
	for _, m := range t.mounts {
		if m.path == v || !contains(v, m.path) {
			continue
		}
		rest := strings.TrimPrefix(m.path[len(v):], "/")
		name, deeper := rest, false
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			name, deeper = rest[:i], true
		}
		if out == nil {
			out = make(map[string]bool)
		}
		out[name] = out[name] || !deeper
	}
	return out
}
