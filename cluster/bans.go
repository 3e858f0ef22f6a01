package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// Ban reasons, as the admin API shows them.
const (
	ReasonAutoban = "autoban"
	ReasonManual  = "manual"
)

// Ban is one banned prefix, as every node shares it.
type Ban struct {
	Address  netip.Prefix `json:"address"` // masked: 192.0.2.7/32, 2001:db8::/64
	Until    time.Time    `json:"until"`   // zero: no end
	Reason   string       `json:"reason"`  // ReasonAutoban or ReasonManual
	Note     string       `json:"note"`
	Failures int          `json:"failures"` // failed logins behind an autoban
	Node     string       `json:"node"`     // the node that made it
}

// score is the ban's end in ms for the sorted set, "+inf" for none.
func (b Ban) score() string {
	if b.Until.IsZero() {
		return "+inf"
	}
	return strconv.FormatInt(b.Until.UnixMilli(), 10)
}

// AddBan records b for every node and tells them (they refuse the prefix and
// close its sessions); b.Node is set to this node when empty. The caller
// applies the ban locally itself. With ErrDown the ban is kept and written
// when Redis is back.
func (c *Cluster) AddBan(ctx context.Context, b Ban) error {
	b.Address = b.Address.Masked()
	if !b.Address.IsValid() {
		return fmt.Errorf("cluster: invalid ban address")
	}
	if b.Node == "" {
		b.Node = c.opt.Node
	}
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		c.keep(b.Address, &b)
		return err
	}
	defer cancel()
	if _, err := c.writeBan(ctx, b, false); err != nil {
		err = c.failed(err)
		c.keep(b.Address, &b)
		return err
	}
	return nil
}

// RemoveBan lifts the ban of exactly p on every node; false when there was
// none in Redis. The caller lifts it locally itself. With ErrDown the lift
// is kept and written when Redis is back.
func (c *Cluster) RemoveBan(ctx context.Context, p netip.Prefix) (bool, error) {
	p = p.Masked()
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		c.keep(p, nil)
		return false, err
	}
	defer cancel()
	ok, err := c.liftBan(ctx, p)
	if err != nil {
		err = c.failed(err)
		c.keep(p, nil)
		return false, err
	}
	return ok, nil
}

// Bans lists every ban in force in the cluster, by address.
func (c *Cluster) Bans(ctx context.Context) ([]Ban, error) {
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	bans, err := c.listBans(ctx)
	if err != nil {
		return nil, c.failed(err)
	}
	return bans, nil
}

// Failure counts one failed login from key (an address, or the prefix the
// caller bans by) and returns the failures counted within window, which
// starts with the first of them.
func (c *Cluster) Failure(ctx context.Context, key string, window time.Duration) (int, error) {
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	ms := max(window.Milliseconds(), 1)
	n, err := failureScript.Run(ctx, c.rdb, []string{c.key("fail:" + key)}, ms).Int()
	if err != nil {
		return 0, c.failed(err)
	}
	return n, nil
}

// ResetFailures forgets the failures counted for key (after a ban, say).
func (c *Cluster) ResetFailures(ctx context.Context, key string) error {
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := c.rdb.Del(ctx, c.key("fail:"+key)).Err(); err != nil {
		return c.failed(err)
	}
	return nil
}

// keep records a ban change Redis could not take, for the catch-up; the
// latest change of a prefix wins.
func (c *Cluster) keep(p netip.Prefix, b *Ban) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped.Load() {
		c.pending[p] = b
	}
}

// flushPending writes the ban changes kept while Redis was unreachable.
func (c *Cluster) flushPending(ctx context.Context) error {
	c.mu.Lock()
	pending := c.pending
	c.pending = map[netip.Prefix]*Ban{}
	c.mu.Unlock()
	for p, b := range pending {
		var err error
		if b != nil {
			_, err = c.writeBan(ctx, *b, true)
		} else {
			_, err = c.liftBan(ctx, p)
		}
		if err != nil {
			c.mu.Lock()
			for p, b := range pending { // keep the rest for the next attempt
				if _, newer := c.pending[p]; !newer {
					c.pending[p] = b
				}
			}
			c.mu.Unlock()
			return err
		}
		delete(pending, p)
	}
	return nil
}

// writeBan stores b and publishes it; with merge a stored ban that ends
// later is kept (and nothing is published).
func (c *Cluster) writeBan(ctx context.Context, b Ban, merge bool) (bool, error) {
	data, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	msg, err := json.Marshal(message{Op: "ban", From: c.instance, Ban: &b})
	if err != nil {
		return false, err
	}
	m := "0"
	if merge {
		m = "1"
	}
	n, err := addBanScript.Run(ctx, c.rdb, []string{c.key("bans"), c.key("ban")},
		b.Address.String(), b.score(), data, c.key("bus"), msg, m).Int()
	return n == 1, err
}

// liftBan removes the ban of p and publishes the lift.
func (c *Cluster) liftBan(ctx context.Context, p netip.Prefix) (bool, error) {
	msg, err := json.Marshal(message{Op: "unban", From: c.instance, Address: &p})
	if err != nil {
		return false, err
	}
	n, err := removeBanScript.Run(ctx, c.rdb, []string{c.key("bans"), c.key("ban")},
		p.String(), c.key("bus"), msg).Int()
	return n == 1, err
}

// listBans returns the bans in force, by address.
func (c *Cluster) listBans(ctx context.Context) ([]Ban, error) {
	raw, err := liveScript.Run(ctx, c.rdb, []string{c.key("bans"), c.key("ban")}).StringSlice()
	if err != nil {
		return nil, err
	}
	bans := make([]Ban, 0, len(raw))
	for _, s := range raw {
		var b Ban
		if err := json.Unmarshal([]byte(s), &b); err != nil {
			c.log.Debug("stored ban not understood", "error", err.Error())
			continue
		}
		bans = append(bans, b)
	}
	sort.Slice(bans, func(i, j int) bool {
		a, b := bans[i].Address, bans[j].Address
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	return bans, nil
}
