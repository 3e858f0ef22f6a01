package auth

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults and bounds of a BanPolicy.
const (
	DefaultBanIPv6Group  = 128
	DefaultBanMaxEntries = 100000
	// MaxBanFailures bounds Failures: each tracked address keeps the times
	// of up to Failures-1 recent failures.
	MaxBanFailures = 1000
)

// BanPolicy says when the Autoban bans an address.
type BanPolicy struct {
	Enabled    bool
	Failures   int           // failures within Window → ban
	Window     time.Duration // see Failures
	Ban        time.Duration // how long a ban lasts
	Exempt     []netip.Prefix
	IPv6Group  int // bits of an IPv6 address that identify one client: 128 (default when 0) or e.g. 64
	MaxEntries int // cap of the failure table, and of the ban table (DefaultBanMaxEntries when 0): oldest entries dropped first
}

// Validate returns every problem of p, joined. Failures, Window and Ban are
// only checked when the policy is enabled.
func (p BanPolicy) Validate() error {
	var errs []error
	if p.Enabled {
		if p.Failures < 1 || p.Failures > MaxBanFailures {
			errs = append(errs, fmt.Errorf("autoban failures must be between 1 and %d, not %d", MaxBanFailures, p.Failures))
		}
		if p.Window <= 0 {
			errs = append(errs, errors.New("autoban window must be positive"))
		}
		if p.Ban <= 0 {
			errs = append(errs, errors.New("autoban ban duration must be positive"))
		}
	}
	if p.IPv6Group < 0 || p.IPv6Group > 128 {
		errs = append(errs, fmt.Errorf("autoban IPv6 group must be between 1 and 128 bits, not %d", p.IPv6Group))
	}
	if p.MaxEntries < 0 {
		errs = append(errs, fmt.Errorf("autoban table size must not be negative, not %d", p.MaxEntries))
	}
	return errors.Join(errs...)
}

// normalized fills in the defaults and clamps values out of range, so that
// an unvalidated policy still keeps memory and behaviour bounded.
func (p BanPolicy) normalized() BanPolicy {
	if p.IPv6Group <= 0 || p.IPv6Group > 128 {
		p.IPv6Group = DefaultBanIPv6Group
	}
	if p.MaxEntries <= 0 {
		p.MaxEntries = DefaultBanMaxEntries
	}
	p.Failures = min(max(p.Failures, 1), MaxBanFailures)
	p.Window = max(p.Window, 0)
	p.Ban = max(p.Ban, 0)
	return p
}
