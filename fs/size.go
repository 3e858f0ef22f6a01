package fs

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
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
	bad := func(why string) (Size, error) {
		return 0, fmt.Errorf("invalid size %q: %s", s, why)
	}
	const format = `want "0" or a number and a unit such as "500KB", "512MiB" or "10GiB"`
	if strings.HasPrefix(s, "-") {
		return bad("negative")
	}
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		end++
	}
	num, unit := s[:end], strings.TrimPrefix(s[end:], " ")
	size := int64(0)
	for _, u := range sizeUnits {
		if strings.EqualFold(unit, u.name) {
			size = u.size
			break
		}
	}
	if size == 0 || !validDecimal(num) {
		return bad(format)
	}
	var v big.Rat
	if _, ok := v.SetString(num); !ok {
		return bad(format)
	}
	v.Mul(&v, new(big.Rat).SetInt64(size))
	q := new(big.Int).Quo(v.Num(), v.Denom())
	if !q.IsInt64() {
		return bad("too large")
	}
	if q.Sign() == 0 && v.Sign() != 0 {
		return bad("less than one byte")
	}
	return Size(q.Int64()), nil
}

// sizeUnits are the units of sizes, in the order String tries them.
var sizeUnits = [...]struct {
	name string
	size int64
}{
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
