package fs

import "strings"

// IsReservedPath reports whether some element of the virtual path p starts
// with the prefix of atomic uploads' temporary files: such a path is hidden
// from every command, so a mount point or home there could never be reached.
func IsReservedPath(p string) bool {
	return strings.Contains("/"+p, reservedElem)
}

// ReservedPrefix is the name prefix that IsReservedPath looks for.
const ReservedPrefix = tempPrefix
