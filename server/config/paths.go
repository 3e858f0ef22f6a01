package config

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"

	"github.com/wharf-ftp/wharf/internal/tlsfiles"
)

// The checks below look at the filesystem; with Options.SkipPathChecks they
// report nothing.

// folderPathExists reports a folder path that is not an existing directory.
func (c *checker) folderPathExists(l loc, path string) {
	if c.opt.SkipPathChecks {
		return
	}
	switch fi, err := os.Stat(path); {
	case errors.Is(err, iofs.ErrNotExist):
		c.errorf(l, "folder path %q does not exist", path)
	case err != nil:
		c.errorf(l, "folder path %q: %v", path, unwrapPath(err))
	case !fi.IsDir():
		c.errorf(l, "folder path %q is not a directory", path)
	}
}

// parentDirExists reports a file whose directory does not exist.
func (c *checker) parentDirExists(l loc, file string) {
	if c.opt.SkipPathChecks {
		return
	}
	dir := filepath.Dir(file)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, iofs.ErrNotExist):
		c.keyErrorf(l, "directory %q does not exist", dir)
	case err != nil:
		c.keyErrorf(l, "directory %q: %v", dir, unwrapPath(err))
	case !fi.IsDir():
		c.keyErrorf(l, "%q is not a directory", dir)
	}
}

// keyPair reports a certificate and key that do not load as a pair.
func (c *checker) keyPair(certAt loc, certFile string, keyAt loc, keyFile string) {
	if c.opt.SkipPathChecks {
		return
	}
	ok := c.fileExists(certAt, certFile)
	ok = c.fileExists(keyAt, keyFile) && ok
	if !ok {
		return
	}
	c.secretFileMode(keyAt, keyFile)
	if _, err := tlsfiles.LoadKeyPair(certFile, keyFile); err != nil {
		c.keyErrorf(certAt, "certificate %q and key %q do not load as a pair: %v", certFile, keyFile, unwrapPath(err))
	}
}

// fileExists reports a file that cannot be read.
func (c *checker) fileExists(l loc, file string) bool {
	switch fi, err := os.Stat(file); {
	case errors.Is(err, iofs.ErrNotExist):
		c.keyErrorf(l, "file %q does not exist", file)
	case err != nil:
		c.keyErrorf(l, "file %q: %v", file, unwrapPath(err))
	case fi.IsDir():
		c.keyErrorf(l, "%q is a directory, not a file", file)
	default:
		return true
	}
	return false
}

// caBundle reports a CA file that holds no PEM certificate.
func (c *checker) caBundle(l loc, file string) {
	if c.opt.SkipPathChecks {
		return
	}
	if !c.fileExists(l, file) {
		return
	}
	if _, err := tlsfiles.LoadCertPool(file); err != nil {
		c.keyErrorf(l, "%v", err)
	}
}

// unwrapPath drops the operation and path of an *fs.PathError, which the
// message already names.
func unwrapPath(err error) error {
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
