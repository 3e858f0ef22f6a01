package passive

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

func prefixes(t *testing.T, texts ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(texts))
	for i, s := range texts {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestAnnouncerAddress(t *testing.T) {
	localNets := prefixes(t, "127.0.0.0/8", "10.0.0.0/8", "::1/128", "fc00::/7")
	full := AnnouncerConfig{
		Overrides: []Override{
			{Networks: prefixes(t, "100.64.0.0/10"), Address: "100.64.0.1"},
			{Networks: prefixes(t, "100.64.1.0/24"), Address: "100.64.1.1"}, // shadowed: first match wins
			{Networks: prefixes(t, "2001:db8::/32", "192.0.2.0/24"), Address: "198.51.100.1"},
			{Networks: prefixes(t, "::ffff:198.18.0.0/111"), Address: "198.18.0.1"}, // mapped form of 198.18.0.0/15
			{Networks: prefixes(t, "10.9.0.0/16"), Address: "10.9.0.1"},             // checked before local networks
		},
		LocalNetworks:   localNets,
		ExternalAddress: "203.0.113.7",
	}
	noExternal := AnnouncerConfig{LocalNetworks: localNets}
	tests := []struct {
		name          string
		cfg           AnnouncerConfig
		client, local string
		want          string
		wantErr       bool
	}{
		{name: "ipv4 public client gets external", cfg: full, client: "198.51.100.20", local: "10.0.0.5", want: "203.0.113.7"},
		{name: "ipv4 local client gets local", cfg: full, client: "10.1.2.3", local: "10.0.0.5", want: "10.0.0.5"},
		{name: "loopback client gets loopback", cfg: full, client: "127.0.0.1", local: "127.0.0.1", want: "127.0.0.1"},
		{name: "mapped local client", cfg: full, client: "::ffff:10.1.2.3", local: "::ffff:10.0.0.5", want: "10.0.0.5"},
		{name: "mapped public client", cfg: full, client: "::ffff:198.51.100.20", local: "::ffff:10.0.0.5", want: "203.0.113.7"},
		{name: "override", cfg: full, client: "100.127.255.254", local: "10.0.0.5", want: "100.64.0.1"},
		{name: "first override wins", cfg: full, client: "100.64.1.5", local: "10.0.0.5", want: "100.64.0.1"},
		{name: "override second network", cfg: full, client: "192.0.2.77", local: "10.0.0.5", want: "198.51.100.1"},
		{name: "override for ipv6 client", cfg: full, client: "2001:db8::5", local: "2001:db8::10", want: "198.51.100.1"},
		{name: "override with mapped prefix", cfg: full, client: "198.19.1.1", local: "10.0.0.5", want: "198.18.0.1"},
		{name: "override before local networks", cfg: full, client: "10.9.8.7", local: "10.0.0.5", want: "10.9.0.1"},
		{name: "ipv6 public client gets external", cfg: full, client: "2001:db9::1", local: "2001:db8::10", want: "203.0.113.7"},
		{name: "ipv6 local client on ipv6 listener", cfg: full, client: "::1", local: "::1", wantErr: true},
		{name: "ipv6 ula client on ipv4 listener", cfg: full, client: "fd00::1", local: "10.0.0.5", want: "10.0.0.5"},
		{name: "no external: local", cfg: noExternal, client: "198.51.100.20", local: "10.0.0.5", want: "10.0.0.5"},
		{name: "no external, mapped local", cfg: noExternal, client: "198.51.100.20", local: "::ffff:10.0.0.5", want: "10.0.0.5"},
		{name: "no external, ipv6 local", cfg: noExternal, client: "2001:db9::1", local: "2001:db8::10", wantErr: true},
		{name: "empty config", cfg: AnnouncerConfig{}, client: "198.51.100.20", local: "192.0.2.1", want: "192.0.2.1"},
		{name: "zero addresses", cfg: AnnouncerConfig{}, wantErr: true},
		{name: "mapped external literal", cfg: AnnouncerConfig{ExternalAddress: "::ffff:203.0.113.8"},
			client: "198.51.100.20", local: "10.0.0.5", want: "203.0.113.8"},
		{name: "ipv6 external literal", cfg: AnnouncerConfig{ExternalAddress: "2001:db8::1"},
			client: "198.51.100.20", local: "10.0.0.5", wantErr: true},
		{name: "dns name not resolved yet: local", cfg: AnnouncerConfig{ExternalAddress: "ftp.example.com"},
			client: "198.51.100.20", local: "10.0.0.5", want: "10.0.0.5"},
		{name: "url not fetched yet: local", cfg: AnnouncerConfig{ExternalURL: "https://ip.example.com/"},
			client: "198.51.100.20", local: "10.0.0.5", want: "10.0.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAnnouncer(tt.cfg)
			var client, local netip.Addr
			if tt.client != "" {
				client, local = netip.MustParseAddr(tt.client), netip.MustParseAddr(tt.local)
			}
			got, err := a.Address(client, local)
			if tt.wantErr {
				if !errors.Is(err, ErrNotIPv4) || !strings.Contains(err.Error(), "use EPSV") {
					t.Fatalf("Address = %q, %v; want an ErrNotIPv4 telling to use EPSV", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Address(%s, %s) = %q, %v; want %q", tt.client, tt.local, got, err, tt.want)
			}
		})
	}
}

func TestAnnouncerConfigCopied(t *testing.T) {
	cfg := AnnouncerConfig{
		Overrides:     []Override{{Networks: prefixes(t, "100.64.0.0/10"), Address: "100.64.0.1"}},
		LocalNetworks: prefixes(t, "10.0.0.0/8"),
	}
	a := NewAnnouncer(cfg)
	cfg.Overrides[0].Address = "192.0.2.99"
	cfg.Overrides[0].Networks[0] = netip.MustParsePrefix("0.0.0.0/0")
	cfg.LocalNetworks[0] = netip.MustParsePrefix("0.0.0.0/0")
	got, err := a.Address(netip.MustParseAddr("100.64.0.9"), netip.MustParseAddr("10.0.0.1"))
	if err != nil || got != "100.64.0.1" {
		t.Fatalf("Address after the caller changed its config = %q, %v; want 100.64.0.1", got, err)
	}
}

// fakeClient is a ftpserver.ClientContext with addresses only.
type fakeClient struct {
	ftpserver.ClientContext
	remote, local net.Addr
}

func (c fakeClient) RemoteAddr() net.Addr { return c.remote }
func (c fakeClient) LocalAddr() net.Addr  { return c.local }

// otherAddr is a net.Addr that is not a *net.TCPAddr.
type otherAddr string

func (a otherAddr) Network() string { return "other" }
func (a otherAddr) String() string  { return string(a) }

func TestAnnouncerPublicIP(t *testing.T) {
	a := NewAnnouncer(AnnouncerConfig{LocalNetworks: prefixes(t, "127.0.0.0/8"), ExternalAddress: "203.0.113.7"})
	tests := []struct {
		name          string
		remote, local net.Addr
		want          string
	}{
		{name: "local", remote: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 4000},
			local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 21}, want: "127.0.0.1"},
		{name: "public", remote: &net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 4000},
			local: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 21}, want: "203.0.113.7"},
		{name: "other addr type", remote: otherAddr("127.0.0.9:4000"), local: otherAddr("[::ffff:127.0.0.1]:21"), want: "127.0.0.1"},
		{name: "unparsable", remote: otherAddr("pipe"), local: otherAddr("pipe"), want: "203.0.113.7"},
		{name: "nil addresses: not local", want: "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := a.PublicIP(fakeClient{remote: tt.remote, local: tt.local})
			if err != nil || got != tt.want {
				t.Fatalf("PublicIP = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAnnouncerDescribe(t *testing.T) {
	local := prefixes(t, "127.0.0.0/8", "10.0.0.0/8")
	overrides := []Override{
		{Networks: prefixes(t, "100.64.0.0/10"), Address: "100.64.0.1"},
		{Networks: prefixes(t, "198.51.100.0/24", "192.0.2.0/24"), Address: "192.0.2.1"},
	}
	tests := []struct {
		name     string
		cfg      AnnouncerConfig
		external string // set as if looked up
		want     string
	}{
		{name: "literal with everything", cfg: AnnouncerConfig{ExternalAddress: "203.0.113.7", LocalNetworks: local, Overrides: overrides},
			want: "announcing 203.0.113.7 to non-local clients; local networks (127.0.0.0/8, 10.0.0.0/8) get the local address; " +
				"overrides: 100.64.0.0/10 → 100.64.0.1, (198.51.100.0/24, 192.0.2.0/24) → 192.0.2.1"},
		{name: "nothing", cfg: AnnouncerConfig{}, want: "announcing the local address of the control connection"},
		{name: "local networks only", cfg: AnnouncerConfig{LocalNetworks: local},
			want: "announcing the local address of the control connection; local networks (127.0.0.0/8, 10.0.0.0/8) get the local address"},
		{name: "dns name not resolved", cfg: AnnouncerConfig{ExternalAddress: "ftp.example.com"},
			want: "announcing the address resolved from ftp.example.com (not known yet: the local address until then, resolved every 5m0s) to non-local clients"},
		{name: "dns name resolved", cfg: AnnouncerConfig{ExternalAddress: "ftp.example.com", Refresh: 90e9}, external: "203.0.113.9",
			want: "announcing 203.0.113.9 (from ftp.example.com, resolved every 1m30s) to non-local clients"},
		{name: "url fetched, password redacted", cfg: AnnouncerConfig{ExternalURL: "https://me:secret@ip.example.com/ip"}, external: "203.0.113.10",
			want: "announcing 203.0.113.10 (from https://me:xxxxx@ip.example.com/ip, fetched every 5m0s) to non-local clients"},
		{name: "url not fetched", cfg: AnnouncerConfig{ExternalURL: "http://ip.example.com/"},
			want: "announcing the address fetched from http://ip.example.com/ (not known yet: the local address until then, fetched every 5m0s) to non-local clients"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAnnouncer(tt.cfg)
			if tt.external != "" {
				a.setExternal(a.state.Load().src, tt.external)
			}
			if got := a.Describe(); got != tt.want {
				t.Fatalf("Describe() =\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(a.Describe(), "secret") {
				t.Fatal("Describe shows a password")
			}
		})
	}
}
