package config

import (
	"crypto/tls"
	"log/slog"
	"net/netip"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/fs"
)

// Values of TLS.Require.
const (
	requireNone  = "none"
	requireLogin = "login"
	requireAll   = "all"
)

// server reads [server].
func (c *checker) server(t *table, s *Server) {
	if t.strings("listen", &s.Listen) {
		for _, a := range s.Listen {
			c.listenAddress(t.loc("listen"), a)
		}
	}
	if t.str("banner", &s.Banner) && s.Banner == "" {
		c.keyErrorf(t.loc("banner"), "must not be empty")
	}
	t.integer("max_connections", 0, &s.MaxConnections)
	t.integer("max_connections_per_ip", 0, &s.MaxConnectionsPerIP)
	t.duration("idle_timeout", false, &s.IdleTimeout)
	t.duration("data_timeout", false, &s.DataTimeout)
	t.duration("shutdown_grace", true, &s.ShutdownGrace)
	t.boolean("atomic_uploads", &s.AtomicUploads)
	var level int
	if t.integer("compression_level", 0, &level) {
		if level > 9 {
			c.keyErrorf(t.loc("compression_level"), "must be from 0 (off) to 9")
		} else {
			s.CompressionLevel = level
		}
	}
	t.finish()
}

// tls reads [tls]; files are checked in crossChecks, with everything else
// that depends on whether a certificate is set.
func (c *checker) tls(t *table, s *TLS) {
	if t.str("certificate", &s.Certificate) {
		s.Certificate = c.resolve(s.Certificate)
	}
	if t.str("key", &s.Key) {
		s.Key = c.resolve(s.Key)
	}
	if t.strings("implicit_listen", &s.ImplicitListen) {
		for _, a := range s.ImplicitListen {
			c.listenAddress(t.loc("implicit_listen"), a)
		}
	}
	t.oneOf("require", &s.Require, requireNone, requireLogin, requireAll)
	var v string
	if t.oneOf("min_version", &v, "1.2", "1.3") {
		s.MinVersion = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}[v]
	}
	t.oneOf("session_reuse", &s.SessionReuse, "none", "required")
	if t.str("client_ca", &s.ClientCA) {
		s.ClientCA = c.resolve(s.ClientCA)
	}
	t.oneOf("client_auth", &s.ClientAuth, "none", "request", "require")
	t.boolean("strict_upload_eof", &s.StrictUploadEOF)
	t.finish()
}

// limits reads a {download, upload} table of rates.
func (c *checker) limits(t *table, l *Limits) {
	var o RateOverride
	c.rateOverride(t, &o)
	if o.Download != nil {
		l.Download = *o.Download
	}
	if o.Upload != nil {
		l.Upload = *o.Upload
	}
}

// rateOverride reads a {download, upload} table of rates, leaving nil the
// directions it does not set.
func (c *checker) rateOverride(t *table, o *RateOverride) {
	for _, dir := range []struct {
		key string
		dst **fs.Rate
	}{{"download", &o.Download}, {"upload", &o.Upload}} {
		key, dst := dir.key, dir.dst
		var s string
		if !t.strOf(key, `rate string such as "10MB/s" ("0" = no cap)`, &s) {
			continue
		}
		r, err := fs.ParseRate(s)
		switch {
		case err != nil:
			c.keyErrorf(t.loc(key), "%v", err)
			continue
		case r < 0:
			c.keyErrorf(t.loc(key), "%q: a rate cannot be negative", s)
			continue
		}
		*dst = &r
	}
	t.finish()
}

// ipfilter reads an {allow, deny} table of networks.
func (c *checker) ipfilter(t *table) IPFilter {
	var f IPFilter
	f.Allow = c.networks(t, "allow")
	f.Deny = c.networks(t, "deny")
	t.finish()
	return f
}

// networks reads a list of networks (CIDR or single addresses).
func (c *checker) networks(t *table, key string) []netip.Prefix {
	var list []string
	if !t.strings(key, &list) {
		return nil
	}
	ps, ok := eachEntry(c, t.loc(key), list, auth.ParseNetwork)
	if !ok {
		return nil
	}
	return ps
}

// eachEntry parses every entry of a list, reporting each bad one at l; ok is
// false when any entry was bad.
func eachEntry[T any](c *checker, l loc, list []string, parse func(string) (T, error)) (out []T, ok bool) {
	ok = true
	for _, s := range list {
		v, err := parse(s)
		if err != nil {
			c.keyErrorf(l, "%v", err)
			ok = false
			continue
		}
		out = append(out, v)
	}
	return out, ok
}

// autoban reads [autoban].
func (c *checker) autoban(t *table, a *Autoban) {
	t.boolean("enabled", &a.Enabled)
	if t.integer("failures", 1, &a.Failures) && a.Failures > auth.MaxBanFailures {
		c.keyErrorf(t.loc("failures"), "must be an integer from 1 to %d", auth.MaxBanFailures)
	}
	t.duration("window", false, &a.Window)
	t.duration("ban", false, &a.Ban)
	if t.has("exempt") {
		a.Exempt = c.networks(t, "exempt")
	}
	if t.str("state_file", &a.StateFile) && a.StateFile != "" {
		a.StateFile = c.resolve(a.StateFile)
		c.parentDirExists(t.loc("state_file"), a.StateFile)
	}
	t.finish()
}

// log reads [log].
func (c *checker) log(t *table, l *Log) {
	var level string
	if t.oneOf("level", &level, "debug", "info", "warn", "error") {
		l.Level = map[string]slog.Level{
			"debug": slog.LevelDebug, "info": slog.LevelInfo,
			"warn": slog.LevelWarn, "error": slog.LevelError,
		}[level]
	}
	t.oneOf("format", &l.Format, "text", "json")
	if t.str("transfer_log", &l.TransferLog) && l.TransferLog != "" {
		l.TransferLog = c.resolve(l.TransferLog)
		c.parentDirExists(t.loc("transfer_log"), l.TransferLog)
	}
	t.finish()
}
