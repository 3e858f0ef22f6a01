package fs

import (
	"fmt"
	"strconv"
)

// Size is an amount of bytes, such as a quota; 0 means no cap.
type Size int64

// ParseSize parses a size: "0", or a decimal number followed by a unit: "B", "KB", "MB", "GB",
// "TB" (powers of 1000), "KiB", "MiB", "GiB", "TiB" (powers of 1024). Examples: "500KB",
// "512MiB", "1.5GB", "10GiB". Units are case-insensitive and a space may separate the number
// from its unit. Negative, overflowing and less-than-one-byte sizes are errors.
func ParseSize(s string) (Size, error) {
	if s == "0" {
		return 0, nil
	}
	n, why := parseScaled(s, sizeUnits[:], "")
	if why != "" {
		if why == whyFormat {
			why = `want "0" or a number and a unit such as "500KB", "512MiB" or "10GiB"`
		}
		return 0, fmt.Errorf("invalid size %q: %s", s, why)
	}
	return Size(n), nil
}

// sizeUnits are the units of sizes, in the order String tries them.
var sizeUnits = [...]unit{
	{"TB", 1e12},
	{"TiB", 1 << 40},
	{"GB", 1e9},
	{"GiB", 1 << 30},
	{"MB", 1e6},
	{"MiB", 1 << 20},
	{"KB", 1e3},
	{"KiB", 1 << 10},
	{"B", 1},
}

// String formats z with the largest unit that divides it exactly ("10GiB", "500KB"), or "0";
// ParseSize(z.String()) == z for every z >= 0.
func (z Size) String() string {
	if z <= 0 {
		return strconv.FormatInt(int64(z), 10)
	}
	for _, u := range sizeUnits {
		if int64(z)%u.size == 0 {
			return strconv.FormatInt(int64(z)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(z), 10) + "B"
}
