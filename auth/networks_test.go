package auth

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseNetwork(t *testing.T) {
	tests := []struct {
		in      string
		want    string // "" means an error
		wantErr string
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8", want: "10.0.0.0/8"}, // masked
		{in: "192.0.2.7", want: "192.0.2.7/32"},
		{in: " 192.0.2.7 ", want: "192.0.2.7/32"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8:1:2::5/64", want: "2001:db8:1:2::/64"},
		{in: "::1", want: "::1/128"},
		{in: "::/0", want: "::/0"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:192.0.2.7", want: "192.0.2.7/32"},
		{in: "::ffff:192.0.2.7/128", want: "192.0.2.7/32"},
		{in: "::ffff:0.0.0.0/96", want: "0.0.0.0/0"},
		{in: "10.0.0.300/8", wantErr: `invalid network "10.0.0.300/8"`},
		{in: "10.0.0.0/33", wantErr: `invalid network "10.0.0.0/33"`},
		{in: "2001:db8::/129", wantErr: `invalid network "2001:db8::/129"`},
		{in: "", wantErr: `invalid network ""`},
		{in: "example.com", wantErr: `invalid network "example.com"`},
		{in: "10.0.0.0/", wantErr: `invalid network "10.0.0.0/"`},
		{in: "fe80::1%eth0", wantErr: `invalid network "fe80::1%eth0"`},
		{in: "10.0.0.0/8/8", wantErr: `invalid network "10.0.0.0/8/8"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseNetwork(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseNetwork(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParseNetwork(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseNetworks(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
	}{
		{name: "nil", in: nil, want: nil},
		{name: "empty", in: []string{}, want: nil},
		{name: "mixed", in: []string{"10.0.0.0/8", "192.0.2.7", "::1", "2001:db8::/32", "::ffff:10.0.0.0/104"},
			want: []string{"10.0.0.0/8", "192.0.2.7/32", "::1/128", "2001:db8::/32", "10.0.0.0/8"}},
		{name: "bad entry named", in: []string{"10.0.0.0/8", "10.0.0.300/8", "bogus"}, wantErr: `invalid network "10.0.0.300/8"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNetworks(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || got != nil {
					t.Fatalf("ParseNetworks(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseNetworks(%q): %v", tt.in, err)
			}
			var gotS []string
			for _, p := range got {
				gotS = append(gotS, p.String())
			}
			if !slices.Equal(gotS, tt.want) {
				t.Fatalf("ParseNetworks(%q) = %v; want %v", tt.in, gotS, tt.want)
			}
		})
	}
}

func FuzzParseNetworks(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.0.2.7", "::1", "2001:db8::/32,::ffff:10.0.0.0/104",
		"10.0.0.300/8", "", "fe80::1%eth0", "::ffff:1.2.3.4/95", "1.2.3.4/32,5.6.7.8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list := strings.Split(s, ",")
		got, err := ParseNetworks(list)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseNetworks(%q) returned both %v and %v", list, got, err)
			}
			if !strings.HasPrefix(err.Error(), "invalid network ") {
				t.Fatalf("ParseNetworks(%q): error %q does not name the entry", list, err)
			}
			return
		}
		if len(got) != len(list) {
			t.Fatalf("ParseNetworks(%q) = %d prefixes", list, len(got))
		}
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
				t.Fatalf("ParseNetworks(%q): %v is not a valid masked prefix", list, p)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				t.Fatalf("ParseNetworks(%q): %v is still IPv4-mapped", list, p)
			}
			// Round trip.
			again, err := ParseNetwork(p.String())
			if err != nil || again != p {
				t.Fatalf("ParseNetwork(%q) = %v, %v; want %v", p.String(), again, err, p)
			}
			// The set built from the prefix contains its first address.
			if !NewPrefixSet([]netip.Prefix{p}).Contains(p.Addr()) {
				t.Fatalf("set of %v does not contain %v", p, p.Addr())
			}
		}
	})
}
