package passive

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Port number bounds accepted by [ParsePortRange].
const (
	minPort = 1
	maxPort = 65535
)

// PortRange is an inclusive range of TCP ports, First through Last.
// The zero value means "no range".
type PortRange struct {
	First, Last int
}

// ParsePortRange parses an inclusive range written "FIRST-LAST", e.g.
// "50000-50099". Both ends are decimal ports in 1..65535 and FIRST <= LAST;
// spaces around either number are allowed. The empty string is an error.
// Errors quote the value.
func ParsePortRange(s string) (PortRange, error) {
	firstText, lastText, found := strings.Cut(s, "-")
	if !found {
		return PortRange{}, fmt.Errorf("port range %q: want FIRST-LAST, e.g. \"50000-50099\"", s)
	}
	first, err := parsePort(firstText)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: first port: %w", s, err)
	}
	last, err := parsePort(lastText)
	if err != nil {
		return PortRange{}, fmt.Errorf("port range %q: last port: %w", s, err)
	}
	if first > last {
		return PortRange{}, fmt.Errorf("port range %q: first port %d is above last port %d", s, first, last)
	}
	return PortRange{First: first, Last: last}, nil
}

// parsePort parses one decimal port number, digits only (no sign).
func parsePort(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("missing")
	}
	errNotPort := fmt.Errorf("not a port number in %d..%d", minPort, maxPort)
	if len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, errNotPort
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < minPort || n > maxPort {
		return 0, errNotPort
	}
	return n, nil
}

// IsZero reports whether r is the zero PortRange ("no range").
func (r PortRange) IsZero() bool { return r == PortRange{} }

// valid reports whether r is a usable range of real ports.
func (r PortRange) valid() bool {
	return r.First >= minPort && r.Last <= maxPort && r.First <= r.Last
}

// Len returns the number of ports in r, 0 for the zero or an invalid range.
func (r PortRange) Len() int {
	if !r.valid() {
		return 0
	}
	return r.Last - r.First + 1
}

// Contains reports whether port lies within r.
func (r PortRange) Contains(port int) bool {
	return r.valid() && port >= r.First && port <= r.Last
}

// Overlaps reports whether r and o share at least one port.
func (r PortRange) Overlaps(o PortRange) bool {
	return r.valid() && o.valid() && r.First <= o.Last && o.First <= r.Last
}

// String returns r as "FIRST-LAST", the form [ParsePortRange] reads.
func (r PortRange) String() string {
	return strconv.Itoa(r.First) + "-" + strconv.Itoa(r.Last)
}
