package passive

import (
	"net/netip"
	"strings"
)

// Describe returns one human line telling what is announced to whom, for the
// start log and for `wharf check`, e.g.
//
//	announcing 203.0.113.7 to non-local clients; local networks (127.0.0.0/8, 10.0.0.0/8) get the local address; overrides: 100.64.0.0/10 → 100.64.0.1
func (a *Announcer) Describe() string {
	st := a.state.Load()
	parts := []string{st.describeExternal()}
	if len(st.cfg.LocalNetworks) > 0 {
		parts = append(parts, "local networks ("+joinPrefixes(st.cfg.LocalNetworks)+") get the local address")
	}
	if len(st.cfg.Overrides) > 0 {
		overrides := make([]string, 0, len(st.cfg.Overrides))
		for _, o := range st.cfg.Overrides {
			networks := joinPrefixes(o.Networks)
			if len(o.Networks) != 1 {
				networks = "(" + networks + ")"
			}
			overrides = append(overrides, networks+" → "+o.Address)
		}
		parts = append(parts, "overrides: "+strings.Join(overrides, ", "))
	}
	return strings.Join(parts, "; ")
}

// describeExternal tells what non-local clients get.
func (st *announcerState) describeExternal() string {
	const toOthers = " to non-local clients"
	switch st.src.kind {
	case sourceLiteral:
		return "announcing " + st.external + toOthers
	case sourceDNS, sourceURL:
		how := "resolved"
		if st.src.kind == sourceURL {
			how = "fetched"
		}
		every := ", " + how + " every " + st.cfg.Refresh.String()
		if st.external == "" {
			return "announcing the address " + how + " from " + st.describeSource() +
				" (not known yet: the local address until then" + every + ")" + toOthers
		}
		return "announcing " + st.external + " (from " + st.describeSource() + every + ")" + toOthers
	default:
		return "announcing the local address of the control connection"
	}
}

// describeSource names the source of the external address for logs; a URL's
// password is redacted.
func (st *announcerState) describeSource() string {
	switch st.src.kind {
	case sourceNone:
		return "none"
	case sourceURL:
		return redactURL(st.src.value)
	default:
		return st.src.value
	}
}

// joinPrefixes writes ps separated by commas.
func joinPrefixes(ps []netip.Prefix) string {
	texts := make([]string, len(ps))
	for i, p := range ps {
		texts[i] = p.String()
	}
	return strings.Join(texts, ", ")
}
