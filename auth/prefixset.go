package auth

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
)

// PrefixSet answers whether an address belongs to any of a set of networks.
// It holds the networks as sorted, merged address ranges, one table per
// address family, so a lookup is a binary search: O(log n) in the number of
// networks. A PrefixSet is immutable and safe for concurrent use; a nil
// *PrefixSet is empty.
type PrefixSet struct {
	v4 []addrRange
	v6 []addrRange
}

// u128 is an address as an unsigned 128-bit number (IPv4 in the low bits).
type u128 struct{ hi, lo uint64 }

func (x u128) less(y u128) bool {
	return x.hi < y.hi || (x.hi == y.hi && x.lo < y.lo)
}

func (x u128) cmp(y u128) int {
	if c := cmp.Compare(x.hi, y.hi); c != 0 {
		return c
	}
	return cmp.Compare(x.lo, y.lo)
}

// next returns x+1 and whether it did not overflow.
func (x u128) next() (u128, bool) {
	lo := x.lo + 1
	hi := x.hi
	if lo == 0 {
		hi++
		if hi == 0 {
			return u128{}, false
		}
	}
	return u128{hi, lo}, true
}

// hostMask returns the mask of the host bits of a prefix of bits out of width.
func hostMask(bits, width int) u128 {
	host := width - bits
	switch {
	case host <= 0:
		return u128{}
	case host >= 128:
		return u128{^uint64(0), ^uint64(0)}
	case host >= 64:
		return u128{^uint64(0) >> (128 - host), ^uint64(0)}
	default:
		return u128{0, ^uint64(0) >> (64 - host)}
	}
}

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// addrRange is an inclusive range of addresses.
type addrRange struct{ first, last u128 }

// NewPrefixSet builds the set of the given networks. Invalid prefixes are
// ignored; IPv4-mapped IPv6 prefixes count as IPv4 (see ParseNetwork).
func NewPrefixSet(prefixes []netip.Prefix) *PrefixSet {
	s := &PrefixSet{}
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = normalizePrefix(p)
		first := toU128(p.Addr())
		m := hostMask(p.Bits(), p.Addr().BitLen())
		r := addrRange{first, u128{first.hi | m.hi, first.lo | m.lo}}
		if p.Addr().Is4() {
			s.v4 = append(s.v4, r)
		} else {
			s.v6 = append(s.v6, r)
		}
	}
	s.v4 = mergeRanges(s.v4)
	s.v6 = mergeRanges(s.v6)
	return s
}

// mergeRanges sorts rs and merges overlapping and adjacent ranges.
func mergeRanges(rs []addrRange) []addrRange {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b addrRange) int { return a.first.cmp(b.first) })
	out := rs[:1]
	for _, r := range rs[1:] {
		cur := &out[len(out)-1]
		after, ok := cur.last.next()
		if !ok || !after.less(r.first) { // overlaps or touches cur
			if cur.last.less(r.last) {
				cur.last = r.last
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// Contains reports whether a belongs to one of the set's networks. An
// IPv4-mapped IPv6 address is looked up as IPv4; the zone is ignored.
func (s *PrefixSet) Contains(a netip.Addr) bool {
	if s == nil || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	rs := s.v6
	if a.Is4() {
		rs = s.v4
	}
	x := toU128(a)
	// The first range whose last address is >= x.
	i, _ := slices.BinarySearchFunc(rs, x, func(r addrRange, x u128) int { return r.last.cmp(x) })
	return i < len(rs) && !x.less(rs[i].first)
}

// Len returns the number of disjoint address ranges the set holds (after
// merging overlapping and adjacent networks).
func (s *PrefixSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.v4) + len(s.v6)
}
