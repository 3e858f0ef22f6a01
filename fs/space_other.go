//go:build !linux

package fs

import "os"

// availableBytes is not implemented outside Linux.
func availableBytes(*os.File) (int64, error) { return 0, errUnavailable }
