package config

import (
	"sort"
	"strconv"
	"strings"
)

// Error is one problem found in a configuration file.
type Error struct {
	File string // the file's name as given to Load or Parse
	Line int    // 1-based; 0 when the problem has no single line
	Msg  string
}

// Error returns "FILE:LINE: msg", or "FILE: msg" when Line is 0.
func (e Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Errors is every problem found in a configuration file, sorted by line.
type Errors []Error

// Error returns one line per problem, in order, joined by "\n".
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted returns es ordered by line (keeping the order of the problems of
// one line), without repeated problems.
func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	out := es[:0]
	seen := map[Error]bool{}
	for _, e := range es {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}
