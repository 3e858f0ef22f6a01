package config

import (
	"strings"

	"github.com/BurntSushi/toml"
)

// lineIndex maps every key, table and array element of a TOML document to
// the line where it is defined. toml.MetaData has no positions (and keeps only
// the last element's for arrays of tables), so the index comes from a small
// scanner of its own. It only runs on documents toml has already accepted,
// and on anything else it stays bounded and never panics: at worst a
// location has no line.
type lineIndex struct {
	explicit map[string]int // defined here: key = ..., [table], [[array]]
	implicit map[string]int // first line of something inside
}

// line returns the line of l, else of the nearest enclosing location that
// has one, else 0.
func (x *lineIndex) line(l loc) int {
	for {
		id := l.id()
		if n, ok := x.explicit[id]; ok {
			return n
		}
		if n, ok := x.implicit[id]; ok {
			return n
		}
		if len(l) == 0 {
			return 0
		}
		l = l.parent()
	}
}

// maxDepth bounds the locations the index records: a configuration nests a
// few levels deep, and deeper input (fuzzing) must stay cheap.
const maxDepth = 12

// define records that l is defined on line n, and that its parents have
// content from line n on (if nothing earlier).
func (x *lineIndex) define(l loc, n int) {
	if len(l) > maxDepth {
		l = l[:maxDepth+1] // record its parents only
	} else {
		x.explicit[l.id()] = n
	}
	for p := l.parent(); len(p) > 0; p = p.parent() {
		if _, ok := x.implicit[p.id()]; !ok {
			x.implicit[p.id()] = n
		}
	}
}

// capped returns the location of the dotted key names inside l, cut at
// maxDepth+1 steps: define records no line for it then, only for its parents.
func capped(l loc, names []string) loc {
	for _, n := range names {
		if len(l) > maxDepth {
			break
		}
		l = l.key(n)
	}
	return l
}

// indexLines scans data, a TOML document, into a lineIndex.
func indexLines(data []byte) *lineIndex {
	sc := &lineScanner{
		s:      data,
		line:   1,
		idx:    &lineIndex{explicit: map[string]int{}, implicit: map[string]int{}},
		arrays: map[string]int{},
	}
	if strings.HasPrefix(string(data[:min(3, len(data))]), "\uFEFF") {
		sc.i = 3 // a byte order mark is no key
	}
	sc.document()
	return sc.idx
}

// lineScanner walks a TOML document. Every loop consumes at least one byte
// per turn, so it ends on any input.
type lineScanner struct {
	s      []byte
	i      int
	line   int
	idx    *lineIndex
	arrays map[string]int // id of an array of tables → elements seen
}

func (sc *lineScanner) eof() bool { return sc.i >= len(sc.s) }

func (sc *lineScanner) peek(off int) byte {
	if sc.i+off < len(sc.s) {
		return sc.s[sc.i+off]
	}
	return 0
}

func (sc *lineScanner) advance() {
	if sc.eof() {
		return
	}
	if sc.s[sc.i] == '\n' {
		sc.line++
	}
	sc.i++
}

func (sc *lineScanner) hasPrefix(p string) bool {
	return strings.HasPrefix(string(sc.s[sc.i:min(len(sc.s), sc.i+len(p))]), p)
}

// skipBlanks skips spaces and tabs.
func (sc *lineScanner) skipBlanks() {
	for !sc.eof() && (sc.peek(0) == ' ' || sc.peek(0) == '\t') {
		sc.advance()
	}
}

// skipSpace skips blanks, line ends and comments.
func (sc *lineScanner) skipSpace() {
	for !sc.eof() {
		switch sc.peek(0) {
		case ' ', '\t', '\r', '\n':
			sc.advance()
		case '#':
			for !sc.eof() && sc.peek(0) != '\n' {
				sc.advance()
			}
		default:
			return
		}
	}
}

// document scans top-level statements: table headers and key/value pairs.
func (sc *lineScanner) document() {
	var table loc
	for {
		sc.skipSpace()
		if sc.eof() {
			return
		}
		start := sc.i
		line := sc.line
		if sc.peek(0) == '[' {
			array := sc.peek(1) == '['
			sc.advance()
			if array {
				sc.advance()
			}
			table = sc.header(sc.key(), array, line)
			for !sc.eof() && sc.peek(0) != '\n' && sc.peek(0) != '#' {
				sc.advance() // "]" or "]]"
			}
		} else {
			names := sc.key()
			sc.skipBlanks()
			if sc.peek(0) == '=' {
				sc.advance()
			}
			at := capped(table, names)
			sc.idx.define(at, line)
			sc.value(at)
		}
		if sc.i == start {
			sc.advance()
		}
	}
}

// header resolves a [table] or [[array]] header to its location: a key that
// names an array of tables refers to its latest element.
func (sc *lineScanner) header(names []string, array bool, line int) loc {
	var at loc
	for n, name := range names {
		if len(at) > maxDepth {
			break // too deep to index; define ignores it
		}
		at = at.key(name)
		count, isArray := sc.arrays[at.id()]
		switch {
		case array && n == len(names)-1:
			sc.arrays[at.id()] = count + 1
			if !isArray {
				sc.idx.define(at, line)
			}
			at = at.index(count)
		case isArray && count > 0:
			at = at.index(count - 1)
		}
	}
	sc.idx.define(at, line)
	return at
}

// key reads a possibly dotted key: bare, "basic" or 'literal' parts.
func (sc *lineScanner) key() []string {
	var names []string
	for !sc.eof() {
		sc.skipBlanks()
		start := sc.i
		switch sc.peek(0) {
		case '"':
			names = append(names, unquoteBasic(sc.basicString()))
		case '\'':
			names = append(names, sc.literalString())
		default:
			for !sc.eof() && !strings.ContainsRune(" \t\r\n.=[]{},#\"'", rune(sc.peek(0))) {
				sc.advance()
			}
			names = append(names, string(sc.s[start:sc.i]))
		}
		sc.skipBlanks()
		if sc.peek(0) != '.' || sc.i == start {
			return names
		}
		sc.advance()
	}
	return names
}

// value skips one value, indexing the keys of inline tables and the elements
// of arrays.
func (sc *lineScanner) value(at loc) {
	sc.skipBlanks()
	switch {
	case sc.hasPrefix(`"""`):
		sc.multiline(`"""`, true)
	case sc.hasPrefix(`'''`):
		sc.multiline(`'''`, false)
	case sc.peek(0) == '"':
		sc.basicString()
	case sc.peek(0) == '\'':
		sc.literalString()
	case sc.peek(0) == '[':
		sc.array(at)
	case sc.peek(0) == '{':
		sc.inlineTable(at)
	default:
		start := sc.i
		for !sc.eof() && !strings.ContainsRune(",]}#\r\n", rune(sc.peek(0))) {
			sc.advance()
		}
		if sc.i == start {
			sc.advance()
		}
	}
}

func (sc *lineScanner) array(at loc) {
	sc.advance() // [
	for n := 0; !sc.eof(); n++ {
		sc.skipSpace()
		if sc.peek(0) == ']' {
			sc.advance()
			return
		}
		start := sc.i
		elem := at
		if len(at) <= maxDepth {
			elem = at.index(n)
		}
		sc.idx.define(elem, sc.line)
		sc.value(elem)
		sc.skipSpace()
		if sc.peek(0) == ',' {
			sc.advance()
		}
		if sc.i == start {
			sc.advance()
		}
	}
}

func (sc *lineScanner) inlineTable(at loc) {
	sc.advance() // {
	for !sc.eof() {
		sc.skipSpace()
		if sc.peek(0) == '}' {
			sc.advance()
			return
		}
		start := sc.i
		line := sc.line
		names := sc.key()
		sc.skipBlanks()
		if sc.peek(0) == '=' {
			sc.advance()
		}
		sub := capped(at, names)
		sc.idx.define(sub, line)
		sc.value(sub)
		sc.skipSpace()
		if sc.peek(0) == ',' {
			sc.advance()
		}
		if sc.i == start {
			sc.advance()
		}
	}
}

// basicString consumes "..." and returns its raw text, quotes included.
func (sc *lineScanner) basicString() string {
	start := sc.i
	sc.advance() // "
	for !sc.eof() && sc.peek(0) != '"' && sc.peek(0) != '\n' {
		if sc.peek(0) == '\\' {
			sc.advance()
		}
		sc.advance()
	}
	if sc.peek(0) == '"' {
		sc.advance()
	}
	return string(sc.s[start:sc.i])
}

// literalString consumes '...' and returns its content.
func (sc *lineScanner) literalString() string {
	sc.advance() // '
	start := sc.i
	for !sc.eof() && sc.peek(0) != '\'' && sc.peek(0) != '\n' {
		sc.advance()
	}
	s := string(sc.s[start:sc.i])
	if sc.peek(0) == '\'' {
		sc.advance()
	}
	return s
}

// multiline consumes a multi-line string opened by delim (three double or
// three single quotes); up to two more quotes right after the closing
// delimiter belong to the content.
func (sc *lineScanner) multiline(delim string, escapes bool) {
	for range 3 {
		sc.advance()
	}
	for !sc.eof() {
		if escapes && sc.peek(0) == '\\' {
			sc.advance()
			sc.advance()
			continue
		}
		if sc.hasPrefix(delim) {
			for range 3 {
				sc.advance()
			}
			for extra := 0; extra < 2 && sc.peek(0) == delim[0]; extra++ {
				sc.advance()
			}
			return
		}
		sc.advance()
	}
}

// unquoteBasic decodes a "basic" TOML string, quotes included, with the toml
// package itself so that every escape means what it means to the decoder.
func unquoteBasic(raw string) string {
	var v struct{ K string }
	if _, err := toml.Decode("K = "+raw, &v); err != nil {
		return strings.Trim(raw, `"`)
	}
	return v.K
}
