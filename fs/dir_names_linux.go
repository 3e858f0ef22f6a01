package fs

import (
	"bytes"
	"encoding/binary"
	"os"
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
	for len(buf) >= 19 {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < 19 || reclen > len(buf) {
			return
		}
		name := buf[19:reclen]
		buf = buf[reclen:]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 || string(name) == "." || string(name) == ".." || bytes.HasPrefix(name, []byte(tempPrefix)) {
			continue
		}
		fn(name)
	}
}
