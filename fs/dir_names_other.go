//go:build !linux

package fs

import (
	"os"
	"slices"
	"strings"
)

// readNames reads the names of the open directory f, without temporary upload files, and
// gives them to batch.
func readNames(f *os.File, batch func(names []string)) error {
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, tempPrefix) })
	if len(names) > 0 {
		batch(names)
	}
	return nil
}
