// Package term turns a terminal's echo off while a secret is typed.
package term

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// NoEcho writes prompt to w and turns echo off on r when r is a terminal; the
// returned function restores it (and ends the prompt's line). ok is false, and
// nothing is written, when r is not a terminal.
func NoEcho(r io.Reader, w io.Writer, prompt string) (restore func(), ok bool) {
	f, isFile := r.(*os.File)
	if !isFile {
		return func() {}, false
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}, false
	}
	fmt.Fprint(w, prompt)
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return func() {}, true
	}
	return func() {
		_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
		fmt.Fprintln(w)
	}, true
}
