package auth

import (
	"net/netip"
	"slices"
)

// Filter is an allow/deny list of networks. The rule: the most specific entry
// that matches an address decides (the longest prefix, of either list; a tie
// is a deny); an address matched by neither list is refused when allow is not
// empty, and allowed otherwise. So a deny inside an allow carves a hole in it,
// and an allow inside a deny an exception. A nil *Filter allows everything. A
// Filter is immutable and safe for concurrent use.
type Filter struct {
	allow, deny         *PrefixSet
	allowList, denyList []netip.Prefix
}

// NewFilter builds a Filter from its allow and deny networks.
func NewFilter(allow, deny []netip.Prefix) *Filter {
	return &Filter{
		allow: NewPrefixSet(allow), deny: NewPrefixSet(deny),
		allowList: slices.Clone(allow), denyList: slices.Clone(deny),
	}
}

// longest returns the length of the longest prefix of ps containing a, -1 if none.
func longest(ps []netip.Prefix, a netip.Addr) int {
	best := -1
	for _, p := range ps {
		if p.IsValid() {
			if n := normalizePrefix(p); n.Contains(a) {
				best = max(best, n.Bits())
			}
		}
	}
	return best
}

// Allowed reports whether the filter lets a through. IPv4-mapped IPv6
// addresses are treated as the IPv4 address they carry. An invalid address
// is allowed only by an empty filter.
func (f *Filter) Allowed(a netip.Addr) bool {
	if f == nil {
		return true
	}
	if !a.IsValid() {
		return f.Empty()
	}
	a = a.Unmap()
	inAllow, inDeny := f.allow.Contains(a), f.deny.Contains(a)
	switch {
	case inAllow && inDeny:
		return longest(f.allowList, a) > longest(f.denyList, a)
	case inAllow:
		return true
	case inDeny:
		return false
	default:
		return f.allow.Len() == 0
	}
}

// Empty reports whether the filter has no network at all (and so allows
// everything).
func (f *Filter) Empty() bool {
	return f == nil || (f.allow.Len() == 0 && f.deny.Len() == 0)
}
