package fs

import (
	"math/big"
	"strings"
)

// unit is a unit of sizes or rates: its name, compared case-insensitively, and its size in bytes.
type unit struct {
	name string
	size int64
}

// The reasons parseScaled gives that its callers word themselves.
const (
	whyFormat   = "format"
	whyFraction = "less than one byte"
)

// parseScaled parses a decimal number followed by one of units and then suffix ("1.5MB/s" with
// suffix "/s"), with an optional space before the unit, truncated to whole bytes. It returns the
// value, or the reason it is refused: "negative", "too large", whyFraction, or whyFormat.
func parseScaled(s string, units []unit, suffix string) (int64, string) {
	if strings.HasPrefix(s, "-") {
		return 0, "negative"
	}
	rest, ok := strings.CutSuffix(s, suffix)
	if !ok {
		return 0, whyFormat
	}
	end := 0
	for end < len(rest) && (rest[end] >= '0' && rest[end] <= '9' || rest[end] == '.') {
		end++
	}
	num, name := rest[:end], strings.TrimPrefix(rest[end:], " ")
	size := int64(0)
	for _, u := range units {
		if strings.EqualFold(name, u.name) {
			size = u.size
			break
		}
	}
	if size == 0 || !validDecimal(num) {
		return 0, whyFormat
	}
	var v big.Rat
	if _, ok := v.SetString(num); !ok {
		return 0, whyFormat
	}
	v.Mul(&v, new(big.Rat).SetInt64(size))
	q := new(big.Int).Quo(v.Num(), v.Denom()) // truncate to whole bytes
	if !q.IsInt64() {
		return 0, "too large"
	}
	if q.Sign() == 0 && v.Sign() != 0 {
		return 0, whyFraction
	}
	return q.Int64(), ""
}

// validDecimal reports whether s is digits with at most one '.', with a digit on at least one side.
func validDecimal(s string) bool {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if strings.Contains(frac, ".") || intPart == "" && frac == "" {
		return false
	}
	if hasDot && frac == "" {
		return false
	}
	return true // only digits and dots reach here
}
