package fs

import (
	"bytes"
	"encoding/binary"
	"os"
	"path"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// direntBufSize is the getdents buffer: 64 KiB hold about 2,000 entries of a usual name
// length, 8 times what os.File.Readdirnames reads per call.
const direntBufSize = 64 << 10

// readNames reads the names of the open directory f, without ".", ".." and temporary upload
// files, one getdents call at a time: batch gets the names of each call (the slice is
// reused; the strings stay valid), one after the other in the string all (less than 64 KiB).
func readNames(f *os.File, batch func(all string, names []string)) error {
	fd := int(f.Fd())
	buf := make([]byte, direntBufSize)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "readdirent", Path: f.Name(), Err: err}
		}
		if n <= 0 {
			return nil
		}
		size := 0
		eachDirent(buf[:n], func(name []byte) { size += len(name) })
		var b strings.Builder
		b.Grow(size)
		eachDirent(buf[:n], func(name []byte) { b.Write(name) })
		all, off := b.String(), 0
		names = names[:0]
		eachDirent(buf[:n], func(name []byte) {
			names = append(names, all[off:off+len(name)])
			off += len(name)
		})
		if len(names) > 0 {
			batch(all, names)
		}
	}
}

// eachDirent calls fn with the name of every entry of buf (struct linux_dirent64: d_ino,
// d_off, d_reclen, d_type, d_name), except ".", ".." and temporary upload files.
func eachDirent(buf []byte, fn func(name []byte)) {
	eachTypedDirent(buf, func(name []byte, _ byte) {
		if !bytes.HasPrefix(name, []byte(tempPrefix)) {
			fn(name)
		}
	})
}

// eachTypedDirent calls fn with the name and d_type of every entry of buf but "." and "..".
func eachTypedDirent(buf []byte, fn func(name []byte, typ byte)) {
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			return
		}
		typ, name := buf[18], buf[19:reclen]
		buf = buf[reclen:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 || string(name) == "." || string(name) == ".." {
			continue
		}
		fn(name, typ)
	}
}

// findTemp calls found with the path (in root) of every regular file named as a temporary
// upload file in the directory dir of root and below it. Directories are read by the type
// getdents gives (a stat only where the file system gives none), not by fs.WalkDir on
// root.FS(), which lstats every entry of a directory opened in a root and keeps a FileInfo
// for each. Symbolic links are not followed.
func findTemp(root *os.Root, dir string, found func(p string)) {
	buf := make([]byte, direntBufSize)
	findTempIn(root, dir, buf, found)
}

func findTempIn(root *os.Root, dir string, buf []byte, found func(p string)) {
	f, err := root.Open(dir)
	if err != nil {
		return // unreadable: skip
	}
	var subdirs []string
	fd := int(f.Fd())
	for {
		n, err := unix.Getdents(fd, buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		eachTypedDirent(buf[:n], func(name []byte, typ byte) {
			temp := bytes.HasPrefix(name, []byte(tempPrefix))
			if typ == unix.DT_UNKNOWN {
				fi, err := root.Lstat(path.Join(dir, string(name)))
				switch {
				case err != nil:
					return
				case fi.IsDir():
					typ = unix.DT_DIR
				case fi.Mode().IsRegular():
					typ = unix.DT_REG
				}
			}
			switch {
			case typ == unix.DT_DIR:
				subdirs = append(subdirs, path.Join(dir, string(name)))
			case typ == unix.DT_REG && temp:
				found(path.Join(dir, string(name)))
			}
		})
	}
	_ = f.Close()
	for _, d := range subdirs {
		findTempIn(root, d, buf, found)
	}
}
