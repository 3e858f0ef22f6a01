package config

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// checker collects the problems of one file.
type checker struct {
	file  string
	lines *lineIndex
	opt   Options
	errs  Errors
	warns Errors

	stores map[string]bool // names of the [stores.NAME] tables read so far

	asked func(loc) // when set, told of every key the checker reads (docs test)
}

// warnf records a warning at the line of l: "FILE:LINE: warning: message".
func (c *checker) warnf(l loc, format string, args ...any) {
	c.warns = append(c.warns, Error{File: c.file, Line: c.lines.line(l), Msg: "warning: " + fmt.Sprintf(format, args...)})
}

// errorf records a problem at the line of l (or of its nearest parent).
func (c *checker) errorf(l loc, format string, args ...any) {
	c.errs = append(c.errs, Error{File: c.file, Line: c.lines.line(l), Msg: fmt.Sprintf(format, args...)})
}

// keyErrorf records a problem about the key at l, prefixed with its name.
func (c *checker) keyErrorf(l loc, format string, args ...any) {
	c.errorf(l, "%s: %s", l, fmt.Sprintf(format, args...))
}

// table reads the keys of one decoded TOML table, reporting wrong types, and
// (in finish) every key nobody asked for.
type table struct {
	c    *checker
	at   loc
	m    map[string]any
	used map[string]bool
}

// newTable wraps v, the value at l; anything but a table is reported and
// gives an empty table.
func (c *checker) newTable(l loc, v any) *table {
	m, ok := v.(map[string]any)
	if !ok && v != nil {
		c.keyErrorf(l, "must be a table")
	}
	return &table{c: c, at: l, m: m, used: map[string]bool{}}
}

// get returns the value of key and its location, and marks it as known.
func (t *table) get(key string) (any, loc, bool) {
	t.used[key] = true
	v, ok := t.m[key]
	l := t.at.key(key)
	if t.c.asked != nil {
		t.c.asked(l)
	}
	return v, l, ok
}

// has reports whether key is set, without marking it.
func (t *table) has(key string) bool {
	_, ok := t.m[key]
	return ok
}

// loc returns the location of key in t.
func (t *table) loc(key string) loc { return t.at.key(key) }

// finish reports every key of t that was never read.
func (t *table) finish() {
	var unknown []string
	for k := range t.m {
		if !t.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		l := t.at.key(k)
		t.c.errorf(l, "unknown key %q", l.String())
	}
}

// str reads a string; it returns false when key is absent or not a string.
func (t *table) str(key string, dst *string) bool { return t.strOf(key, "string", dst) }

// strOf is str, with what the string holds for the message of a wrong type,
// e.g. `rate string such as "10MB/s"`.
func (t *table) strOf(key, what string, dst *string) bool {
	v, l, ok := t.get(key)
	if !ok {
		return false
	}
	s, ok := v.(string)
	if !ok {
		t.c.keyErrorf(l, "must be a %s", what)
		return false
	}
	*dst = s
	return true
}

// strings reads a list of strings.
func (t *table) strings(key string, dst *[]string) bool {
	v, l, ok := t.get(key)
	if !ok {
		return false
	}
	list, ok := v.([]any)
	if !ok {
		t.c.keyErrorf(l, "must be a list of strings")
		return false
	}
	var out []string // nil for an empty list, as when the key is absent
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			t.c.keyErrorf(l, "must be a list of strings")
			return false
		}
		out = append(out, s)
	}
	*dst = out
	return true
}

// integer reads an integer no lower than lowest.
func (t *table) integer(key string, lowest int, dst *int) bool {
	v, l, ok := t.get(key)
	if !ok {
		return false
	}
	n, ok := v.(int64)
	if !ok {
		t.c.keyErrorf(l, "must be an integer")
		return false
	}
	if n < int64(lowest) || n > math.MaxInt32 {
		t.c.keyErrorf(l, "must be an integer from %d to %d", lowest, math.MaxInt32)
		return false
	}
	*dst = int(n)
	return true
}

// boolean reads true or false.
func (t *table) boolean(key string, dst *bool) bool {
	v, l, ok := t.get(key)
	if !ok {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		t.c.keyErrorf(l, "must be true or false")
		return false
	}
	*dst = b
	return true
}

// duration reads a Go duration string, above zero (or at least zero when
// zeroOK). An integer is refused: TOML has no duration type, and a bare
// number would silently mean nanoseconds.
func (t *table) duration(key string, zeroOK bool, dst *time.Duration) bool {
	v, l, ok := t.get(key)
	if !ok {
		return false
	}
	s, ok := v.(string)
	if !ok {
		t.c.keyErrorf(l, "must be a duration string such as \"30s\"")
		return false
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		t.c.keyErrorf(l, "%q is not a duration (use e.g. \"30s\", \"5m\", \"1h\")", s)
		return false
	case d < 0 || (d == 0 && !zeroOK):
		if zeroOK {
			t.c.keyErrorf(l, "must not be negative")
		} else {
			t.c.keyErrorf(l, "must be above zero")
		}
		return false
	}
	*dst = d
	return true
}

// oneOf reads a string that must be one of choices.
func (t *table) oneOf(key string, dst *string, choices ...string) bool {
	v, l, ok := t.get(key)
	if !ok {
		return false
	}
	s, isString := v.(string)
	if isString && slices.Contains(choices, s) {
		*dst = s
		return true
	}
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = quote(c)
	}
	if isString {
		t.c.keyErrorf(l, "must be one of %s (not %q)", strings.Join(quoted, ", "), s)
	} else {
		t.c.keyErrorf(l, "must be one of %s (a string)", strings.Join(quoted, ", "))
	}
	return false
}

// sub returns the table at key (a [header] table or an inline one), or nil
// when key is absent; a key that is not a table is reported and gives nil.
func (t *table) sub(key string) *table {
	v, l, ok := t.get(key)
	if !ok {
		return nil
	}
	if _, isMap := v.(map[string]any); !isMap {
		t.c.keyErrorf(l, "must be a table")
		return nil
	}
	return t.c.newTable(l, v)
}

// tables returns the elements of the array of tables at key: [[key]]
// headers or a list of inline tables.
func (t *table) tables(key string) []*table {
	v, l, ok := t.get(key)
	if !ok {
		return nil
	}
	var out []*table
	switch list := v.(type) {
	case []map[string]any:
		for i, m := range list {
			out = append(out, t.c.newTable(l.index(i), m))
		}
	case []any:
		for i, e := range list {
			if _, isMap := e.(map[string]any); !isMap {
				t.c.keyErrorf(l, "must be a list of tables ([[%s]])", l)
				return nil
			}
			out = append(out, t.c.newTable(l.index(i), e))
		}
	default:
		t.c.keyErrorf(l, "must be a list of tables ([[%s]])", l)
	}
	return out
}

// keys returns t's keys, sorted.
func (t *table) keys() []string {
	out := make([]string, 0, len(t.m))
	for k := range t.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
