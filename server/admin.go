package server

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/cluster"
	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/server/config"
)

// The admin API sees the server through admin.Backend.
var _ admin.Backend = (*adminBackend)(nil)

type adminBackend struct{ s *Server }

// startAdmin serves the admin API and status page on [admin] listen, if set.
func (s *Server) startAdmin(cfg *config.Config) error {
	a := cfg.Admin
	if a.Listen == "" {
		return nil
	}
	var tc = s.baseTLS
	if !a.TLS {
		tc = nil
	}
	l, err := admin.ListenWith(s.listen, a.Listen, tc)
	if err != nil {
		return err
	}
	s.adminSrv = admin.New(admin.Options{
		Backend:        &adminBackend{s},
		Unix:           a.Socket() != "",
		TLS:            a.TLS,
		Users:          s.adminLogin,
		OnLoginFailure: s.failure,
		Banned:         s.autoban.Banned,
		Logger:         s.log.With("component", "admin"),
	})
	s.adminAddr = l.Addr().String()
	go func() { _ = s.adminSrv.Serve(l) }()
	s.log.Info("admin listening", "address", a.Listen)
	return nil
}

// AdminAddr is the admin listener's address ("" when off).
func (s *Server) AdminAddr() string { return s.adminAddr }

// adminLogin checks an [admin.users] account; an unknown name costs a hash
// check too, so timing does not tell which accounts exist.
func (s *Server) adminLogin(user, pass string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	start := time.Now()
	au, ok := s.state().cfg.Admin.Users[user]
	if !ok {
		s.verifier.Burn(ctx)
		s.verifier.Pad(ctx, start)
		return "", false
	}
	match, err := s.verifier.Verify(ctx, au.Password, pass)
	if err != nil || !match {
		s.verifier.Pad(ctx, start)
		return "", false
	}
	return au.Role, true
}

func (b *adminBackend) Status(context.Context) (admin.Status, error) {
	s := b.s
	n := s.reg.count()
	s.reloadMu.Lock()
	loaded, errs := s.loadedAt, slices.Clone(s.reloadErrors)
	s.reloadMu.Unlock()
	if errs == nil {
		errs = []string{}
	}
	return admin.Status{
		Version:        s.opts.Version,
		Node:           s.node,
		PID:            os.Getpid(),
		StartedAt:      s.startedAt,
		Sessions:       n,
		Transfers:      int(max(s.reg.transfers.Load(), 0)),
		ConfigLoadedAt: loaded,
		ConfigOK:       len(errs) == 0,
		ConfigErrors:   errs,
	}, nil
}

func (b *adminBackend) Sessions(ctx context.Context) ([]admin.Session, error) {
	s := b.s
	if s.cluster == nil {
		return b.localSessions()
	}
	list, _ := s.cluster.List(ctx) // Redis down: this node's sessions only
	out := make([]admin.Session, 0, len(list))
	for _, c := range list {
		out = append(out, fromClusterSession(c))
	}
	slices.SortFunc(out, func(a, b admin.Session) int { return a.ConnectedAt.Compare(b.ConnectedAt) })
	return out, nil
}

// localSessions are this node's sessions.
func (b *adminBackend) localSessions() ([]admin.Session, error) {
	s := b.s
	out := []admin.Session{}
	now := time.Now()
	s.reg.each(func(sess *session) bool {
		as := admin.Session{
			ID:          sess.id,
			Node:        s.node,
			Remote:      sess.remote,
			Listener:    sess.listener,
			TLS:         sess.cc.HasTLSForControl(),
			ConnectedAt: sess.connectedAt.UTC(),
			IdleSeconds: int64(now.Sub(sess.lastActive()).Seconds()),
		}
		if u := sess.user.Load(); u != nil {
			as.User = u.Name
		}
		if lt := sess.live.Load(); lt != nil {
			as.Transfer = lt.view(sess, now)
		}
		out = append(out, as)
		return true
	})
	slices.SortFunc(out, func(a, b admin.Session) int { return a.ConnectedAt.Compare(b.ConnectedAt) })
	return out, nil
}

func (b *adminBackend) Kick(ctx context.Context, id string) error {
	s := b.s
	sess, ok := s.reg.session(id)
	if !ok {
		if s.cluster != nil {
			if found, err := s.cluster.Kick(ctx, id); err == nil && found {
				return nil
			}
		}
		return admin.ErrNotFound
	}
	sess.kick()
	return nil
}

// kick closes a session at an operator's request (here or on another node).
func (sess *session) kick() {
	sess.log.Warn("session kicked by an operator")
	sess.closeWith("Your session was closed by the server's operator.")
}

func (b *adminBackend) Bans(ctx context.Context) ([]admin.Ban, error) {
	out := []admin.Ban{}
	if cl := b.s.cluster; cl != nil && cl.Up() {
		if bans, err := cl.Bans(ctx); err == nil {
			for _, cb := range bans {
				out = append(out, adminBan(cb.Address, cb.Until, cb.Reason == admin.ReasonManual, cb.Note, cb.Failures))
			}
			return out, nil
		}
	}
	for _, bi := range b.s.autoban.Bans() {
		out = append(out, adminBan(bi.Network, bi.Until, bi.Manual, bi.Note, bi.Failures))
	}
	return out, nil
}

func adminBan(p netip.Prefix, until time.Time, manual bool, note string, failures int) admin.Ban {
	return admin.Ban{Address: p, Until: until.UTC(), Reason: banReason(manual), Note: note, Failures: failures}
}

// banReason is a ban's reason as the API and the cluster name it.
func banReason(manual bool) string {
	if manual {
		return admin.ReasonManual
	}
	return admin.ReasonAutoban
}

func (b *adminBackend) Ban(_ context.Context, p netip.Prefix, d time.Duration, note string) (admin.Ban, error) {
	s := b.s
	var until time.Time
	if d > 0 {
		until = time.Now().Add(d)
	}
	bi := s.autoban.Ban(p, until, note)
	s.afterBan(bi)
	return adminBan(bi.Network, bi.Until, true, bi.Note, 0), nil
}

// afterBan follows a ban made on this node (autoban, the admin API): it is
// counted, its sessions are closed, it is published, shared with the cluster
// and saved in the state file.
func (s *Server) afterBan(bi auth.BanInfo) {
	s.metrics.bansTotal.Inc()
	s.banned(bi.Network)
	s.shareBan(bi)
	s.saveBansLater()
}

// saveBansLater writes the ban state file in the background.
func (s *Server) saveBansLater() {
	go func() {
		if err := s.saveBans(); err != nil {
			s.log.Error("autoban state file", "err", err)
		}
	}()
}

// banned closes the open sessions of p and publishes the ban.
func (s *Server) banned(p netip.Prefix) {
	s.closeBanned(p)
	s.publish(events.Banned(s.node, p.String()))
}

// closeBanned closes the open sessions of p with a 421. A session whose
// failed login started the ban gets its 530 instead (the library then
// disconnects it).
func (s *Server) closeBanned(p netip.Prefix) {
	s.reg.each(func(sess *session) bool {
		if p.Contains(sess.remote) && !sess.inLogin.Load() {
			sess.log.Warn("session closed: its address is banned", "network", p.String())
			sess.closeWith("Your address is banned.")
		}
		return true
	})
}

func (b *adminBackend) Unban(ctx context.Context, p netip.Prefix) error {
	s := b.s
	lifted := s.autoban.UnbanNetwork(p)
	if s.cluster != nil {
		if found, err := s.cluster.RemoveBan(ctx, p); found || errors.Is(err, cluster.ErrDown) {
			lifted = lifted || found
		}
	}
	if !lifted {
		return admin.ErrNotFound
	}
	s.log.Info("ban lifted by an operator", "network", p.String())
	s.saveBansLater()
	return nil
}

func (b *adminBackend) Reload(context.Context) (admin.ReloadResult, error) {
	err := b.s.Reload()
	if err == nil {
		return admin.ReloadResult{OK: true}, nil
	}
	return admin.ReloadResult{OK: false, Errors: errorLines(err)}, nil
}

// errorLines are a rejected file's FILE:LINE: message lines.
func errorLines(err error) []string {
	var errs config.Errors
	if errors.As(err, &errs) {
		lines := make([]string, len(errs))
		for i, e := range errs {
			lines[i] = e.Error()
		}
		return lines
	}
	return strings.Split(err.Error(), "\n")
}

func (b *adminBackend) Upgrade(context.Context) error {
	if b.s.opts.Upgrade == nil {
		return admin.ErrNotImplemented
	}
	return b.s.opts.Upgrade()
}

func (b *adminBackend) Users(context.Context) ([]admin.User, error) {
	s := b.s
	cfg := s.state().cfg
	out := []admin.User{}
	for _, cu := range cfg.Users {
		u := admin.User{
			Name:     cu.Name,
			Groups:   append([]string{}, cu.Groups...),
			Disabled: cu.Disabled,
			Sessions: s.reg.users.Count(cu.Name),
			Folders:  []admin.Folder{},
		}
		for _, f := range s.UserFolders(cu.Name) {
			u.Folders = append(u.Folders, admin.Folder{Mount: f.Mount, QuotaSize: f.QuotaSize, QuotaFiles: f.QuotaFiles,
				UsedSize: f.UsedSize, UsedFiles: f.UsedFiles})
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b admin.User) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (b *adminBackend) Subscribe(ctx context.Context) (<-chan admin.Event, func()) {
	ctx, cancel := context.WithCancel(ctx)
	in := b.s.bus.Subscribe(ctx, 64)
	out := make(chan admin.Event, 64)
	go func() {
		defer close(out)
		for ev := range in {
			e, err := admin.NewEvent(string(ev.Event), ev)
			if err != nil {
				continue
			}
			select {
			case out <- e:
			default: // a slow reader misses events; the server never waits
			}
		}
	}()
	return out, cancel
}

// liveTransfer is a session's transfer in progress, for the admin API.
type liveTransfer struct {
	direction string
	path      string
	started   time.Time
	progress  interface{ Transferred() int64 }
}

func (lt *liveTransfer) view(sess *session, now time.Time) *admin.Transfer {
	t := &admin.Transfer{Direction: lt.direction, Path: lt.path, StartedAt: lt.started.UTC(), Size: admin.Unknown}
	if lt.progress != nil {
		t.Bytes = lt.progress.Transferred()
	}
	if el := now.Sub(lt.started); el > 0 {
		t.BytesPerSecond = int64(float64(t.Bytes) / el.Seconds())
	}
	if lt.direction == admin.Download {
		if tree := sess.tree.Load(); tree != nil {
			if fi, err := tree.Stat(lt.path); err == nil {
				t.Size = admin.Size(fi.Size())
			}
		}
	}
	return t
}
