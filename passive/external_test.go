package passive

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

func TestCheckExternalAddress(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: ""},
		{in: "203.0.113.7"},
		{in: "::ffff:203.0.113.7"},
		{in: "ftp.example.com"},
		{in: "ftp.example.com."},
		{in: "localhost"},
		{in: "my-host1.example"},
		{in: "xn--bcher-kva.example"},
		{in: "2001:db8::1", wantErr: `external address "2001:db8::1" is not IPv4`},
		{in: "300.1.1.1", wantErr: `external address "300.1.1.1" is neither`},
		{in: "1.2.3", wantErr: "is neither"},
		{in: "ftp..example.com", wantErr: "is neither"},
		{in: "-ftp.example.com", wantErr: "is neither"},
		{in: "ftp-.example.com", wantErr: "is neither"},
		{in: "ftp_x.example.com", wantErr: "is neither"},
		{in: "http://ftp.example.com", wantErr: "is neither"},
		{in: "ftp.example.com:21", wantErr: "is neither"},
		{in: " ftp.example.com", wantErr: "is neither"},
		{in: ".", wantErr: "is neither"},
		{in: strings.Repeat("a", 64) + ".example", wantErr: "is neither"},
		{in: strings.Repeat("a.", 127) + "aa", wantErr: "is neither"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := CheckExternalAddress(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckExternalAddress(%q) = %v", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckExternalAddress(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func FuzzCheckExternalAddress(f *testing.F) {
	for _, s := range []string{"", "203.0.113.7", "2001:db8::1", "ftp.example.com", "1.2.3", "a-.b", "::ffff:1.2.3.4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckExternalAddress(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("error %q does not quote the value %q", err, s)
			}
			return
		}
		if s == "" {
			return
		}
		if addr, perr := netip.ParseAddr(s); perr == nil {
			if !addr.Unmap().Is4() {
				t.Fatalf("accepted the non-IPv4 literal %q", s)
			}
		} else if strings.ContainsAny(s, " :/_") || len(s) > 254 {
			t.Fatalf("accepted %q as a DNS name", s)
		}
		// An accepted literal is what the announcer announces.
		a := NewAnnouncer(AnnouncerConfig{ExternalAddress: s})
		if src := a.state.Load().src; src.kind == sourceLiteral {
			if _, err := a.Address(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("10.0.0.1")); err != nil {
				t.Fatalf("accepted literal %q cannot be announced: %v", s, err)
			}
		}
	})
}

func TestCheckExternalURL(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: ""},
		{in: "https://ip.example.com/"},
		{in: "http://ip.example.com:8080/ip?format=text"},
		{in: "HTTPS://ip.example.com"},
		{in: "http://127.0.0.1:8080/"},
		{in: "http://[::1]:8080/"},
		{in: "ftp://ip.example.com/", wantErr: `external address URL "ftp://ip.example.com/": want an http:// or https:// URL`},
		{in: "ip.example.com", wantErr: "want an http:// or https:// URL"},
		{in: "https://", wantErr: `external address URL "https://" has no host`},
		{in: "https://:80/", wantErr: "has no host"},
		{in: "https://me:secret@/", wantErr: `"https://me:xxxxx@/" has no host`},
		{in: "http://a b/", wantErr: `external address URL "http://a b/" is not a URL`},
		{in: "://x", wantErr: "is not a URL"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := CheckExternalURL(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckExternalURL(%q) = %v", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckExternalURL(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func FuzzCheckExternalURL(f *testing.F) {
	for _, s := range []string{"", "https://ip.example.com/", "ftp://x", "http://", "https://u:p@h/", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckExternalURL(s)
		if err != nil || s == "" {
			return
		}
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			t.Fatalf("accepted %q", s)
		}
	})
}
