package config

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// step is one element of a location: a key name, or an index into an array.
type step struct {
	name    string
	index   int
	isIndex bool
}

// loc names one place in a TOML document: a table, a key, or an element of an
// array (of tables). Locations are values; key and index return copies.
type loc []step

// key returns the location of key name inside l.
func (l loc) key(name string) loc {
	out := make(loc, len(l), len(l)+1)
	copy(out, l)
	return append(out, step{name: name})
}

// keys returns the location of the dotted key names inside l.
func (l loc) keys(names []string) loc {
	out := l
	for _, n := range names {
		out = out.key(n)
	}
	return out
}

// index returns the location of element i of the array at l.
func (l loc) index(i int) loc {
	out := make(loc, len(l), len(l)+1)
	copy(out, l)
	return append(out, step{index: i, isIndex: true})
}

// parent returns the enclosing location; the root is its own parent.
func (l loc) parent() loc {
	if len(l) == 0 {
		return l
	}
	return l[:len(l)-1]
}

// id is a unique, unambiguous string for l, used as a map key.
func (l loc) id() string {
	var b strings.Builder
	for _, s := range l {
		if s.isIndex {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
			continue
		}
		b.WriteByte('.')
		b.WriteString(strconv.Quote(s.name))
	}
	return b.String()
}

// String is the dotted TOML key for messages, without array indexes, e.g.
// users.alice.folders.mount.
func (l loc) String() string {
	k := make(toml.Key, 0, len(l))
	for _, s := range l {
		if !s.isIndex {
			k = append(k, s.name)
		}
	}
	return k.String()
}
