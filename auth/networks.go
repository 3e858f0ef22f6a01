package auth

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseNetwork parses one network: a CIDR prefix ("10.0.0.0/8",
// "2001:db8::/32") or a single address ("192.0.2.7" is 192.0.2.7/32, "::1" is
// ::1/128). The result is masked, and an IPv4-mapped IPv6 prefix
// ("::ffff:10.0.0.0/104") becomes the IPv4 prefix it denotes (10.0.0.0/8).
// Zoned addresses are refused. The error names the bad entry.
func ParseNetwork(s string) (netip.Prefix, error) {
	p, ok := parseNetwork(strings.TrimSpace(s))
	if !ok {
		return netip.Prefix{}, fmt.Errorf("invalid network %q", s)
	}
	return p, nil
}

func parseNetwork(s string) (netip.Prefix, bool) {
	if s == "" || strings.Contains(s, "%") {
		return netip.Prefix{}, false
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if p, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return normalizePrefix(p), true
}

// normalizePrefix masks p and turns an IPv4-mapped IPv6 prefix of at least
// 96 bits into its IPv4 equivalent.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// ParseNetworks parses every entry of list with ParseNetwork. It stops at the
// first bad entry and returns an error naming it. An empty list gives nil.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		p, err := ParseNetwork(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
