// Package events carries what happens in wharf (uploads, downloads, deletions,
// logins, bans, ...) to those who want to know: hooks, the admin API's event
// stream and the audit log.
package events

import (
	"fmt"
	"strings"
)

// Kind names an event, as hooks list them in `events`.
type Kind string

// The kinds of events.
const (
	Upload      Kind = "upload"
	Download    Kind = "download"
	Delete      Kind = "delete"
	Rename      Kind = "rename"
	Mkdir       Kind = "mkdir"
	Rmdir       Kind = "rmdir"
	Login       Kind = "login"
	LoginFailed Kind = "login_failed"
	Ban         Kind = "ban"
)

// Kinds lists every kind, in the order the documentation gives them.
var Kinds = []Kind{Upload, Download, Delete, Rename, Mkdir, Rmdir, Login, LoginFailed, Ban}

// ParseKinds parses a list of event names; each must be known and appear once.
func ParseKinds(names []string) ([]Kind, error) {
	out := make([]Kind, 0, len(names))
	seen := map[Kind]bool{}
	for _, n := range names {
		k := Kind(n)
		if !k.valid() {
			return nil, fmt.Errorf("unknown event %q (want %s)", n, kindList())
		}
		if seen[k] {
			return nil, fmt.Errorf("event %q is listed twice", n)
		}
		seen[k] = true
		out = append(out, k)
	}
	return out, nil
}

func (k Kind) valid() bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
