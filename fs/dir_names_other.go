//go:build !linux

package fs

import (
	iofs "io/fs"
	"math"
	"os"
	"strings"
)

// readNames reads the names of the open directory f, without temporary upload files, and
// gives them to batch in batches of less than 64 KiB of names, one after the other in the
// string all.
func readNames(f *os.File, batch func(all string, names []string)) error {
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	for len(names) > 0 {
		size, i := 0, 0
		for ; i < len(names) && size+len(names[i]) <= math.MaxUint16; i++ {
			size += len(names[i])
		}
		part := names[:max(i, 1)]
		names = names[len(part):]
		var b strings.Builder
		var kept []string
		for _, n := range part {
			if !strings.HasPrefix(n, tempPrefix) {
				b.WriteString(n)
				kept = append(kept, n)
			}
		}
		if len(kept) > 0 {
			batch(b.String(), kept)
		}
	}
	return nil
}

// findTemp calls found with the path (in root) of every regular file named as a temporary
// upload file in the directory dir of root and below it. Symbolic links are not followed.
func findTemp(root *os.Root, dir string, found func(p string)) {
	_ = iofs.WalkDir(root.FS(), dir, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable: skip
		}
		if d.Type().IsRegular() && strings.HasPrefix(d.Name(), tempPrefix) {
			found(p)
		}
		return nil
	})
}
