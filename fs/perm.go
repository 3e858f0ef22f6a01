package fs

import (
	"fmt"
	"strings"
)

// Perm is a set of permissions granted on a mounted folder.
type Perm uint16

// The permissions a folder may grant; see the contract's permission table.
const (
	PermList   Perm = 1 << iota // LIST, NLST, MLSD, MLST, STAT of a directory; CWD
	PermRead                    // RETR, SIZE, MDTM, HASH
	PermWrite                   // STOR of a new file or over an existing one; MFMT
	PermAppend                  // APPE, STOR after REST
	PermDelete                  // DELE
	PermRename                  // RNFR/RNTO, on both the source and the target folder
	PermMkdir                   // MKD
	PermRmdir                   // RMD
)

// PermAll grants every permission ("*").
const PermAll = PermList | PermRead | PermWrite | PermAppend | PermDelete | PermRename | PermMkdir | PermRmdir

// permNames lists the configuration names, in the order String prints them.
var permNames = [...]struct {
	name string
	perm Perm
}{
	{"list", PermList},
	{"read", PermRead},
	{"write", PermWrite},
	{"append", PermAppend},
	{"delete", PermDelete},
	{"rename", PermRename},
	{"mkdir", PermMkdir},
	{"rmdir", PermRmdir},
}

// ParsePermissions parses permission names ("list", "read", "write", "append", "delete", "rename",
// "mkdir", "rmdir", or "*" for all of them). An empty list grants nothing. An unknown name is an
// error naming it.
func ParsePermissions(names []string) (Perm, error) {
	var p Perm
	for _, name := range names {
		q, ok := lookupPerm(name)
		if !ok {
			return 0, fmt.Errorf("unknown permission %q (want one of list, read, write, append, delete, rename, mkdir, rmdir, *)", name)
		}
		p |= q
	}
	return p, nil
}

func lookupPerm(name string) (Perm, bool) {
	if name == "*" {
		return PermAll, true
	}
	for _, pn := range permNames {
		if pn.name == name {
			return pn.perm, true
		}
	}
	return 0, false
}

// Has reports whether p grants every permission in q.
func (p Perm) Has(q Perm) bool { return p&q == q }

// String returns the names of the permissions in p, comma-separated ("list,read,write"), "*" for
// PermAll and "none" for no permission at all.
func (p Perm) String() string {
	switch p & PermAll {
	case PermAll:
		return "*"
	case 0:
		return "none"
	}
	var b strings.Builder
	for _, pn := range permNames {
		if p.Has(pn.perm) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(pn.name)
		}
	}
	return b.String()
}

// name returns the configuration name of a single permission.
func (p Perm) name() string {
	for _, pn := range permNames {
		if pn.perm == p {
			return pn.name
		}
	}
	return p.String()
}

// split returns the single permissions in p, in configuration order.
func (p Perm) split() []Perm {
	var out []Perm
	for _, pn := range permNames {
		if p&pn.perm != 0 {
			out = append(out, pn.perm)
		}
	}
	return out
}
