package cluster

import (
	"context"
	"time"
)

// Slot is one held place under a limit: a session of a user, a connection
// from an address. The zero Slot holds nothing.
type Slot struct {
	Key   string // e.g. "user:alice", "addr:192.0.2.7"
	Token string
}

// Acquire takes one of limit slots of key for this node (limit 0: no limit,
// just counted). Two nodes racing never exceed limit. The slot is held until
// Release, renewed in the background; if this node dies it lapses after the
// lease. ErrLimit when every slot is taken; ErrDown when Redis is
// unreachable: the caller decides with its own count, and may Hold.
func (c *Cluster) Acquire(ctx context.Context, key string, limit int) (Slot, error) {
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return Slot{}, err
	}
	defer cancel()
	s := Slot{Key: key, Token: c.instance + "/" + randomHex(6)}
	n, err := acquireScript.Run(ctx, c.rdb, []string{c.key("slots:" + key)},
		limit, c.opt.Lease.Milliseconds(), s.Token).Int()
	if err != nil {
		return Slot{}, c.failed(err)
	}
	if n == 0 {
		return Slot{}, ErrLimit
	}
	c.hold(s)
	return s, nil
}

// Hold takes a slot of key without a limit: for a session the caller let in
// on its own count while Redis was unreachable, so that it counts across
// nodes once Redis is back. Written now if Redis answers, else at the
// catch-up.
func (c *Cluster) Hold(ctx context.Context, key string) Slot {
	s := Slot{Key: key, Token: c.instance + "/" + randomHex(6)}
	c.hold(s)
	if ctx, cancel, err := c.call(ctx); err == nil {
		defer cancel()
		if err := renewScript.Run(ctx, c.rdb, []string{c.key("slots:" + key)},
			c.opt.Lease.Milliseconds(), s.Token).Err(); err != nil {
			_ = c.failed(err)
		}
	}
	return s
}

func (c *Cluster) hold(s Slot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tokens := c.slots[s.Key]
	if tokens == nil {
		tokens = map[string]struct{}{}
		c.slots[s.Key] = tokens
	}
	tokens[s.Token] = struct{}{}
}

// Release gives s back. Without Redis the slot lapses with its lease.
func (c *Cluster) Release(ctx context.Context, s Slot) {
	if s.Token == "" {
		return
	}
	c.mu.Lock()
	if tokens := c.slots[s.Key]; tokens != nil {
		delete(tokens, s.Token)
		if len(tokens) == 0 {
			delete(c.slots, s.Key)
		}
	}
	if c.renewing {
		// A renewal in flight may write the slot back: remove it after.
		c.released = append(c.released, s)
	}
	c.mu.Unlock()
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return
	}
	defer cancel()
	if err := c.rdb.ZRem(ctx, c.key("slots:"+s.Key), s.Token).Err(); err != nil {
		_ = c.failed(err)
	}
}

// Count returns how many slots of key are held across the cluster.
func (c *Cluster) Count(ctx context.Context, key string) (int, error) {
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return 0, err
	}
	defer cancel()
	n, err := countScript.Run(ctx, c.rdb, []string{c.key("slots:" + key)}).Int()
	if err != nil {
		return 0, c.failed(err)
	}
	return n, nil
}

// Held returns how many slots this instance holds, of every key.
func (c *Cluster) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, tokens := range c.slots {
		n += len(tokens)
	}
	return n
}

// renewSlots extends the lease of every slot this instance holds (adding
// back any that lapsed), one script per key in one round trip.
func (c *Cluster) renewSlots() error {
	c.mu.Lock()
	c.renewing = true
	batch := make(map[string][]any, len(c.slots))
	for key, tokens := range c.slots {
		args := make([]any, 0, len(tokens)+1)
		args = append(args, c.opt.Lease.Milliseconds())
		for tok := range tokens {
			args = append(args, tok)
		}
		batch[key] = args
	}
	c.mu.Unlock()
	err := c.renewBatch(batch)
	c.mu.Lock()
	released := c.released
	c.renewing, c.released = false, nil
	if err == nil {
		c.renewed = time.Now()
	}
	c.mu.Unlock()
	if err == nil && len(released) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), c.opt.Timeout)
		defer cancel()
		pipe := c.rdb.Pipeline()
		for _, s := range released {
			pipe.ZRem(ctx, c.key("slots:"+s.Key), s.Token)
		}
		_, err = pipe.Exec(ctx)
	}
	return err
}

// renewBatch runs the renewal script for every key of batch.
func (c *Cluster) renewBatch(batch map[string][]any) error {
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*c.opt.Timeout)
	defer cancel()
	// The script is loaded first so that the pipeline can use EVALSHA.
	if err := renewScript.Load(ctx, c.rdb).Err(); err != nil {
		return err
	}
	pipe := c.rdb.Pipeline()
	for key, args := range batch {
		renewScript.EvalSha(ctx, pipe, []string{c.key("slots:" + key)}, args...)
	}
	_, err := pipe.Exec(ctx)
	return err
}
