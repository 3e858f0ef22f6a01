package fs

import (
	"crypto/md5"  //nolint:gosec // HASH MD5 is what the client asked for
	"crypto/sha1" //nolint:gosec // likewise
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"hash/crc32"
	"io"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

var errBadRange = newReason("invalid range")

// ComputeHash returns the hex digest of bytes [start, end) of a file (HASH, XMD5, ...). It needs
// the "read" permission. Hashing reads the disk only, so it is neither throttled nor reported as
// a transfer.
func (t *Tree) ComputeHash(name string, algo ftpserver.HASHAlgo, start, end int64) (string, error) {
	n, err := t.resolve(name)
	if err != nil {
		return "", err
	}
	switch {
	case n.reserved:
		return "", fail(n.vpath, errNotExist)
	case n.m == nil && n.ancestor, n.isMountPoint():
		return "", fail(n.vpath, errIsDir)
	case n.m == nil:
		return "", fail(n.vpath, errNotExist)
	}
	if err := need(n, PermRead); err != nil {
		return "", err
	}
	if start < 0 || end < start {
		return "", fail(n.vpath, errBadRange)
	}
	var h hash.Hash
	switch algo {
	case ftpserver.HASHAlgoCRC32:
		h = crc32.NewIEEE()
	case ftpserver.HASHAlgoMD5:
		h = md5.New() //nolint:gosec
	case ftpserver.HASHAlgoSHA1:
		h = sha1.New() //nolint:gosec
	case ftpserver.HASHAlgoSHA256:
		h = sha256.New()
	case ftpserver.HASHAlgoSHA512:
		h = sha512.New()
	default:
		return "", fail(n.vpath, newReason("unknown hash algorithm"))
	}
	f, err := n.m.b.Open(n.rel, start)
	if err != nil {
		return "", t.openError(n, err)
	}
	defer f.Close()
	if _, err := io.CopyN(h, f, end-start); err != nil && err != io.EOF {
		return "", t.osError("hash", n.vpath, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
