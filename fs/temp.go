package fs

import (
	"errors"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
)

// A temporary upload file is in use while its upload holds it locked (lockTemp). One that
// nobody holds is stale: left by a crash, a kill, or a process that lost its disk. Stale files
// are removed when their folder is first opened by this process (sweepFolder, in the
// background), and whenever RMD finds that they are all that keeps a directory from being
// empty.

// removeStale removes the stale temporary files among names in the directory rel of root. It
// returns how many temporary files are still there (in use, or not removable).
func removeStale(root *os.Root, rel string, names []string, log *slog.Logger) (left int) {
	for _, name := range names {
		if !strings.HasPrefix(name, tempPrefix) {
			continue
		}
		p := path.Join(rel, name)
		if !removeIfStale(root, p) {
			left++
			continue
		}
		log.Info("stale temporary upload file removed", "file", p)
	}
	return left
}

// removeIfStale removes the temporary file p of root if nobody holds it; it reports whether
// p is gone.
func removeIfStale(root *os.Root, p string) bool {
	f, err := root.OpenFile(p, os.O_RDONLY|openNonBlock, 0)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || !unlocked(f) {
		return false
	}
	err = root.Remove(p)
	return err == nil || errors.Is(err, os.ErrNotExist)
}

// swept holds the real directories of the folders this process has swept (or is sweeping).
var swept sync.Map

// sweepFolder removes, in the background and once per process, the stale temporary files
// anywhere below the folder dir.
func sweepFolder(dir string, log *slog.Logger) {
	if _, done := swept.LoadOrStore(dir, true); done {
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		swept.Delete(dir)
		return
	}
	go func() {
		defer root.Close()
		findTemp(root, ".", func(p string) {
			if removeIfStale(root, p) {
				log.Info("stale temporary upload file removed", "file", p)
			}
		})
	}()
}
