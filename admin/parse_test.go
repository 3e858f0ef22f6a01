package admin_test

import (
	"testing"

	"github.com/wharf-ftp/wharf/admin"
)

func TestParseBanAddress(t *testing.T) {
	cases := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7/32"},
		{" 192.0.2.7 ", "192.0.2.7/32"},
		{"192.0.2.7/24", "192.0.2.0/24"},
		{"2001:db8::1", "2001:db8::/64"},
		{"2001:db8:1:2:3::9", "2001:db8:1:2::/64"},
		{"2001:db8::/48", "2001:db8::/48"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"0.0.0.0/0", ""},
		{"1.2.3.4/7", ""},
		{"::/0", ""},
		{"2001::/15", ""},
		{"::ffff:1.2.3.4/90", ""},
		{"", ""},
		{"example.com", ""},
		{"192.0.2.7/33", ""},
		{"fe80::1%eth0", ""},
		{"192.0.2.7:21", ""},
	}
	for _, c := range cases {
		p, err := admin.ParseBanAddress(c.in)
		got := ""
		if err == nil {
			got = p.String()
		}
		if got != c.want {
			t.Errorf("ParseBanAddress(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func FuzzParseBanAddress(f *testing.F) {
	for _, s := range []string{"192.0.2.7", "2001:db8::/48", "::ffff:1.2.3.4/100", "1.2.3.4/0", "::/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := admin.ParseBanAddress(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParseBanAddress(%q) = %v: not a masked, unmapped prefix", s, p)
		}
		again, err := admin.ParseBanAddress(p.String())
		if err != nil || again != p {
			t.Fatalf("ParseBanAddress(%q) = %v does not round-trip: %v %v", s, p, again, err)
		}
	})
}
