package fs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// PathError is the only kind of error the tree returns for a path. Its text holds the virtual
// path and a short reason, never a real path or a library's message, because ftpserverlib writes
// driver errors into its replies. It wraps os.ErrNotExist, os.ErrExist, os.ErrPermission,
// ftpserver.ErrFileNameNotAllowed or ftpserver.ErrStorageExceeded where they apply, so errors.Is
// works.
type PathError struct {
	Path string // virtual path
	Err  error  // the reason, safe to show to a client
}

// Error returns "<virtual path>: <reason>".
func (e *PathError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *PathError) Unwrap() error { return e.Err }

// reason is a client-safe error text that matches, with errors.Is, the errors in kinds.
type reason struct {
	text  string
	kinds []error
}

func (r *reason) Error() string   { return r.text }
func (r *reason) Unwrap() []error { return r.kinds }

func newReason(text string, kinds ...error) *reason { return &reason{text: text, kinds: kinds} }

// Client-safe reasons. They are never modified.
var (
	errNotExist     = newReason("no such file or directory", os.ErrNotExist)
	errExist        = newReason("file already exists", os.ErrExist)
	errDenied       = newReason("permission denied", os.ErrPermission)
	errIsDir        = newReason("is a directory")
	errNotRegular   = newReason("not a regular file", os.ErrPermission)
	errNotWritable  = newReason("opened for reading", os.ErrPermission)
	errNotReadable  = newReason("opened for writing", os.ErrPermission)
	errStoreDown    = newReason("storage unavailable, try again later")
	errUnsupported  = newReason("not possible in this folder's storage", ErrUnsupported)
	errUseRMD       = newReason("is a directory, use RMD")
	errNotDir       = newReason("not a directory")
	errNotEmpty     = newReason("directory not empty")
	errNoSpace      = newReason("no space left", ftpserver.ErrStorageExceeded)
	errInvalidName  = newReason("invalid file name", ftpserver.ErrFileNameNotAllowed, os.ErrInvalid)
	errReservedName = newReason("file name not allowed", ftpserver.ErrFileNameNotAllowed)
	errNameTooLong  = newReason("file name too long", ftpserver.ErrFileNameNotAllowed)
	errMountPoint   = newReason("permission denied (a mounted folder cannot be changed)", os.ErrPermission)
	errHasMount     = newReason("permission denied (contains a mounted folder)", os.ErrPermission)
	errCrossMount   = newReason("cannot rename across folders", os.ErrPermission)
	errVirtualDir   = newReason("permission denied (read-only virtual directory)", os.ErrPermission)
	errNoChmod      = newReason("permission denied (changing modes is not allowed)", os.ErrPermission)
	errNoChown      = newReason("permission denied (changing owners is not allowed)", os.ErrPermission)
	errNoRemoveAll  = newReason("permission denied (recursive removal is not allowed)", os.ErrPermission)
	errLoop         = newReason("too many levels of symbolic links")
	errClosed       = newReason("session closed", os.ErrClosed)
	errFailed       = newReason("operation failed")
	errUnavailable  = newReason("not available")
	errConnReset    = newReason("data connection reset")
	errConnClosed   = newReason("data connection closed")
	errConnTimeout  = newReason("data connection timed out")
)

// ErrUnavailable is for a backend whose storage cannot be reached: the client is told to try
// again later, and the detail goes to the backend's own log.
var ErrUnavailable error = errStoreDown

// permError is the reason for a missing permission.
type permError struct {
	need []Perm
	why  string // what needs it, when not the whole command
}

func (e *permError) Error() string {
	if e.why != "" {
		return fmt.Sprintf("permission denied (%s needs the %q permission)", e.why, e.need[0].name())
	}
	if len(e.need) == 2 {
		return fmt.Sprintf("permission denied (no %q or %q permission)", e.need[0].name(), e.need[1].name())
	}
	return fmt.Sprintf("permission denied (no %q permission)", e.need[0].name())
}

func (e *permError) Unwrap() error { return os.ErrPermission }

// rootEscapeText is the text of os.Root's (unexported) error for a path or a symbolic link that
// leads outside the root.
const rootEscapeText = "path escapes from parent"

// safeReason maps an error from the os package (which holds real paths) onto a client-safe
// reason. known is false when the error was unexpected and should be logged.
func safeReason(err error) (r error, known bool) {
	var pe *os.PathError
	var le *os.LinkError
	var rs *reason
	var perm *permError
	switch {
	case errors.As(err, &rs):
		return rs, true
	case errors.As(err, &perm):
		return perm, true
	case errors.Is(err, ErrUnsupported):
		return errUnsupported, true
	case errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == rootEscapeText:
		return errDenied, true
	case errors.As(err, &le) && le.Err != nil && le.Err.Error() == rootEscapeText:
		return errDenied, true
	case errors.Is(err, errWaitCancelled), errors.Is(err, os.ErrClosed):
		return errClosed, true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return errConnReset, true
	case errors.Is(err, net.ErrClosed):
		return errConnClosed, true
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return errConnTimeout, true
	case errors.Is(err, syscall.ENOTEMPTY):
		return errNotEmpty, true
	case errors.Is(err, syscall.ENOTDIR):
		return errNotDir, true
	case errors.Is(err, syscall.EISDIR):
		return errIsDir, true
	case errors.Is(err, syscall.ELOOP):
		return errLoop, true
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return errNoSpace, true
	case errors.Is(err, syscall.ENAMETOOLONG):
		return errNameTooLong, true
	case errors.Is(err, syscall.EROFS):
		return errDenied, true
	case errors.Is(err, os.ErrNotExist):
		return errNotExist, true
	case errors.Is(err, os.ErrExist):
		return errExist, true
	case errors.Is(err, os.ErrPermission):
		return errDenied, true
	}
	return errFailed, false
}

// fail returns a *PathError for vpath with reason r.
func fail(vpath string, r error) error { return &PathError{Path: vpath, Err: r} }

// osError turns an error from the os package into a *PathError for vpath, logging unexpected
// ones (with their real detail) at warn level. nil stays nil.
func (t *Tree) osError(op, vpath string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*PathError); ok {
		return err
	}
	r, known := safeReason(err)
	if !known {
		t.log.Warn("file system error", "op", op, "path", vpath, "err", err)
	} else {
		t.log.Debug("file system error", "op", op, "path", vpath, "err", err)
	}
	return fail(vpath, r)
}

// ioError is osError for errors met while copying: io.EOF and errors that do not come from the
// file system (network errors, which hold no path) pass through unchanged.
func (t *Tree) ioError(vpath string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	var pe *os.PathError
	var se *os.SyscallError
	if errors.As(err, &pe) || errors.Is(err, errWaitCancelled) || (errors.As(err, &se) && isDiskErrno(se.Err)) {
		return t.osError("copy", vpath, err)
	}
	return err
}

// isDiskErrno reports whether a system call error is about the disk side of a copy.
func isDiskErrno(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EIO)
}
