package fs

import (
	"fmt"
	"math"
	"strconv"
)

// Rate is a transfer rate in bytes per second; 0 means unlimited.
type Rate int64

// rateUnits maps unit names (compared case-insensitively, without "/s") to their size in bytes,
// by magnitude, decimal first, in the order String tries them: it prints a rate with the first
// unit that divides it exactly (512000 is "512KB/s", not "500KiB/s").
var rateUnits = [...]unit{
	{"GB", 1e9},
	{"GiB", 1 << 30},
	{"MB", 1e6},
	{"MiB", 1 << 20},
	{"KB", 1e3},
	{"KiB", 1 << 10},
	{"B", 1},
}

// ParseRate parses a rate: "0" (unlimited), or a decimal number followed by a unit and "/s":
// "B/s", "KB/s", "MB/s", "GB/s" (powers of 1000), "KiB/s", "MiB/s", "GiB/s" (powers of 1024).
// Examples: "512KB/s", "1.5MB/s", "2MiB/s". Units are case-insensitive and a space may separate
// the number from its unit. Negative, fractional-byte-zero and overflowing rates are errors.
func ParseRate(s string) (Rate, error) {
	if s == "0" {
		return 0, nil
	}
	n, why := parseScaled(s, rateUnits[:], "/s")
	if why != "" {
		if why == whyFormat {
			why = `want "0" or a number and a unit such as "512KB/s", "10MB/s" or "2MiB/s"`
		} else if why == whyFraction {
			why += " per second"
		}
		return 0, fmt.Errorf("invalid rate %q: %s", s, why)
	}
	return Rate(n), nil
}

// String formats r with the largest unit that divides it exactly ("10MB/s", "2MiB/s", "1500B/s"),
// decimal units first,
// or "0" for unlimited; ParseRate(r.String()) == r for every r >= 0.
func (r Rate) String() string {
	if r == 0 {
		return "0"
	}
	if r < 0 {
		return strconv.FormatInt(int64(r), 10) + "B/s"
	}
	for _, u := range rateUnits {
		if int64(r)%u.size == 0 {
			return strconv.FormatInt(int64(r)/u.size, 10) + u.name + "/s"
		}
	}
	return strconv.FormatInt(int64(r), 10) + "B/s" // unreachable: B divides everything
}

// burst returns the token bucket size used for r: a tenth of a second's worth (at least one
// byte), so that no one-second window lets more than about 110% of r through. Ten waits a
// second cost nothing next to the transfer itself.
func (r Rate) burst() int {
	if r <= 0 {
		return 0
	}
	return int(min(max(int64(r)/10, 1), math.MaxInt32))
}
