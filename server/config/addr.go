package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// listenAddr is a checked host:port listener address.
type listenAddr struct {
	text string // as written
	host string // "" for every interface, else an IP literal or a name
	port int
}

// parseListen checks a host:port listener address: host is empty, an IP
// literal or a DNS name; port is a number from 0 to 65535.
func parseListen(s string) (listenAddr, string) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return listenAddr{}, `not host:port (e.g. "0.0.0.0:21")`
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 || strings.Trim(portText, "0123456789") != "" {
		return listenAddr{}, "port must be a number from 0 to 65535"
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !isDNSName(host) {
			return listenAddr{}, "host must be an IP address or a host name"
		}
	}
	return listenAddr{text: s, host: host, port: port}, ""
}

// wildcard reports whether a listens on every interface.
func (a listenAddr) wildcard() bool {
	if a.host == "" {
		return true
	}
	ip, err := netip.ParseAddr(a.host)
	return err == nil && ip.IsUnspecified()
}

// conflicts reports whether a and b cannot both be bound: the same port
// (not 0) on the same host, or on a wildcard host and any other.
func (a listenAddr) conflicts(b listenAddr) bool {
	if a.port == 0 || a.port != b.port {
		return false
	}
	return a.wildcard() || b.wildcard() || canonicalHost(a.host) == canonicalHost(b.host)
}

// canonicalHost normalizes an IP literal; names are compared without case.
func canonicalHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

// listenAddress reports a bad listener address at l.
func (c *checker) listenAddress(l loc, s string) {
	if _, msg := parseListen(s); msg != "" {
		c.keyErrorf(l, "%q: %s", s, msg)
	}
}

// isDNSName reports whether s is a syntactically valid DNS host name:
// dot-separated labels of letters, digits and inner hyphens, 1 to 63
// characters each, 253 in all, an optional final dot, and a last label that
// is not all digits (so that a mistyped IPv4 address is no name).
func isDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}
