package cluster_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/wharf-ftp/wharf/cluster"
)

// A node joins the cluster, and takes a per-user session slot at login with
// its own count as the fallback while Redis is unreachable.
func Example() {
	c, err := cluster.New(cluster.Options{
		URL:      "redis://127.0.0.1:6379/0",
		Node:     "ftp1",
		Logger:   slog.Default().With("component", "cluster"),
		Sessions: func() []cluster.Session { return nil }, // this node's sessions, from its registry
		OnBan:    func(b cluster.Ban) {},                  // refuse b.Address, close its sessions
		OnUnban:  func(p netip.Prefix) {},                 // lift it locally
		OnKick:   func(id string) {},                      // close session id with 421
		Bans:     func() []cluster.Ban { return nil },     // this node's bans, for the catch-up
	})
	if err != nil {
		return
	}
	defer c.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	localCount, maxSessions := 1, 4
	slot, err := c.Acquire(ctx, "user:alice", maxSessions)
	switch {
	case errors.Is(err, cluster.ErrLimit):
		return // 530: too many sessions
	case err != nil: // ErrDown, or another failure: decide alone
		if localCount >= maxSessions {
			return
		}
		slot = c.Hold(ctx, "user:alice") // counted across nodes once Redis is back
	}
	defer c.Release(context.Background(), slot)
}
