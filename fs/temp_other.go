//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package fs

import "os"

const openNonBlock = 0

// lockTemp does nothing where flock(2) is missing.
func lockTemp(*os.File) error { return nil }

// unlocked reports false: without locks a temporary file in use cannot be told from a stale
// one, so none is removed by a sweep.
func unlocked(*os.File) bool { return false }

func blocking(*os.File) error { return nil }
