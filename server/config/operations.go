package config

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/events"
)

// unixPrefix marks a unix socket in [admin] listen.
const unixPrefix = "unix:"

// admin reads [admin] and its [admin.users.NAME] tables.
func (c *checker) admin(t *table, a *Admin) {
	if t.str("listen", &a.Listen) && a.Listen != "" {
		if p, isUnix := strings.CutPrefix(a.Listen, unixPrefix); isUnix {
			switch {
			case !filepath.IsAbs(p):
				c.keyErrorf(t.loc("listen"), "%q: a unix socket needs an absolute path, e.g. \"unix:/run/wharf/admin.sock\"", a.Listen)
			default:
				c.parentDirExists(t.loc("listen"), p)
			}
		} else {
			c.listenAddress(t.loc("listen"), a.Listen)
		}
	}
	t.boolean("tls", &a.TLS)
	if ut := t.sub("users"); ut != nil {
		for _, name := range ut.keys() {
			u := ut.sub(name)
			if u == nil {
				continue
			}
			if msg := checkAccountName(name); msg != "" {
				c.errorf(u.at, "admin user name %q %s", name, msg)
			}
			au := &AdminUser{Name: name, Role: RoleViewer}
			if u.str("password", &au.Password) && au.Password != "" {
				if err := auth.CheckHash(au.Password); err != nil {
					c.keyErrorf(u.loc("password"), "%v", err)
				}
			} else if !u.has("password") || au.Password == "" {
				c.errorf(u.at, "admin user %q has no password", name)
			}
			if !u.has("role") {
				c.errorf(u.at, "admin user %q needs a role (\"admin\" or \"viewer\")", name)
			}
			u.oneOf("role", &au.Role, RoleAdmin, RoleViewer)
			u.finish()
			a.Users[name] = au
		}
		ut.finish()
	}
	t.finish()
}

// adminChecks checks what [admin] needs from the rest of the file.
func (c *checker) adminChecks(cfg *Config) {
	a := cfg.Admin
	if a.Listen == "" {
		return
	}
	if a.Socket() != "" {
		if a.TLS {
			c.keyErrorf(at("admin", "tls"), "applies to a TCP listener, not to a unix socket")
		}
		return
	}
	la, msg := parseListen(a.Listen)
	if msg != "" {
		return
	}
	if a.TLS && !cfg.TLS.Enabled() {
		c.keyErrorf(at("admin", "tls"), "needs tls.certificate and tls.key")
	}
	if !a.TLS && !loopbackHost(la.host) {
		c.keyErrorf(at("admin", "listen"), "%q is not a loopback address: set admin.tls = true (passwords and the session cookie would cross the network in clear)", a.Listen)
	}
	if len(a.Users) == 0 {
		c.keyErrorf(at("admin", "listen"), "a TCP listener needs at least one [admin.users.NAME] (a unix socket does not)")
	}
}

// loopbackHost reports whether host is a loopback IP literal or "localhost".
func loopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// proxyProtocol reads [proxy_protocol].
func (c *checker) proxyProtocol(t *table, p *ProxyProtocol) {
	if t.has("trusted") {
		p.Trusted = c.networks(t, "trusted")
	}
	t.duration("timeout", false, &p.Timeout)
	t.finish()
}

// cluster reads [cluster].
func (c *checker) cluster(t *table, cl *Cluster) {
	if t.str("redis", &cl.Redis) && cl.Redis != "" {
		if msg := checkRedisURL(cl.Redis); msg != "" {
			c.keyErrorf(t.loc("redis"), "%s", msg)
		}
	}
	if t.str("node", &cl.Node) && cl.Node != "" {
		if strings.ContainsFunc(cl.Node, func(r rune) bool { return r <= ' ' || r == 0x7f }) || len(cl.Node) > 64 {
			c.keyErrorf(t.loc("node"), "%q: at most 64 characters, without spaces or control characters", cl.Node)
		}
	}
	t.finish()
}

// checkRedisURL returns why s is not a Redis URL, or "". The password it may
// hold is never repeated in the message.
func checkRedisURL(s string) string {
	const want = `want "redis://host:6379/0" or "rediss://..." (TLS)`
	u, err := url.Parse(s)
	if err != nil {
		return "not a URL: " + want
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return "scheme " + quote(u.Scheme) + ": " + want
	}
	if u.Host == "" || u.Hostname() == "" {
		return "no host: " + want
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" && strings.Trim(db, "0123456789") != "" {
		return "the path must be a database number: " + want
	}
	return ""
}

// hooks reads every [[hooks]] entry.
func (c *checker) hooks(root *table) []Hook {
	var out []Hook
	for _, t := range root.tables("hooks") {
		h := Hook{Timeout: defaultHookTimeout, MaxRunning: defaultHookMaxRunning, Line: c.lines.line(t.at)}
		var names []string
		if t.strings("events", &names) {
			// Each name alone first, so that every unknown one is reported;
			// then the whole list, for names listed twice.
			_, ok := eachEntry(c, t.loc("events"), names, func(n string) ([]events.Kind, error) {
				return events.ParseKinds([]string{n})
			})
			var kinds []events.Kind
			var err error
			if ok {
				kinds, err = events.ParseKinds(names)
			}
			switch {
			case !ok:
			case err != nil:
				c.keyErrorf(t.loc("events"), "%v", err)
			case len(kinds) == 0:
				c.keyErrorf(t.loc("events"), "must name at least one event")
			}
			h.Events = kinds
		} else if !t.has("events") {
			c.errorf(t.at, "a hook needs events (e.g. events = [\"upload\"])")
		}
		hasCommand := t.strings("command", &h.Command) && len(h.Command) > 0
		hasURL := t.str("url", &h.URL) && h.URL != ""
		switch {
		case hasCommand && hasURL:
			c.errorf(t.at, "a hook has either a command or a url, not both")
		case !hasCommand && !hasURL:
			c.errorf(t.at, "a hook needs a command (argv list) or a url")
		case hasCommand:
			c.hookCommand(t.loc("command"), h.Command)
		case hasURL:
			if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				c.keyErrorf(t.loc("url"), "%q is not an http(s) URL", h.URL)
			}
		}
		t.duration("timeout", false, &h.Timeout)
		t.integer("max_running", 1, &h.MaxRunning)
		t.finish()
		out = append(out, h)
	}
	return out
}

// Defaults of a hook.
const (
	defaultHookTimeout    = 30 * time.Second
	defaultHookMaxRunning = 4
)

// hookCommand checks a hook's program: an absolute path to an executable
// file (the service's PATH is not the operator's shell's).
func (c *checker) hookCommand(l loc, argv []string) {
	prog := argv[0]
	switch {
	case prog == "":
		c.keyErrorf(l, "the program (first element) must not be empty")
		return
	case !filepath.IsAbs(prog):
		c.keyErrorf(l, "%q: the program must be an absolute path", prog)
		return
	case c.opt.SkipPathChecks:
		return
	}
	if c.fileExists(l, prog) {
		if fi, err := os.Stat(prog); err == nil && fi.Mode()&0o111 == 0 {
			c.keyErrorf(l, "%q is not executable", prog)
		}
	}
}
