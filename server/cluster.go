package server

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/cluster"
	"github.com/wharf-ftp/wharf/server/config"
)

// clusterCallTimeout bounds the Redis calls made on a client's behalf.
const clusterCallTimeout = time.Second

// startCluster joins the nodes sharing [cluster] redis, if set: bans and
// autoban counts, max_sessions and max_connections_per_ip, and the admin
// API's sessions list and kick are shared through Redis. Redis down, each
// node goes on with its own state (see package cluster).
func (s *Server) startCluster(cfg *config.Config) error {
	if cfg.Cluster.Redis == "" {
		return nil
	}
	cl, err := cluster.New(cluster.Options{
		URL:      cfg.Cluster.Redis,
		Node:     s.node,
		Logger:   s.log.With("component", "cluster"),
		Sessions: s.clusterSessions,
		Bans:     s.localBans,
		OnBan:    s.clusterBan,
		OnUnban:  func(p netip.Prefix) { s.autoban.UnbanNetwork(p) },
		OnSync: func(bans []cluster.Ban) {
			for _, b := range bans {
				s.clusterBan(b)
			}
		},
		OnKick: func(id string) {
			if sess, ok := s.reg.session(id); ok {
				sess.kick()
			}
		},
	})
	if err != nil {
		return err
	}
	s.cluster = cl
	return nil
}

func (s *Server) clusterUp() float64 {
	if s.cluster == nil || s.cluster.Up() {
		return 1
	}
	return 0
}

// clusterBan applies a ban made on another node and closes its sessions here.
func (s *Server) clusterBan(b cluster.Ban) {
	if s.autoban.Apply(auth.BanInfo{Network: b.Address, Until: b.Until, Manual: b.Reason == admin.ReasonManual,
		Note: b.Note, Failures: b.Failures}) {
		s.log.Warn("address banned on another node", "network", b.Address.String(), "node", b.Node, "reason", b.Reason)
	}
	s.closeBanned(b.Address)
}

// localBans are this node's bans, for the cluster's catch-up.
func (s *Server) localBans() []cluster.Ban {
	var out []cluster.Ban
	for _, bi := range s.autoban.Bans() {
		out = append(out, toClusterBan(bi, s.node))
	}
	return out
}

func toClusterBan(bi auth.BanInfo, node string) cluster.Ban {
	return cluster.Ban{Address: bi.Network, Until: bi.Until, Reason: banReason(bi.Manual), Note: bi.Note, Failures: bi.Failures, Node: node}
}

// shareBan writes a ban made here to the cluster (kept and written later
// while Redis is down).
func (s *Server) shareBan(bi auth.BanInfo) {
	if s.cluster == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterCallTimeout)
	defer cancel()
	if err := s.cluster.AddBan(ctx, toClusterBan(bi, s.node)); err != nil && !errors.Is(err, cluster.ErrDown) {
		s.log.Warn("ban not shared with the cluster", "network", bi.Network.String(), "err", err.Error())
	}
}

// failure counts a failed login of remote for autoban, across the cluster
// when it answers (else here alone), and bans at the threshold.
func (s *Server) failure(remote netip.Addr) {
	if s.cluster == nil || !s.cluster.Up() {
		s.autoban.Failure(remote)
		return
	}
	p := s.autoban.Policy()
	if !p.Enabled || s.autoban.Exempt(remote) || s.autoban.Banned(remote) {
		return
	}
	key := s.autoban.Key(remote)
	ctx, cancel := context.WithTimeout(context.Background(), clusterCallTimeout)
	defer cancel()
	n, err := s.cluster.Failure(ctx, key.String(), p.Window)
	if err != nil {
		s.autoban.Failure(remote)
		return
	}
	if n < p.Failures {
		return
	}
	_ = s.cluster.ResetFailures(ctx, key.String())
	bi := auth.BanInfo{Network: key, Until: time.Now().Add(p.Ban), Failures: n}
	s.autoban.Apply(bi)
	s.log.Warn("address banned", "remote", remote.String(), "network", key.String(), "failures", n,
		"window", p.Window.String(), "until", bi.Until.UTC().Format(time.RFC3339))
	s.afterBan(bi)
}

// clusterSessions are this node's sessions as the cluster lists them.
func (s *Server) clusterSessions() []cluster.Session {
	local, _ := (&adminBackend{s}).localSessions()
	out := make([]cluster.Session, len(local))
	for i, a := range local {
		out[i] = cluster.Session{ID: a.ID, Node: a.Node, User: a.User, Remote: a.Remote.String(), Listener: a.Listener,
			TLS: a.TLS, ConnectedAt: a.ConnectedAt, IdleSeconds: a.IdleSeconds}
		if t := a.Transfer; t != nil {
			out[i].Transfer = &cluster.Transfer{Direction: t.Direction, Path: t.Path, Bytes: t.Bytes,
				BytesPerSecond: t.BytesPerSecond, StartedAt: t.StartedAt}
			if t.Size >= 0 {
				size := int64(t.Size)
				out[i].Transfer.Size = &size
			}
		}
	}
	return out
}

func fromClusterSession(c cluster.Session) admin.Session {
	remote, _ := netip.ParseAddr(c.Remote)
	a := admin.Session{ID: c.ID, Node: c.Node, User: c.User, Remote: remote, Listener: c.Listener, TLS: c.TLS,
		ConnectedAt: c.ConnectedAt, IdleSeconds: c.IdleSeconds}
	if t := c.Transfer; t != nil {
		a.Transfer = &admin.Transfer{Direction: t.Direction, Path: t.Path, Bytes: t.Bytes, Size: admin.Unknown,
			BytesPerSecond: t.BytesPerSecond, StartedAt: t.StartedAt}
		if t.Size != nil {
			a.Transfer.Size = admin.Size(*t.Size)
		}
	}
	return a
}

// slot takes a place under key (at most limit across the cluster); it returns
// a release function, or false when the limit is reached. Redis down, the
// caller's own count has decided: the place is held and counted once Redis
// is back.
func (s *Server) slot(key string, limit int) (func(), bool) {
	if s.cluster == nil || limit <= 0 {
		return func() {}, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterCallTimeout)
	defer cancel()
	sl, err := s.cluster.Acquire(ctx, key, limit)
	switch {
	case errors.Is(err, cluster.ErrLimit):
		return nil, false
	case err != nil:
		sl = s.cluster.Hold(ctx, key)
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterCallTimeout)
		defer cancel()
		s.cluster.Release(ctx, sl)
	}, true
}
