package fs

import (
	"io"
	"os"
	"path"

	"github.com/spf13/afero"
)

// Compile-time guards for the afero.File values the tree returns.
var (
	_ afero.File = (*openFile)(nil)
	_ afero.File = (*dirFile)(nil)
)

// Open opens a file for reading ("read") or a directory for listing ("list").
func (t *Tree) Open(name string) (afero.File, error) {
	return t.OpenFile(name, os.O_RDONLY, 0)
}

// Create creates or truncates a file, as a STOR would.
func (t *Tree) Create(name string) (afero.File, error) {
	return t.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
}

// OpenFile opens a file with the checks of GetHandle (offset 0), or a directory for listing.
// perm is ignored: files are created 0644.
func (t *Tree) OpenFile(name string, flag int, _ os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		h, err := t.openHandle(name, flag, 0)
		if err != nil {
			return nil, err
		}
		return &openFile{h}, nil
	}
	n, err := t.resolve(name)
	if err != nil {
		return nil, err
	}
	fi, err := t.stat(n, PermList|PermRead)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		entries, err := t.readDir(n)
		if err != nil {
			return nil, err
		}
		return &dirFile{t: t, vpath: n.vpath, info: fi, entries: entries}, nil
	}
	h, err := t.openHandle(name, flag, 0)
	if err != nil {
		return nil, err
	}
	return &openFile{h}, nil
}

// openFile is a transfer handle seen as an afero.File.
type openFile struct{ *handle }

func (f *openFile) Name() string { return f.vpath }

func (f *openFile) ReadAt(p []byte, off int64) (int, error) {
	ra, ok := f.rd.(io.ReaderAt)
	if !ok {
		return 0, fail(f.vpath, errDenied)
	}
	n, err := ra.ReadAt(p, off)
	f.bytes.Add(int64(n))
	return n, f.t.ioError(f.vpath, err)
}

func (f *openFile) WriteAt(p []byte, off int64) (int, error) {
	if f.f == nil || f.sink == nil {
		return 0, fail(f.vpath, errDenied)
	}
	n, err := f.f.WriteAt(p, off)
	f.bytes.Add(int64(n))
	return n, f.t.ioError(f.vpath, err)
}

func (f *openFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

func (f *openFile) Readdir(int) ([]os.FileInfo, error) { return nil, fail(f.vpath, errNotDir) }

func (f *openFile) Readdirnames(int) ([]string, error) { return nil, fail(f.vpath, errNotDir) }

func (f *openFile) Stat() (os.FileInfo, error) {
	if f.f == nil {
		fi, err := f.m.b.Stat(f.rel)
		if err != nil {
			return nil, f.t.osError("stat", f.vpath, err)
		}
		return &namedInfo{FileInfo: fi, name: path.Base(f.vpath)}, nil
	}
	fi, err := f.f.Stat()
	if err != nil {
		return nil, f.t.osError("stat", f.vpath, err)
	}
	return &namedInfo{FileInfo: fi, name: path.Base(f.vpath)}, nil
}

func (f *openFile) Sync() error {
	if f.f == nil {
		return nil
	}
	return f.t.osError("sync", f.vpath, f.f.Sync())
}

func (f *openFile) Truncate(size int64) error {
	if f.f == nil || f.sink == nil {
		return fail(f.vpath, errDenied)
	}
	return f.t.osError("truncate", f.vpath, f.f.Truncate(size))
}

// dirFile is a directory listing seen as an afero.File.
type dirFile struct {
	t       *Tree
	vpath   string
	info    os.FileInfo
	entries []os.FileInfo
	pos     int
}

func (d *dirFile) Close() error                       { return nil }
func (d *dirFile) Name() string                       { return d.vpath }
func (d *dirFile) Stat() (os.FileInfo, error)         { return d.info, nil }
func (d *dirFile) Sync() error                        { return nil }
func (d *dirFile) Read([]byte) (int, error)           { return 0, fail(d.vpath, errIsDir) }
func (d *dirFile) ReadAt([]byte, int64) (int, error)  { return 0, fail(d.vpath, errIsDir) }
func (d *dirFile) Write([]byte) (int, error)          { return 0, fail(d.vpath, errIsDir) }
func (d *dirFile) WriteAt([]byte, int64) (int, error) { return 0, fail(d.vpath, errIsDir) }
func (d *dirFile) WriteString(string) (int, error)    { return 0, fail(d.vpath, errIsDir) }
func (d *dirFile) Truncate(int64) error               { return fail(d.vpath, errIsDir) }
func (d *dirFile) Seek(off int64, whence int) (int64, error) {
	if off == 0 && whence == io.SeekStart {
		d.pos = 0
		return 0, nil
	}
	return 0, fail(d.vpath, errIsDir)
}

// Readdir follows os.File.Readdir: count <= 0 returns everything left, otherwise at most count
// entries and io.EOF at the end.
func (d *dirFile) Readdir(count int) ([]os.FileInfo, error) {
	rest := d.entries[d.pos:]
	if count <= 0 {
		d.pos = len(d.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	k := min(count, len(rest))
	d.pos += k
	return rest[:k], nil
}

func (d *dirFile) Readdirnames(count int) ([]string, error) {
	infos, err := d.Readdir(count)
	names := make([]string, len(infos))
	for i, fi := range infos {
		names[i] = fi.Name()
	}
	return names, err
}
