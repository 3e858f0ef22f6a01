package auth

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// prefixes parses networks for a test, failing it on a bad one.
func prefixes(t testing.TB, list ...string) []netip.Prefix {
	t.Helper()
	ps, err := ParseNetworks(list)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestPrefixSetContains(t *testing.T) {
	set := NewPrefixSet(append(prefixes(t,
		"10.0.0.0/8", "10.1.0.0/16", // nested
		"192.0.2.0/25", "192.0.2.128/25", // adjacent: merged
		"198.51.100.7",
		"255.255.255.255",
		"2001:db8::/32",
		"::1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
	), netip.MustParsePrefix("::ffff:203.0.113.0/120"), netip.Prefix{}))
	tests := []struct {
		addr string
		want bool
	}{
		{"10.0.0.0", true},
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"9.255.255.255", false},
		{"192.0.2.0", true},
		{"192.0.2.127", true},
		{"192.0.2.128", true},
		{"192.0.2.255", true},
		{"192.0.3.0", false},
		{"198.51.100.7", true},
		{"198.51.100.8", false},
		{"198.51.100.6", false},
		{"255.255.255.255", true},
		{"0.0.0.0", false},
		{"203.0.113.9", true},      // from the mapped prefix
		{"::ffff:10.2.3.4", true},  // mapped address
		{"::ffff:11.2.3.4", false}, // mapped address
		{"::a00:1", false},         // IPv4-compatible, not mapped: IPv6
		{"2001:db8::1", true},      // IPv6
		{"2001:db8:ffff:ffff::1", true},
		{"2001:db9::", false},
		{"2001:db7:ffff::", false},
		{"::1", true},
		{"::2", false},
		{"::", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
		{"2001:db8::1%eth0", true}, // zone ignored
	}
	for _, tt := range tests {
		if got := set.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v; want %v", tt.addr, got, tt.want)
		}
	}
	if got := set.Len(); got != 8 {
		t.Errorf("Len() = %d; want 8 merged ranges", got)
	}
	if set.Contains(netip.Addr{}) {
		t.Error("Contains(invalid) = true")
	}
	var empty *PrefixSet
	if empty.Contains(netip.MustParseAddr("1.2.3.4")) || empty.Len() != 0 {
		t.Error("nil PrefixSet is not empty")
	}
	all := NewPrefixSet(prefixes(t, "0.0.0.0/0", "::/0"))
	for _, a := range []string{"0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:1.2.3.4"} {
		if !all.Contains(netip.MustParseAddr(a)) {
			t.Errorf("everything set does not contain %s", a)
		}
	}
}

// TestPrefixSetMatchesLinearScan compares the set with a plain scan over
// random prefixes and addresses (fixed seed).
func TestPrefixSetMatchesLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		var ps []netip.Prefix
		for range 200 {
			ps = append(ps, randomPrefix(rng, 8))
		}
		set := NewPrefixSet(ps)
		for range 2000 {
			a := randomAddr(rng)
			if rng.IntN(4) == 0 { // often pick an edge of a prefix
				p := ps[rng.IntN(len(ps))]
				a = p.Addr()
				if rng.IntN(2) == 0 {
					a = a.Prev()
				}
			}
			if !a.IsValid() {
				continue
			}
			want := false
			for _, p := range ps {
				if p.Contains(a) {
					want = true
					break
				}
			}
			if got := set.Contains(a); got != want {
				t.Fatalf("round %d: Contains(%s) = %v; linear scan says %v", round, a, got, want)
			}
		}
	}
}

// randomAddr returns a random IPv4 or IPv6 address, biased into small
// spaces so that random prefixes overlap.
func randomAddr(rng *rand.Rand) netip.Addr {
	if rng.IntN(2) == 0 {
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	var b [16]byte
	b[0], b[1], b[2] = 0x20, 0x01, byte(rng.IntN(4))
	for i := 3; i < 16; i++ {
		b[i] = byte(rng.IntN(256))
	}
	return netip.AddrFrom16(b)
}

func randomPrefix(rng *rand.Rand, minBits int) netip.Prefix {
	a := randomAddr(rng)
	bits := minBits + rng.IntN(a.BitLen()-minBits+1)
	return netip.PrefixFrom(a, bits).Masked()
}

func TestFilterAllowed(t *testing.T) {
	tests := []struct {
		name        string
		allow, deny []string
		addr        string
		want        bool
	}{
		{name: "neither v4", addr: "192.0.2.1", want: true},
		{name: "neither v6", addr: "2001:db8::1", want: true},
		{name: "allow match", allow: []string{"192.0.2.0/24"}, addr: "192.0.2.1", want: true},
		{name: "allow miss", allow: []string{"192.0.2.0/24"}, addr: "198.51.100.1", want: false},
		{name: "allow miss other family", allow: []string{"192.0.2.0/24"}, addr: "2001:db8::1", want: false},
		{name: "allow mapped", allow: []string{"192.0.2.0/24"}, addr: "::ffff:192.0.2.1", want: true},
		{name: "allow v6", allow: []string{"2001:db8::/32"}, addr: "2001:db8::1", want: true},
		{name: "allow v6 miss", allow: []string{"2001:db8::/32"}, addr: "2001:db9::1", want: false},
		{name: "deny match", deny: []string{"192.0.2.0/24"}, addr: "192.0.2.1", want: false},
		{name: "deny mapped", deny: []string{"192.0.2.0/24"}, addr: "::ffff:192.0.2.1", want: false},
		{name: "deny mapped entry", deny: []string{"::ffff:192.0.2.0/120"}, addr: "192.0.2.1", want: false},
		{name: "deny miss", deny: []string{"192.0.2.0/24"}, addr: "198.51.100.1", want: true},
		{name: "deny v6", deny: []string{"2001:db8::/32"}, addr: "2001:db8::1", want: false},
		{name: "deny v6 miss", deny: []string{"2001:db8::/32"}, addr: "::1", want: true},
		{name: "both: allow wins", allow: []string{"192.0.2.7"}, deny: []string{"192.0.2.0/24"}, addr: "192.0.2.7", want: true},
		{name: "both: denied", allow: []string{"192.0.2.7"}, deny: []string{"192.0.2.0/24"}, addr: "192.0.2.8", want: false},
		{name: "both: neither matches", allow: []string{"192.0.2.7"}, deny: []string{"192.0.2.0/24"}, addr: "198.51.100.1", want: false},
		{name: "both v6: allow wins", allow: []string{"2001:db8::1"}, deny: []string{"2001:db8::/32"}, addr: "2001:db8::1", want: true},
		{name: "both v6: denied", allow: []string{"2001:db8::1"}, deny: []string{"2001:db8::/32"}, addr: "2001:db8::2", want: false},
		{name: "deny all but allow one", allow: []string{"10.0.0.1"}, deny: []string{"0.0.0.0/0", "::/0"}, addr: "10.0.0.1", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFilter(prefixes(t, tt.allow...), prefixes(t, tt.deny...))
			if got := f.Allowed(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Fatalf("Allowed(%s) = %v; want %v", tt.addr, got, tt.want)
			}
			if got, want := f.Empty(), len(tt.allow) == 0 && len(tt.deny) == 0; got != want {
				t.Fatalf("Empty() = %v; want %v", got, want)
			}
		})
	}
}

func TestFilterNilAndInvalid(t *testing.T) {
	var f *Filter
	if !f.Allowed(netip.MustParseAddr("192.0.2.1")) || !f.Empty() {
		t.Error("a nil filter must allow everything and be empty")
	}
	if !NewFilter(nil, nil).Allowed(netip.Addr{}) {
		t.Error("an empty filter must allow an invalid address")
	}
	if NewFilter(nil, prefixes(t, "10.0.0.0/8")).Allowed(netip.Addr{}) {
		t.Error("a non-empty filter must refuse an invalid address")
	}
}

func BenchmarkFilterAllowed(b *testing.B) {
	// 10,000 distinct networks spread over both families: IPv4 /24s and
	// IPv6 /48s, half in allow, half in deny.
	rng := rand.New(rand.NewPCG(3, 4))
	var allow, deny []netip.Prefix
	for i := range 10000 {
		var p netip.Prefix
		if i%2 == 0 {
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(rng.IntN(224)), byte(rng.IntN(256)), byte(rng.IntN(256))}), 24)
		} else {
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(rng.IntN(256))}), 48)
		}
		if i%4 < 2 {
			allow = append(allow, p)
		} else {
			deny = append(deny, p)
		}
	}
	filters := []struct {
		name string
		f    *Filter
	}{
		{"allow+deny", NewFilter(allow, deny)},
		{"deny only", NewFilter(nil, append(allow, deny...))},
	}
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		switch i % 3 {
		case 0:
			addrs[i] = allow[rng.IntN(len(allow))].Addr().Next()
		case 1:
			addrs[i] = deny[rng.IntN(len(deny))].Addr().Next()
		default:
			addrs[i] = randomAddr(rng)
		}
	}
	for _, bf := range filters {
		b.Run(bf.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				bf.f.Allowed(addrs[i%len(addrs)])
			}
		})
	}
}

// TestFilterMostSpecificDecides: the longest matching prefix of either list
// decides; a tie is a deny.
func TestFilterMostSpecificDecides(t *testing.T) {
	p := netip.MustParsePrefix
	f := NewFilter([]netip.Prefix{p("127.0.0.0/8"), p("10.1.2.0/24"), p("192.0.2.7/32")},
		[]netip.Prefix{p("127.0.0.66/32"), p("10.0.0.0/8"), p("192.0.2.7/32"), p("::ffff:198.51.100.0/120")})
	for addr, want := range map[string]bool{
		"127.0.0.1":         true,  // allow /8
		"127.0.0.66":        false, // deny /32 inside allow /8
		"10.1.2.3":          true,  // allow /24 inside deny /8
		"10.9.9.9":          false, // deny /8
		"192.0.2.7":         false, // tie: deny
		"198.51.100.5":      false, // deny written as a mapped prefix
		"::ffff:127.0.0.66": false,
		"203.0.113.1":       false, // neither, allow not empty
	} {
		if got := f.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: allowed=%v, want %v", addr, got, want)
		}
	}
}
