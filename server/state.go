package server

import (
	"crypto/tls"
	"net/netip"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/fs/s3"
	"github.com/wharf-ftp/wharf/passive"
	"github.com/wharf-ftp/wharf/server/config"
)

// state is everything built from one configuration file. The server holds the
// current one in an atomic pointer and swaps it whole on reload; a session keeps
// the account it logged in with.
type state struct {
	cfg      *config.Config
	dir      *auth.Directory
	filter   *auth.Filter
	tls      *tlsMaterial
	ban      auth.BanPolicy
	announce passive.AnnouncerConfig
	// accounts holds, by user name, what each account sees (its mounts with
	// their backends and quotas) and its limits; auth keeps who may log in.
	accounts map[string]*account
	stores   map[string]*s3.Store
	commit   []func() // applied when the state is put in use (commitStorage)
}

// account is what one user sees and may use.
type account struct {
	cfg    *config.User
	mounts []fs.Mount
	limits config.Limits
}

// account returns the account of the user name, nil when unknown.
func (st *state) account(name string) *account { return st.accounts[name] }

func (s *Server) buildState(cfg *config.Config) (*state, error) {
	st := &state{
		cfg:    cfg,
		filter: newFilter(cfg.IPFilter),
		ban: auth.BanPolicy{
			Enabled:   cfg.Autoban.Enabled,
			Failures:  cfg.Autoban.Failures,
			Window:    cfg.Autoban.Window,
			Ban:       cfg.Autoban.Ban,
			Exempt:    cfg.Autoban.Exempt,
			IPv6Group: 64,
		},
		announce: passive.AnnouncerConfig{
			Overrides:       cfg.Passive.Overrides,
			LocalNetworks:   cfg.Passive.LocalNetworks,
			ExternalAddress: cfg.Passive.ExternalAddress,
			ExternalURL:     cfg.Passive.ExternalAddressURL,
			Refresh:         cfg.Passive.ExternalAddressRefresh,
			Logger:          s.log.With("component", "passive"),
		},
	}
	t := cfg.TLS
	m, err := loadTLSMaterial(t.Certificate, t.Key, t.ClientCA, t.ClientAuth, t.MinVersion, t.SessionReuse == "required")
	if err != nil {
		return nil, err
	}
	st.tls = m

	st.stores, err = s.openStores(cfg)
	if err != nil {
		return nil, err
	}
	st.accounts = make(map[string]*account, len(cfg.Users))
	users := make([]*auth.User, 0, len(cfg.Users))
	for _, cu := range cfg.Users {
		var filters []*auth.Filter
		for _, f := range cfg.UserFilters(cu) {
			filters = append(filters, newFilter(f))
		}
		users = append(users, &auth.User{
			Name:                cu.Name,
			PasswordHash:        cu.Password,
			Anonymous:           cu.Anonymous,
			Disabled:            cu.Disabled,
			MaxSessions:         cu.MaxSessions,
			RequireTLS:          cu.RequireTLS,
			TLSCertificateLogin: cu.TLSCertificateLogin,
			Filters:             filters,
		})
		st.accounts[cu.Name] = &account{
			cfg:    cu,
			mounts: s.mountsFor(cfg, st.stores, cu, &st.commit),
			limits: cfg.UserLimits(cu),
		}
	}
	st.dir = auth.NewDirectory(users, s.verifier)
	if s.cur.Load() == nil {
		s.commitStorage(st) // the first state is put in use at once
	}
	return st, nil
}

func newFilter(f config.IPFilter) *auth.Filter {
	if len(f.Allow) == 0 && len(f.Deny) == 0 {
		return nil
	}
	return auth.NewFilter(f.Allow, f.Deny)
}

// requireTLSLogin reports whether the control connection must be protected
// before USER/PASS.
func (st *state) requireTLSLogin() bool { return st.cfg.TLS.Require != "none" }

// requireTLSData reports whether every data connection must be protected.
func (st *state) requireTLSData() bool { return st.cfg.TLS.Require == "all" }

func (st *state) tlsConfigured() bool { return st.tls != nil }

// tlsVersionName names a TLS version for logs.
func tlsVersionName(v uint16) string {
	if v == 0 {
		return "none"
	}
	return tls.VersionName(v)
}

// admit decides whether a new control connection from addr may proceed. It
// returns connAccepted, or the refusal result label and the text sent with 421.
//
// An admitted connection holds a place per address, across the cluster when
// there is one; release gives it back (nil when refused).
func (s *Server) admit(addr netip.Addr) (result, text string, release func()) {
	if s.autoban.Banned(addr) {
		return connRefusedBanned, "your address is temporarily banned after repeated failed logins", nil
	}
	st := s.state()
	if !st.filter.Allowed(addr) {
		return connRefusedFilter, "connections from your address are not allowed", nil
	}
	if s.stopping.Load() {
		return connRefusedLimit, "server shutting down", nil
	}
	perIP := st.cfg.Server.MaxConnectionsPerIP
	if text := s.reg.conns.acquire(addr, st.cfg.Server.MaxConnections, perIP); text != "" {
		return connRefusedLimit, text, nil
	}
	shared, ok := s.slot("ip:"+addr.String(), perIP)
	if !ok {
		s.reg.conns.release(addr)
		return connRefusedLimit, "too many connections from your address (max_connections_per_ip), try again later", nil
	}
	s.metrics.connectionsTotal.WithLabelValues(connAccepted).Inc()
	return connAccepted, "", func() {
		shared()
		s.reg.conns.release(addr)
	}
}

// limitersFor returns the long-lived per-user limiters of name, with the rates of
// lim (creating them at first use). They are shared by all of the user's
// sessions and survive reloads, so new rates apply to running transfers.
func (s *Server) limitersFor(name string, lim config.Limits) (down, up *fs.Limiter) {
	s.userLimMu.Lock()
	defer s.userLimMu.Unlock()
	pair, ok := s.userLim[name]
	if !ok {
		pair = [2]*fs.Limiter{fs.NewLimiter(lim.Download), fs.NewLimiter(lim.Upload)}
		s.userLim[name] = pair
	} else {
		pair[0].SetRate(lim.Download)
		pair[1].SetRate(lim.Upload)
	}
	return pair[0], pair[1]
}

// applyLimits pushes the rates of a new state into the long-lived limiters.
func (s *Server) applyLimits(st *state) {
	s.commitStorage(st)
	s.serverDown.SetRate(st.cfg.Limits.Download)
	s.serverUp.SetRate(st.cfg.Limits.Upload)
	s.userLimMu.Lock()
	defer s.userLimMu.Unlock()
	for name, pair := range s.userLim {
		u, ok := st.dir.Lookup(name)
		if !ok {
			pair[0].SetRate(0)
			pair[1].SetRate(0)
			continue
		}
		a := st.account(u.Name)
		pair[0].SetRate(a.limits.Download)
		pair[1].SetRate(a.limits.Upload)
	}
}
