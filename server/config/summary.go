package config

import (
	"fmt"
	"strings"
)

// Summary returns the one line `wharf check` prints for a valid file, e.g.
// "config ok: 3 users, 1 group, 5 folders, listen 0.0.0.0:21, implicit
// 0.0.0.0:990, passive 50000-50099, tls login".
func (c *Config) Summary() string {
	folders := 0
	for _, g := range c.Groups {
		folders += len(g.Folders)
	}
	for _, u := range c.Users {
		folders += len(u.Folders)
	}
	parts := []string{
		count(len(c.Users), "user"),
		count(len(c.Groups), "group"),
		count(folders, "folder"),
	}
	if len(c.Server.Listen) > 0 {
		parts = append(parts, "listen "+strings.Join(c.Server.Listen, " "))
	}
	if len(c.TLS.ImplicitListen) > 0 {
		parts = append(parts, "implicit "+strings.Join(c.TLS.ImplicitListen, " "))
	}
	parts = append(parts, "passive "+c.Passive.Ports.String())
	switch {
	case !c.TLS.Enabled():
		parts = append(parts, "no tls")
	case c.TLS.Require == requireNone:
		parts = append(parts, "tls optional")
	default:
		parts = append(parts, "tls "+c.TLS.Require)
	}
	if c.Metrics.Listen != "" {
		parts = append(parts, "metrics "+c.Metrics.Listen)
	}
	return "config ok: " + strings.Join(parts, ", ")
}

// count returns "1 user", "3 users".
func count(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
