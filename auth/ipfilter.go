package auth

import "net/netip"

// Filter is an allow/deny list of networks. The rule: an address matching
// allow is allowed; otherwise, when allow is not empty, it is refused;
// otherwise an address matching deny is refused, and any other is allowed.
// A nil *Filter allows everything. A Filter is immutable and safe for
// concurrent use.
type Filter struct {
	allow *PrefixSet
	deny  *PrefixSet
}

// NewFilter builds a Filter from its allow and deny networks.
func NewFilter(allow, deny []netip.Prefix) *Filter {
	return &Filter{allow: NewPrefixSet(allow), deny: NewPrefixSet(deny)}
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
	switch {
	case f.allow.Contains(a):
		return true
	case f.allow.Len() > 0:
		return false
	default:
		return !f.deny.Contains(a)
	}
}

// Empty reports whether the filter has no network at all (and so allows
// everything).
func (f *Filter) Empty() bool {
	return f == nil || (f.allow.Len() == 0 && f.deny.Len() == 0)
}
