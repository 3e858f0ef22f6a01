package passive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// Defaults of [AnnouncerConfig].
const (
	// DefaultRefresh is how often a DNS name is re-resolved or a URL re-fetched.
	DefaultRefresh = 5 * time.Minute
	// defaultHTTPTimeout bounds one fetch of the external address URL.
	defaultHTTPTimeout = 10 * time.Second
	// defaultStartWait bounds how long Start waits for the first lookup.
	defaultStartWait = 3 * time.Second
	// maxBody is how much of the URL's body is read.
	maxBody = 256
)

// ErrNotIPv4 is returned by [Announcer.Address] when the address to announce
// is not IPv4: the 227 reply of PASV can only carry IPv4, EPSV has no address.
var ErrNotIPv4 = errors.New("PASV needs an IPv4 address")

// Override announces Address to the clients whose address lies in Networks.
type Override struct {
	Networks []netip.Prefix
	Address  string // IPv4 literal
}

// AnnouncerConfig configures an [Announcer].
type AnnouncerConfig struct {
	Overrides       []Override     // checked first, first match wins
	LocalNetworks   []netip.Prefix // clients here get the local address
	ExternalAddress string         // IPv4 literal or DNS name ("" = none); wins over ExternalURL
	ExternalURL     string         // http(s) URL whose body is the public IPv4 ("" = none)
	Refresh         time.Duration  // re-resolve / re-fetch period (0 = DefaultRefresh)
	HTTPClient      *http.Client   // optional; default has a 10 s timeout
	Resolver        *net.Resolver  // optional; default net.DefaultResolver
	Logger          *slog.Logger   // nil discards
}

// sourceKind tells where the external address comes from.
type sourceKind int

const (
	sourceNone    sourceKind = iota // no external address: the local one
	sourceLiteral                   // an IP literal
	sourceDNS                       // a DNS name, resolved in the background
	sourceURL                       // an http(s) URL, fetched in the background
)

// source is where the external address comes from.
type source struct {
	kind  sourceKind
	value string
}

// dynamic reports whether the source is looked up in the background.
func (s source) dynamic() bool { return s.kind == sourceDNS || s.kind == sourceURL }

// announcerState is one immutable snapshot of an Announcer.
type announcerState struct {
	cfg      AnnouncerConfig // normalized private copy
	src      source
	external string // current external address, "" if none yet
}

// Announcer decides the address announced in 227 replies, per client.
// It is safe for concurrent use; Address never does network I/O.
type Announcer struct {
	mu      sync.Mutex // serializes writers of state, and running
	state   atomic.Pointer[announcerState]
	kick    chan struct{} // wakes the refresh loop after Update
	running bool
	wg      sync.WaitGroup // the refresh loop

	// Set before Start only (tests).
	startWait time.Duration
	lookupIP  func(ctx context.Context, host string) ([]netip.Addr, error)
}

// NewAnnouncer returns an Announcer for cfg. Nothing is looked up until
// [Announcer.Start].
func NewAnnouncer(cfg AnnouncerConfig) *Announcer {
	a := &Announcer{kick: make(chan struct{}, 1), startWait: defaultStartWait}
	st := newState(cfg)
	a.state.Store(st)
	return a
}

// newState normalizes a copy of cfg; a literal external address is current at once.
func newState(cfg AnnouncerConfig) *announcerState {
	c := cfg
	c.Overrides = make([]Override, 0, len(cfg.Overrides))
	for _, o := range cfg.Overrides {
		c.Overrides = append(c.Overrides, Override{
			Networks: normalizePrefixes(o.Networks),
			Address:  strings.TrimSpace(o.Address),
		})
	}
	c.LocalNetworks = normalizePrefixes(cfg.LocalNetworks)
	c.ExternalAddress = strings.TrimSpace(cfg.ExternalAddress)
	c.ExternalURL = strings.TrimSpace(cfg.ExternalURL)
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}

	st := &announcerState{cfg: c}
	switch {
	case c.ExternalAddress != "":
		if addr, err := netip.ParseAddr(c.ExternalAddress); err == nil {
			st.src = source{kind: sourceLiteral, value: c.ExternalAddress}
			st.external = addr.Unmap().String()
		} else {
			st.src = source{kind: sourceDNS, value: c.ExternalAddress}
		}
	case c.ExternalURL != "":
		st.src = source{kind: sourceURL, value: c.ExternalURL}
	}
	return st
}

// normalizePrefixes returns valid, masked copies of ps, IPv4-mapped prefixes
// (::ffff:a.b.c.d/96+n) turned into IPv4 ones.
func normalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// Update replaces the configuration (reload). The last good external address
// is kept when the source (ExternalAddress, ExternalURL) is unchanged;
// otherwise a running refresh loop looks the new source up at once.
func (a *Announcer) Update(cfg AnnouncerConfig) {
	next := newState(cfg)
	a.mu.Lock()
	prev := a.state.Load()
	sameSource := prev.src == next.src
	if sameSource && next.src.dynamic() {
		next.external = prev.external
	}
	a.state.Store(next)
	a.mu.Unlock()

	if !sameSource || prev.cfg.Refresh != next.cfg.Refresh {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// External returns the current external address, "" if none yet.
func (a *Announcer) External() string { return a.state.Load().external }

// Address returns the IPv4 literal to announce to client, whose control
// connection arrived on local. The first match wins:
//  1. the first override whose networks contain client;
//  2. client in LocalNetworks: local;
//  3. the current external address (the literal, or the last good DNS/URL result);
//  4. local.
//
// IPv4-mapped addresses are unmapped. When the chosen address is not IPv4
// (e.g. local is ::1) the error wraps [ErrNotIPv4] and tells to use EPSV.
func (a *Announcer) Address(client, local netip.Addr) (string, error) {
	st := a.state.Load()
	client = client.Unmap()
	chosen := st.choose(client, local.Unmap().String())
	addr, err := netip.ParseAddr(chosen)
	if err != nil || !addr.Unmap().Is4() {
		return "", fmt.Errorf("%w, use EPSV (the address to announce, %q, is not IPv4)", ErrNotIPv4, chosen)
	}
	return addr.Unmap().String(), nil
}

// choose applies the order of Address and returns the chosen text.
func (st *announcerState) choose(client netip.Addr, local string) string {
	for _, o := range st.cfg.Overrides {
		if containsAddr(o.Networks, client) {
			return o.Address
		}
	}
	if containsAddr(st.cfg.LocalNetworks, client) {
		return local
	}
	if st.external != "" {
		return st.external
	}
	return local
}

// containsAddr reports whether one of ps contains addr.
func containsAddr(ps []netip.Prefix, addr netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// PublicIP has the shape of ftpserverlib's Settings.PublicIPResolver: it
// returns [Announcer.Address] for the client's remote and local addresses.
func (a *Announcer) PublicIP(cc ftpserver.ClientContext) (string, error) {
	return a.Address(addrOf(cc.RemoteAddr()), addrOf(cc.LocalAddr()))
}

// addrOf returns the IP of a network address, the zero Addr if it has none.
func addrOf(addr net.Addr) netip.Addr {
	switch v := addr.(type) {
	case nil:
		return netip.Addr{}
	case *net.TCPAddr:
		return v.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
