package fs

import (
	"errors"
	"io"
	"os"
	"time"
)

// Backend does the I/O of one folder: a local directory (the default, through an os.Root) or an
// object store (package fs/s3). The tree keeps everything else: virtual paths, mounts,
// permissions, quotas, reserved names, the atomic-upload rule, throttling and the copy loop.
//
// Names are relative to the folder: clean, slash-separated, "." for its top, never absolute and
// never holding "..". Errors may be the os package's (*os.PathError and syscall errors, which
// the tree maps onto client-safe reasons), ErrUnsupported, or any error matching os.ErrNotExist,
// os.ErrExist, os.ErrPermission or a syscall.Errno with errors.Is; any other error is logged by
// the tree and shown to the client as a plain failure. No error may hold a secret.
type Backend interface {
	// Stat describes name (following symbolic links that stay inside the folder).
	Stat(name string) (os.FileInfo, error)
	// ReadDir lists the directory name, without temporary upload files. With stat false only
	// the entries' names are used (NLST).
	ReadDir(name string, stat bool) ([]os.FileInfo, error)
	// Mkdir creates a directory; with all, its missing parents too, and an existing directory
	// is no error.
	Mkdir(name string, all bool) error
	// Remove deletes a file; a directory is refused (syscall.EISDIR).
	Remove(name string) error
	// RemoveDir deletes an empty directory (syscall.ENOTEMPTY otherwise, syscall.ENOTDIR for
	// a file).
	RemoveDir(name string) error
	// Rename renames a file or a directory: completely, or not at all.
	Rename(from, to string) error
	// Chtimes sets the modification time (MFMT).
	Chtimes(name string, atime, mtime time.Time) error
	// Open opens a regular file for reading from offset. Anything else (a directory, a FIFO, a
	// device) is refused without being opened.
	Open(name string, offset int64) (Source, error)
	// Create opens a file for an upload (see Write).
	Create(name string, w Write) (Sink, error)
	// Available returns the bytes that can still be written, or ErrUnsupported when the storage
	// cannot tell.
	Available() (int64, error)
	// Close releases the backend.
	Close() error
}

// Write describes an upload.
type Write struct {
	Flags  int   // os.O_CREATE, os.O_EXCL, os.O_TRUNC, os.O_APPEND (APPE: at the end), os.O_RDWR
	Offset int64 // REST: the upload starts here, keeping what is before
	// Atomic: the upload is written aside and replaces the file only when it completes
	// (Sink.Finish(true)); an interrupted one leaves the old file as it was.
	Atomic bool
	// AtEndOnly: the offset must be the file's current size (a user who may append but not
	// overwrite); anything else is refused with os.ErrPermission.
	AtEndOnly bool
}

// Source is a file being read by a transfer. Its Seek may only confirm the offset given to
// Backend.Open, unless the backend can do better. A *os.File keeps the kernel's zero-copy path.
type Source interface {
	io.Reader
	io.Seeker
	io.Closer
}

// Sink is a file being written by a transfer.
type Sink interface {
	io.Writer
	// Seek may only confirm the offset given in Write, unless the backend can do better.
	Seek(offset int64, whence int) (int64, error)
	// Finish ends the upload. With complete, what was written becomes the file; otherwise an
	// atomic upload is discarded and the old file stays. It is called exactly once.
	Finish(complete bool) error
}

// osFiler is a Sink written to a local file, for the kernel's zero-copy path.
type osFiler interface{ File() *os.File }

// ErrUnsupported is returned by a backend for what its storage cannot do correctly (MFMT, APPE
// or REST+STOR in an object store); the client gets a 5xx and nothing changes.
var ErrUnsupported = errors.ErrUnsupported
