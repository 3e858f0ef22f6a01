package passive

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// CheckExternalAddress reports whether s is usable as AnnouncerConfig's
// ExternalAddress: empty, an IPv4 literal, or a DNS name. Errors quote the value.
func CheckExternalAddress(s string) error {
	if s == "" {
		return nil
	}
	if addr, err := netip.ParseAddr(s); err == nil {
		if !addr.Unmap().Is4() {
			return fmt.Errorf("external address %q is not IPv4: PASV announces IPv4 only", s)
		}
		return nil
	}
	if !isDNSName(s) {
		return fmt.Errorf("external address %q is neither an IPv4 address nor a DNS name", s)
	}
	return nil
}

// isDNSName reports whether s is a syntactically valid host name: dot
// separated labels of letters, digits and inner hyphens, a final dot allowed,
// and a last label that is not all digits (that would be a malformed address).
func isDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, label := range labels {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !isLetterDigit(c) && c != '-' {
				return false
			}
		}
	}
	return strings.Trim(labels[len(labels)-1], "0123456789") != ""
}

// isLetterDigit reports whether c is an ASCII letter or digit.
func isLetterDigit(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// CheckExternalURL reports whether s is usable as AnnouncerConfig's
// ExternalURL: empty, or an absolute http(s) URL with a host. Errors quote the
// value, its password redacted.
func CheckExternalURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("external address URL %q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("external address URL %q: want an http:// or https:// URL", redactURL(s))
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("external address URL %q has no host", redactURL(s))
	}
	return nil
}

// redactURL returns s with the password of its user info, if any, replaced
// by "xxxxx".
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	return u.Redacted()
}
