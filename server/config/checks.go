package config

import "sort"

// at returns the location of a dotted key from the document root.
func at(names ...string) loc { return loc(nil).keys(names) }

// crossChecks runs the checks that involve more than one key, once every
// table has been read.
func (c *checker) crossChecks(cfg *Config) {
	c.tlsChecks(cfg)
	c.listenerChecks(cfg)
	c.adminChecks(cfg)
	if anon, ok := cfg.Users["anonymous"]; ok && anon.Anonymous {
		if _, clash := cfg.Users["ftp"]; clash {
			c.errorf(at("users", "ftp"), "user \"ftp\" clashes with the anonymous login (\"ftp\" logs in as \"anonymous\")")
		}
	}
}

// tlsChecks checks the certificate files and every setting that needs them.
func (c *checker) tlsChecks(cfg *Config) {
	t := cfg.TLS
	switch {
	case t.Certificate != "" && t.Key == "":
		c.errorf(at("tls", "certificate"), "tls.certificate is set without tls.key")
	case t.Certificate == "" && t.Key != "":
		c.errorf(at("tls", "key"), "tls.key is set without tls.certificate")
	case t.Certificate != "":
		c.keyPair(at("tls", "certificate"), t.Certificate, at("tls", "key"), t.Key)
	}
	if !t.Enabled() {
		const why = "needs tls.certificate and tls.key"
		if len(t.ImplicitListen) > 0 {
			c.keyErrorf(at("tls", "implicit_listen"), why)
		}
		if t.Require != requireNone {
			c.keyErrorf(at("tls", "require"), "%q %s", t.Require, why)
		}
		if t.ClientCA != "" {
			c.keyErrorf(at("tls", "client_ca"), why)
		}
		for _, u := range sortedUsers(cfg) {
			if u.RequireTLS {
				c.keyErrorf(at("users", u.Name, "require_tls"), why)
			}
		}
	}
	if t.ClientCA != "" {
		c.caBundle(at("tls", "client_ca"), t.ClientCA)
		if t.ClientAuth == "none" {
			for _, u := range sortedUsers(cfg) {
				if u.TLSCertificateLogin {
					c.keyErrorf(at("users", u.Name, "tls_certificate_login"),
						"needs tls.client_auth = \"request\" or \"require\" (with \"none\" no certificate is asked for)")
				}
			}
		}
	} else {
		if t.ClientAuth != "none" {
			c.keyErrorf(at("tls", "client_auth"), "%q needs tls.client_ca", t.ClientAuth)
		}
		for _, u := range sortedUsers(cfg) {
			if u.TLSCertificateLogin {
				c.keyErrorf(at("users", u.Name, "tls_certificate_login"), "needs tls.client_ca")
			}
		}
	}
}

// listener is one configured listener address and where it is set.
type listener struct {
	addr listenAddr
	at   loc
}

// listenerChecks checks that there is a control listener, that no two
// listeners conflict, and that no listener port lies in the passive range.
func (c *checker) listenerChecks(cfg *Config) {
	if len(cfg.Server.Listen) == 0 && len(cfg.TLS.ImplicitListen) == 0 {
		c.errorf(at("server", "listen"), "no listener: set server.listen or tls.implicit_listen")
	}
	var all []listener
	add := func(l loc, addrs ...string) {
		for _, s := range addrs {
			if a, msg := parseListen(s); msg == "" {
				all = append(all, listener{addr: a, at: l})
			}
		}
	}
	add(at("server", "listen"), cfg.Server.Listen...)
	add(at("tls", "implicit_listen"), cfg.TLS.ImplicitListen...)
	if cfg.Metrics.Listen != "" {
		add(at("metrics", "listen"), cfg.Metrics.Listen)
	}
	if cfg.Admin.Listen != "" && cfg.Admin.Socket() == "" {
		add(at("admin", "listen"), cfg.Admin.Listen)
	}
	for i, a := range all {
		for _, b := range all[:i] {
			switch {
			case !a.addr.conflicts(b.addr):
			case a.addr.text == b.addr.text && a.at.id() == b.at.id():
				c.keyErrorf(a.at, "%q is listed twice", a.addr.text)
			default:
				c.keyErrorf(a.at, "%q conflicts with %q (%s)", a.addr.text, b.addr.text, b.at)
			}
		}
	}
	ports := cfg.Passive.Ports
	for _, a := range all {
		if ports.Contains(a.addr.port) {
			where := at("passive", "ports")
			if c.lines.line(where) == 0 {
				where = a.at
			}
			c.errorf(where, "passive ports %s overlap listener %s", ports, a.addr.text)
		}
	}
}

// sortedUsers returns cfg's users sorted by name.
func sortedUsers(cfg *Config) []*User {
	out := make([]*User, 0, len(cfg.Users))
	for _, u := range cfg.Users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
