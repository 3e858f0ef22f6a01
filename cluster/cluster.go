// Package cluster shares state between wharf nodes through one Redis: bans
// and autoban failure counts, slot counters for per-user sessions and
// per-address connections, and a directory of every node's sessions with a
// kick that reaches the node holding the session.
//
// Redis is a help, never a dependency: while it is unreachable every call
// fails at once with ErrDown and the caller goes on with its own, local
// state. Up reports the connection's health; an outage is logged once, and
// so is the recovery, after which the cluster catches up: it writes the bans
// changed meanwhile, re-asserts this node's slots and sessions, and hands
// the caller the cluster's bans again.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Errors of the cluster's calls.
var (
	// ErrDown: Redis is unreachable; the caller goes on with its local state.
	// A ban change refused with ErrDown is kept and written when Redis is back.
	ErrDown = errors.New("cluster: redis unreachable")
	// ErrLimit: Acquire found every slot of the key taken.
	ErrLimit = errors.New("cluster: limit reached")
	// ErrClosed: the cluster was closed.
	ErrClosed = errors.New("cluster: closed")
)

// Defaults of Options.
const (
	DefaultPrefix        = "wharf:"
	DefaultTimeout       = 500 * time.Millisecond
	DefaultCheckEvery    = time.Second
	DefaultLease         = 30 * time.Second
	DefaultSessionsEvery = 2 * time.Second
)

// Options configure a Cluster. Only URL and Node are needed.
type Options struct {
	// URL names the Redis: "redis://[user:password@]host:6379/0",
	// "rediss://..." (TLS) or "unix:///path/to/redis.sock".
	URL string
	// Node is this node's name, as logs and the admin API show it.
	Node   string
	Logger *slog.Logger // nil = slog.Default()

	Prefix     string        // of every key and channel; "" = DefaultPrefix
	Timeout    time.Duration // of one call to Redis; 0 = DefaultTimeout
	CheckEvery time.Duration // how often the connection is checked; 0 = DefaultCheckEvery
	// Lease is how long a slot outlives its node's last renewal (renewals
	// come every third of it): a node that dies without releasing its slots
	// holds them this long. 0 = DefaultLease.
	Lease time.Duration
	// SessionsEvery is how often this node's sessions are written to the
	// directory; an entry lives three times as long. 0 = DefaultSessionsEvery.
	SessionsEvery time.Duration

	// Sessions returns this node's open sessions, for the directory; nil =
	// none. It is called from the cluster's own goroutine.
	Sessions func() []Session
	// Bans returns this node's bans. On the first connection, and whenever
	// Redis comes back without its data, they are written to it (a ban
	// already there that ends later is kept). nil = none.
	Bans func() []Ban

	// OnBan is called for a ban made by another node, and after each
	// catch-up for every ban in force unless OnSync is set. It must be
	// idempotent: refuse the prefix, close its sessions.
	OnBan func(Ban)
	// OnUnban is called when another node lifts a ban.
	OnUnban func(netip.Prefix)
	// OnSync, if set, is called after each catch-up with every ban in force
	// in the cluster: a ban this node holds and the list lacks was lifted
	// while this node could not hear of it.
	OnSync func([]Ban)
	// OnKick is called when another node asks to close one of this node's
	// sessions (see Kick).
	OnKick func(id string)
}

// Cluster is one node's connection to the shared state. Its methods may be
// called concurrently.
type Cluster struct {
	opt      Options
	log      *slog.Logger
	rdb      *redis.Client
	instance string // this process: the node's name and a random suffix

	up      atomic.Bool
	stopped atomic.Bool
	checks  atomic.Int64 // connection checks made
	stop    chan struct{}
	done    sync.WaitGroup

	mu      sync.Mutex
	slots   map[string]map[string]struct{} // key → tokens this instance holds
	pending map[netip.Prefix]*Ban          // ban changes made while down; nil value = a lift
	epoch   string                         // the Redis data set last caught up with
	ps      *redis.PubSub
	downAt  time.Time // when the outage began; zero while up
	warned  bool      // an outage has been logged and not yet its end
	renewed time.Time // last renewal of the slots
	// While a renewal runs, the slots released meanwhile, to remove again
	// after it.
	renewing bool
	released []Slot
	pubbed   time.Time // last write of the sessions
}

var redisLogger sync.Once

// New connects to Redis (a first check bounded by Timeout: an unreachable
// Redis is not an error, the node runs alone until it answers) and starts
// the background work: the connection check, the renewal of slots, the
// session directory, and the listening for other nodes' bans and kicks.
func New(opt Options) (*Cluster, error) {
	if opt.Node == "" {
		return nil, errors.New("cluster: a node name is needed")
	}
	o, err := redis.ParseURL(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("cluster: bad redis URL: %w", err)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Prefix == "" {
		opt.Prefix = DefaultPrefix
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.CheckEvery <= 0 {
		opt.CheckEvery = DefaultCheckEvery
	}
	if opt.Lease <= 0 {
		opt.Lease = DefaultLease
	}
	if opt.SessionsEvery <= 0 {
		opt.SessionsEvery = DefaultSessionsEvery
	}
	// Fail fast: one attempt, short deadlines, no waiting for a connection.
	o.DialTimeout = opt.Timeout
	o.ReadTimeout = opt.Timeout
	o.WriteTimeout = opt.Timeout
	o.PoolTimeout = opt.Timeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries = -1
	o.DialerRetries = 1
	o.DisableIdentity = true
	o.ClientName = "wharf:" + opt.Node
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	redisLogger.Do(func() { redis.SetLogger(debugLogger{opt.Logger}) })

	c := &Cluster{
		opt:      opt,
		log:      opt.Logger,
		rdb:      redis.NewClient(o),
		instance: opt.Node + "/" + randomHex(4),
		stop:     make(chan struct{}),
		slots:    map[string]map[string]struct{}{},
		pending:  map[netip.Prefix]*Ban{},
	}
	c.check()
	c.done.Add(1)
	go c.loop()
	return c, nil
}

// debugLogger passes the Redis library's own messages to the log at debug:
// the cluster logs outages itself, once.
type debugLogger struct{ log *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.log.Debug("redis: " + strings.TrimSpace(fmt.Sprintf(format, v...)))
}

// Up reports whether Redis answers (the value of wharf_cluster_up).
func (c *Cluster) Up() bool { return c.up.Load() && !c.stopped.Load() }

// Node returns this node's name.
func (c *Cluster) Node() string { return c.opt.Node }

// Close stops the background work, releases this instance's slots and
// removes its sessions from the directory (within ctx), and disconnects.
func (c *Cluster) Close(ctx context.Context) error {
	if c.stopped.Swap(true) {
		return nil
	}
	close(c.stop)
	c.done.Wait()
	c.mu.Lock()
	ps := c.ps
	c.ps = nil
	slots := c.slots
	c.slots = map[string]map[string]struct{}{}
	c.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
	if c.up.Load() {
		ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
		pipe := c.rdb.Pipeline()
		for key, tokens := range slots {
			for tok := range tokens {
				pipe.ZRem(ctx, c.key("slots:"+key), tok)
			}
		}
		pipe.HDel(ctx, c.key("sessions"), c.instance)
		pipe.ZRem(ctx, c.key("instances"), c.instance)
		_, _ = pipe.Exec(ctx)
		cancel()
	}
	c.up.Store(false)
	return c.rdb.Close()
}

// key returns the namespaced Redis key of name.
func (c *Cluster) key(name string) string { return c.opt.Prefix + name }

// call returns a context bounded by the call timeout, or ErrDown/ErrClosed
// when no call should be made.
func (c *Cluster) call(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if c.stopped.Load() {
		return nil, nil, ErrClosed
	}
	if !c.up.Load() {
		return nil, nil, ErrDown
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	return ctx, cancel, nil
}

// failed turns a call's error into the caller's: an unreachable Redis marks
// the cluster down (logged once) and is ErrDown.
func (c *Cluster) failed(err error) error {
	if _, ok := errors.AsType[redis.Error](err); ok {
		return fmt.Errorf("cluster: %w", err) // Redis answered: not an outage
	}
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up: not an outage either
	}
	c.markDown(err)
	return fmt.Errorf("%w: %v", ErrDown, err)
}

// markDown records an outage, and logs it once.
func (c *Cluster) markDown(err error) {
	c.up.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.downAt.IsZero() {
		c.downAt = time.Now()
	}
	if c.ps != nil {
		_ = c.ps.Close()
		c.ps = nil
	}
	if !c.warned && !c.stopped.Load() {
		c.warned = true
		c.log.Warn("redis unreachable: this node goes on with its own state", "node", c.opt.Node, "error", err.Error())
	}
}

// loop checks the connection, renews the slots and writes the sessions.
func (c *Cluster) loop() {
	defer c.done.Done()
	t := time.NewTicker(c.opt.CheckEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.check()
		}
	}
}

// check pings Redis; it catches up after an outage, and otherwise renews
// the slots and writes the sessions when they are due.
func (c *Cluster) check() {
	defer c.checks.Add(1)
	// Reading the epoch is the ping: it also tells a Redis that restarted
	// (or was flushed) between two checks, without its data.
	ctx, cancel := context.WithTimeout(context.Background(), c.opt.Timeout)
	epoch, err := c.rdb.Get(ctx, c.key("epoch")).Result()
	cancel()
	if err != nil && !errors.Is(err, redis.Nil) {
		c.markDown(err)
		return
	}
	c.mu.Lock()
	lost := c.up.Load() && epoch != c.epoch
	c.mu.Unlock()
	if lost {
		c.log.Warn("redis lost its data: writing this node's state again", "node", c.opt.Node)
		if err := c.catchUp(); err != nil {
			c.markDown(err)
		}
		return
	}
	if !c.up.Load() {
		if err := c.catchUp(); err != nil {
			c.markDown(err)
			return
		}
		c.mu.Lock()
		downFor := time.Duration(0)
		if !c.downAt.IsZero() {
			downFor = time.Since(c.downAt)
		}
		warned := c.warned
		c.downAt, c.warned = time.Time{}, false
		c.mu.Unlock()
		c.up.Store(true)
		if warned {
			c.log.Info("redis reachable again: state caught up", "node", c.opt.Node, "down_for", downFor.Round(time.Millisecond).String())
		} else {
			c.log.Debug("redis connected", "node", c.opt.Node)
		}
		return
	}
	now := time.Now()
	c.mu.Lock()
	renew := now.Sub(c.renewed) >= c.opt.Lease/3
	publish := now.Sub(c.pubbed) >= c.opt.SessionsEvery
	flush := len(c.pending) > 0 // changes kept during the last catch-up
	c.mu.Unlock()
	if flush {
		ctx, cancel := context.WithTimeout(context.Background(), c.opt.Timeout)
		err := c.flushPending(ctx)
		cancel()
		if err != nil {
			c.markDown(err)
			return
		}
	}
	if renew {
		if err := c.renewSlots(); err != nil {
			c.markDown(err)
			return
		}
	}
	if publish {
		if err := c.publishSessions(); err != nil {
			c.markDown(err)
		}
	}
}

// catchUp runs when Redis answers after an outage (or for the first time):
// it listens to the other nodes again, writes what changed here meanwhile
// (everything when Redis lost its data), and hands the caller the
// cluster's bans.
func (c *Cluster) catchUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*c.opt.Timeout)
	defer cancel()

	// Listen first, so that nothing published after the list below is missed.
	ps := c.rdb.Subscribe(ctx, c.key("bus"))
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return err
	}

	// The epoch names Redis's data set: a new one means Redis lost its data
	// (or this node never wrote to it), and all of this node's state is
	// written again.
	epoch := randomHex(8)
	if err := c.rdb.SetNX(ctx, c.key("epoch"), epoch, 0).Err(); err != nil {
		_ = ps.Close()
		return err
	}
	current, err := c.rdb.Get(ctx, c.key("epoch")).Result()
	if err != nil {
		_ = ps.Close()
		return err
	}
	c.mu.Lock()
	fresh := current != c.epoch
	c.mu.Unlock()
	restore := func() error {
		if fresh && c.opt.Bans != nil {
			for _, b := range c.opt.Bans() {
				if b.Node == "" {
					b.Node = c.opt.Node
				}
				if _, err := c.writeBan(ctx, b, true); err != nil {
					return err
				}
			}
		}
		if err := c.flushPending(ctx); err != nil {
			return err
		}
		if err := c.renewSlots(); err != nil {
			return err
		}
		return c.publishSessions()
	}
	if err := restore(); err != nil {
		_ = ps.Close()
		return err
	}
	bans, err := c.listBans(ctx)
	if err != nil {
		_ = ps.Close()
		return err
	}

	c.mu.Lock()
	c.epoch = current
	if c.ps != nil {
		_ = c.ps.Close()
	}
	c.ps = ps
	c.mu.Unlock()
	c.done.Add(1)
	go c.listen(ps)

	if c.opt.OnSync != nil {
		c.opt.OnSync(bans)
	} else if c.opt.OnBan != nil {
		for _, b := range bans {
			c.opt.OnBan(b)
		}
	}
	return nil
}

// message is what nodes tell each other on the bus channel.
type message struct {
	Op      string        `json:"op"`   // "ban", "unban", "kick"
	From    string        `json:"from"` // the sending instance
	Ban     *Ban          `json:"ban,omitempty"`
	Address *netip.Prefix `json:"address,omitempty"`
	To      string        `json:"to,omitempty"` // kick: the instance holding the session
	ID      string        `json:"id,omitempty"` // kick: the session
}

// listen hands other nodes' messages to the callbacks until ps is closed.
func (c *Cluster) listen(ps *redis.PubSub) {
	defer c.done.Done()
	ch := ps.Channel()
	for {
		select {
		case <-c.stop:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			c.handle(m.Payload)
		}
	}
}

func (c *Cluster) handle(payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		c.log.Debug("cluster message not understood", "error", err.Error())
		return
	}
	if m.From == c.instance {
		return
	}
	switch m.Op {
	case "ban":
		if m.Ban != nil && c.opt.OnBan != nil {
			c.opt.OnBan(*m.Ban)
		}
	case "unban":
		if m.Address != nil && c.opt.OnUnban != nil {
			c.opt.OnUnban(*m.Address)
		}
	case "kick":
		if m.To == c.instance && c.opt.OnKick != nil {
			c.opt.OnKick(m.ID)
		}
	}
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
