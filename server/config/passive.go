package config

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/passive"
)

// passive reads [passive] and its [[passive.overrides]].
func (c *checker) passive(t *table, p *Passive) {
	var s string
	const rangeString = `port range string such as "50000-50099"`
	if t.strOf("ports", rangeString, &s) {
		r, err := passive.ParsePortRange(s)
		if err != nil {
			c.keyErrorf(t.loc("ports"), "%v", err)
		} else {
			p.Ports = r
		}
	}
	if t.strOf("announced_ports", rangeString, &s) && s != "" {
		r, err := passive.ParsePortRange(s)
		if err != nil {
			c.keyErrorf(t.loc("announced_ports"), "%v", err)
		} else {
			p.AnnouncedPorts = r
		}
	}
	if t.str("external_address", &p.ExternalAddress) && p.ExternalAddress != "" {
		if err := passive.CheckExternalAddress(p.ExternalAddress); err != nil {
			c.keyErrorf(t.loc("external_address"), "%v", err)
		}
	}
	if t.str("external_address_url", &p.ExternalAddressURL) && p.ExternalAddressURL != "" {
		if passive.CheckExternalURL(p.ExternalAddressURL) != nil {
			c.keyErrorf(t.loc("external_address_url"), "%q is not an http or https URL", redactURL(p.ExternalAddressURL))
		}
		if p.ExternalAddress != "" {
			c.keyErrorf(t.loc("external_address_url"), "set external_address or external_address_url, not both")
		}
	}
	t.duration("external_address_refresh", false, &p.ExternalAddressRefresh)
	if t.has("local_networks") {
		p.LocalNetworks = c.networks(t, "local_networks")
	}
	for _, o := range t.tables("overrides") {
		p.Overrides = append(p.Overrides, c.override(o))
	}
	t.finish()
	if !p.AnnouncedPorts.IsZero() && !p.Ports.IsZero() && p.AnnouncedPorts.Len() != p.Ports.Len() {
		c.keyErrorf(t.loc("announced_ports"), "%s has %d ports but ports %s has %d: they must have as many",
			p.AnnouncedPorts, p.AnnouncedPorts.Len(), p.Ports, p.Ports.Len())
	}
}

// override reads one [[passive.overrides]] table.
func (c *checker) override(t *table) passive.Override {
	var o passive.Override
	var list []string
	if t.strings("networks", &list) {
		ps, ok := eachEntry(c, t.loc("networks"), list, auth.ParseNetwork)
		switch {
		case !ok:
		case len(ps) == 0:
			c.keyErrorf(t.loc("networks"), "must list at least one network")
		}
		o.Networks = ps
	} else if !t.has("networks") {
		c.errorf(t.at, "a passive override needs networks")
	}
	if t.str("address", &o.Address) {
		if a, err := netip.ParseAddr(o.Address); err != nil || !a.Is4() {
			c.keyErrorf(t.loc("address"), "%q is not an IPv4 address (PASV needs IPv4)", o.Address)
		}
	} else if !t.has("address") {
		c.errorf(t.at, "a passive override needs an address")
	}
	t.finish()
	return o
}

// redactURL returns s with the password of its user info, if any, replaced:
// configuration errors are printed and logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "@") {
			return "(an unparsable URL with user info)"
		}
		return s
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	return u.Redacted()
}
