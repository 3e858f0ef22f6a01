package auth

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"
)

func testPolicy() BanPolicy {
	return BanPolicy{Enabled: true, Failures: 3, Window: 10 * time.Minute, Ban: time.Hour}
}

// step is one event of an autoban scenario.
type step struct {
	advance time.Duration // clock moves first
	fail    string        // address failing ("" = none)
	banned  bool          // Failure's result
	check   string        // address checked with Banned after the step ("" = fail address)
	want    bool          // Banned(check)
}

func runSteps(t *testing.T, b *Autoban, clock *fakeClock, steps []step) {
	t.Helper()
	for i, st := range steps {
		clock.Advance(st.advance)
		if st.fail != "" {
			if got := b.Failure(netip.MustParseAddr(st.fail)); got != st.banned {
				t.Fatalf("step %d: Failure(%s) = %v; want %v", i, st.fail, got, st.banned)
			}
		}
		check := st.check
		if check == "" {
			check = st.fail
		}
		if got := b.Banned(netip.MustParseAddr(check)); got != st.want {
			t.Fatalf("step %d: Banned(%s) = %v; want %v", i, check, got, st.want)
		}
	}
}

func TestAutoban(t *testing.T) {
	const a, other = "192.0.2.1", "192.0.2.2"
	tests := []struct {
		name   string
		policy func(*BanPolicy)
		steps  []step
	}{
		{name: "Nth failure within the window bans", steps: []step{
			{fail: a},
			{advance: 4 * time.Minute, fail: a},
			{advance: 5 * time.Minute, fail: a, banned: true, want: true},
			{check: other, want: false},
			{advance: 59 * time.Minute, check: a, want: true},
			{advance: time.Minute, check: a, want: false}, // the ban expired
			{fail: a}, // counting starts again
			{fail: a},
			{fail: a, banned: true, want: true},
		}},
		{name: "exactly the window still counts", steps: []step{
			{fail: a},
			{advance: 5 * time.Minute, fail: a},
			{advance: 5 * time.Minute, fail: a, banned: true, want: true},
		}},
		{name: "failures spread over more than the window do not ban", steps: []step{
			{fail: a},
			{advance: 6 * time.Minute, fail: a},
			{advance: 5 * time.Minute, fail: a},                           // the first left the window
			{advance: 6 * time.Minute, fail: a},                           // the second left the window
			{advance: 3 * time.Minute, fail: a, banned: true, want: true}, // 11, 17 and 20 are within 10m
		}},
		{name: "addresses are counted apart", steps: []step{
			{fail: a},
			{fail: other},
			{fail: a},
			{fail: other},
			{fail: a, banned: true, want: true, check: a},
			{check: other, want: false},
		}},
		{name: "IPv4-mapped counts as IPv4", steps: []step{
			{fail: "::ffff:192.0.2.1"},
			{fail: a},
			{fail: "::ffff:192.0.2.1", banned: true, want: true, check: a},
			{check: "::ffff:192.0.2.1", want: true},
		}},
		{name: "failures while banned are not counted", steps: []step{
			{fail: a},
			{fail: a},
			{fail: a, banned: true, want: true},
			{fail: a, want: true},
			{advance: time.Hour, check: a},
			{fail: a},
		}},
		{name: "exempt never counted nor banned", policy: func(p *BanPolicy) { p.Exempt = prefixes(t, "192.0.2.0/24", "::1") }, steps: []step{
			{fail: a}, {fail: a}, {fail: a}, {fail: a},
			{fail: "::1"}, {fail: "::1"}, {fail: "::1"},
			{fail: "::ffff:192.0.2.1"},
			{fail: "198.51.100.1"}, {fail: "198.51.100.1"}, {fail: "198.51.100.1", banned: true, want: true},
		}},
		{name: "disabled never bans", policy: func(p *BanPolicy) { p.Enabled = false }, steps: []step{
			{fail: a}, {fail: a}, {fail: a}, {fail: a}, {fail: a},
		}},
		{name: "IPv6 per address by default", steps: []step{
			{fail: "2001:db8::1"},
			{fail: "2001:db8::2"},
			{fail: "2001:db8::3"},
			{fail: "2001:db8::1"},
			{fail: "2001:db8::1", banned: true, want: true},
			{check: "2001:db8::2", want: false},
		}},
		{name: "IPv6 /64 grouping", policy: func(p *BanPolicy) { p.IPv6Group = 64 }, steps: []step{
			{fail: "2001:db8:0:1::1"},
			{fail: "2001:db8:0:1::2"},
			{fail: "2001:db8:0:2::1"}, // another /64
			{fail: "2001:db8:0:1:ffff:ffff:ffff:ffff", banned: true, want: true},
			{check: "2001:db8:0:1::abcd", want: true},
			{check: "2001:db8:0:2::1", want: false},
			{check: "2001:db8::1", want: false},
		}},
		{name: "one failure bans with Failures 1", policy: func(p *BanPolicy) { p.Failures = 1 }, steps: []step{
			{fail: a, banned: true, want: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy()
			if tt.policy != nil {
				tt.policy(&p)
			}
			clock := newFakeClock()
			b := NewAutoban(p, clock.Now, nil)
			runSteps(t, b, clock, tt.steps)
		})
	}
}

func TestAutobanHookActiveUnban(t *testing.T) {
	clock := newFakeClock()
	b := NewAutoban(testPolicy(), clock.Now, nil)
	type ban struct {
		addr  netip.Addr
		until time.Time
	}
	var got []ban
	b.OnBan(func(addr netip.Addr, bi BanInfo) {
		got = append(got, ban{addr, bi.Until})
		_ = b.Active() // the hook may call back into the Autoban
	})
	a1, a2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for range 3 {
		b.Failure(a1)
		b.Failure(a2)
	}
	if len(got) != 2 || got[0].addr != a1 || got[1].addr != a2 || !got[0].until.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("hook calls %v", got)
	}
	if n := b.Active(); n != 2 {
		t.Fatalf("Active() = %d; want 2", n)
	}
	if !b.Unban(a1) || b.Banned(a1) || b.Unban(a1) {
		t.Fatal("Unban did not lift the ban exactly once")
	}
	if n := b.Active(); n != 1 {
		t.Fatalf("Active() after Unban = %d; want 1", n)
	}
	clock.Advance(time.Hour)
	if n := b.Active(); n != 0 {
		t.Fatalf("Active() after expiry = %d; want 0", n)
	}
	if len(b.bans) != 0 || len(b.banShapes) != 0 {
		t.Fatalf("expired bans kept: %d bans, %d shapes", len(b.bans), len(b.banShapes))
	}
}

func TestAutobanSetPolicy(t *testing.T) {
	clock := newFakeClock()
	b := NewAutoban(testPolicy(), clock.Now, nil)
	banned := netip.MustParseAddr("192.0.2.1")
	counting := netip.MustParseAddr("192.0.2.2")
	v6 := []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")}
	for range 3 {
		b.Failure(banned)
	}
	b.Failure(counting)
	b.Failure(v6[0])
	b.Failure(v6[1])

	// Disabling hides the bans, enabling again shows them: they are kept.
	p := testPolicy()
	p.Enabled = false
	b.SetPolicy(p)
	if b.Banned(banned) || b.Active() != 0 || b.Failure(counting) {
		t.Fatal("a disabled policy must neither ban nor count")
	}
	p.Enabled = true
	p.IPv6Group = 64 // the two IPv6 counters merge into one /64
	b.SetPolicy(p)
	if !b.Banned(banned) || b.Active() != 1 {
		t.Fatal("the ban was lost across SetPolicy")
	}
	if b.Failure(counting) || !b.Failure(counting) {
		t.Fatal("counter kept across SetPolicy: the 3rd failure should ban")
	}
	if !b.Failure(netip.MustParseAddr("2001:db8::3")) {
		t.Fatal("IPv6 counters were not merged into their /64")
	}
	// Back to /128: the /64 ban still covers its addresses.
	p.IPv6Group = 128
	b.SetPolicy(p)
	if !b.Banned(netip.MustParseAddr("2001:db8::42")) {
		t.Fatal("a /64 ban stopped covering its network after regrouping")
	}
	// Exempting a banned address lifts its ban.
	p.Exempt = prefixes(t, "192.0.2.0/24")
	b.SetPolicy(p)
	if b.Banned(banned) || b.Banned(counting) || b.Active() != 1 {
		t.Fatalf("exempt addresses still banned (active %d)", b.Active())
	}
}

// TestAutobanBoundedMemory floods the autoban with 200,000 distinct
// addresses: the tables stay within MaxEntries.
func TestAutobanBoundedMemory(t *testing.T) {
	const flood = 200000
	tests := []struct {
		name       string
		maxEntries int
		failures   int
		wantCap    int
	}{
		{name: "default cap, counters", maxEntries: 0, failures: 5, wantCap: DefaultBanMaxEntries},
		{name: "small cap, counters", maxEntries: 1000, failures: 5, wantCap: 1000},
		{name: "small cap, bans", maxEntries: 1000, failures: 1, wantCap: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			p := testPolicy()
			p.MaxEntries, p.Failures = tt.maxEntries, tt.failures
			b := NewAutoban(p, clock.Now, nil)
			for i := range flood {
				a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				if i%2 == 1 {
					a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16)})
				}
				b.Failure(a)
				if len(b.fails) > tt.wantCap || b.failOrder.Len() != len(b.fails) || len(b.bans) > tt.wantCap {
					t.Fatalf("after %d addresses: %d counters, %d bans; cap %d", i+1, len(b.fails), len(b.bans), tt.wantCap)
				}
			}
			if tt.failures == 1 && b.Active() != tt.wantCap {
				t.Fatalf("Active() = %d; want the cap %d", b.Active(), tt.wantCap)
			}
			// Counters whose window passed are dropped at the next failure.
			clock.Advance(p.Window + time.Second)
			b.Failure(netip.MustParseAddr("192.0.2.1"))
			if tt.failures > 1 && len(b.fails) != 1 {
				t.Fatalf("%d counters left after the window passed; want 1", len(b.fails))
			}
		})
	}
}

func TestBanPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       BanPolicy
		wantErr bool
	}{
		{name: "ok", p: testPolicy()},
		{name: "disabled zero", p: BanPolicy{}},
		{name: "zero failures", p: BanPolicy{Enabled: true, Failures: 0, Window: time.Minute, Ban: time.Minute}, wantErr: true},
		{name: "too many failures", p: BanPolicy{Enabled: true, Failures: MaxBanFailures + 1, Window: time.Minute, Ban: time.Minute}, wantErr: true},
		{name: "no window", p: BanPolicy{Enabled: true, Failures: 1, Ban: time.Minute}, wantErr: true},
		{name: "no ban", p: BanPolicy{Enabled: true, Failures: 1, Window: time.Minute}, wantErr: true},
		{name: "group 64", p: BanPolicy{IPv6Group: 64}},
		{name: "group 129", p: BanPolicy{IPv6Group: 129}, wantErr: true},
		{name: "negative entries", p: BanPolicy{MaxEntries: -1}, wantErr: true},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%s: Validate() = %v; want error %v", tt.name, err, tt.wantErr)
		}
	}
}

// TestManualBans: an operator's ban holds with the policy disabled and on an
// exempt network, is listed with its note, survives Save/Load, and is lifted
// by its exact network.
func TestManualBans(t *testing.T) {
	p := BanPolicy{Enabled: false, Failures: 3, Window: time.Minute, Ban: time.Hour,
		Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	b := NewAutoban(p, nil, nil)
	b.Ban(netip.MustParsePrefix("127.0.0.9/32"), time.Time{}, "by hand")
	b.Ban(netip.MustParsePrefix("2001:db8::/64"), time.Now().Add(time.Minute), "")
	if !b.Banned(netip.MustParseAddr("127.0.0.9")) || !b.Banned(netip.MustParseAddr("2001:db8::1")) {
		t.Fatal("a manual ban does not hold")
	}
	if b.Banned(netip.MustParseAddr("127.0.0.10")) {
		t.Fatal("a neighbour is banned")
	}
	bans := b.Bans()
	if len(bans) != 2 || !bans[0].Manual || bans[0].Note != "by hand" || b.Active() != 2 {
		t.Fatalf("bans: %+v, active %d", bans, b.Active())
	}
	file := filepath.Join(t.TempDir(), "bans.json")
	if err := b.Save(file); err != nil {
		t.Fatal(err)
	}
	c := NewAutoban(p, nil, nil)
	if err := c.Load(file); err != nil {
		t.Fatal(err)
	}
	if got := c.Bans(); len(got) != 2 || got[0].Note != "by hand" {
		t.Fatalf("loaded: %+v", got)
	}
	if !c.UnbanNetwork(netip.MustParsePrefix("127.0.0.9/32")) || c.Banned(netip.MustParseAddr("127.0.0.9")) {
		t.Fatal("unban")
	}
	if c.UnbanNetwork(netip.MustParsePrefix("127.0.0.9/32")) {
		t.Fatal("unbanned twice")
	}
}
