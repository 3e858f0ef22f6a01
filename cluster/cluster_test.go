package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/cluster/clustertest"
	"github.com/wharf-ftp/wharf/internal/testkit"
)

// node is one cluster member under test, with what its callbacks saw.
type node struct {
	*Cluster
	bans    chan Ban
	unbans  chan netip.Prefix
	kicks   chan string
	syncs   chan []Ban
	logs    *testkit.Buffer
	mu      sync.Mutex
	own     []Session
	ownBans []Ban
}

// startNode connects a node named name to url, with short periods so tests
// run fast; tweak adjusts the options.
func startNode(t *testing.T, url, name string, tweak func(*Options, *node)) *node {
	t.Helper()
	n := &node{
		bans:   make(chan Ban, 100),
		unbans: make(chan netip.Prefix, 100),
		kicks:  make(chan string, 100),
		syncs:  make(chan []Ban, 100),
		logs:   &testkit.Buffer{},
	}
	opt := Options{
		URL:           url,
		Node:          name,
		Logger:        slog.New(slog.NewTextHandler(n.logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Timeout:       2 * time.Second, // generous: -race on a busy machine
		CheckEvery:    100 * time.Millisecond,
		Lease:         2 * time.Second,
		SessionsEvery: 100 * time.Millisecond,
		Sessions: func() []Session {
			n.mu.Lock()
			defer n.mu.Unlock()
			return append([]Session(nil), n.own...)
		},
		Bans: func() []Ban {
			n.mu.Lock()
			defer n.mu.Unlock()
			return append([]Ban(nil), n.ownBans...)
		},
		OnBan:   func(b Ban) { n.bans <- b },
		OnUnban: func(p netip.Prefix) { n.unbans <- p },
		OnKick:  func(id string) { n.kicks <- id },
	}
	if tweak != nil {
		tweak(&opt, n)
	}
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	n.Cluster = c
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return n
}

// eventually polls cond until it holds, failing after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 15*time.Second, what, cond)
}

// receive returns the next value of ch, failing after a deadline.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

var ctx = context.Background()

func TestBansAcrossNodes(t *testing.T) {
	r := clustertest.Start(t)
	a := startNode(t, r.URL(), "a", nil)
	b := startNode(t, r.URL(), "b", nil)
	if !a.Up() || !b.Up() {
		t.Fatal("not up after New")
	}

	p := netip.MustParsePrefix("192.0.2.7/32")
	ban := Ban{Address: p, Until: time.Now().Add(time.Hour).Truncate(time.Millisecond), Reason: ReasonManual, Note: "scanner"}
	start := time.Now()
	if err := a.AddBan(ctx, ban); err != nil {
		t.Fatal(err)
	}
	got := receive(t, b.bans, "node b to hear of the ban")
	if d := time.Since(start); d > time.Second {
		t.Errorf("the ban reached node b after %v", d)
	}
	if got.Address != p || got.Node != "a" || got.Note != "scanner" || !got.Until.Equal(ban.Until) {
		t.Errorf("node b got %+v", got)
	}
	select {
	case own := <-a.bans:
		t.Errorf("node a heard its own ban: %+v", own)
	default:
	}
	// A permanent ban and one about to end.
	forever := netip.MustParsePrefix("2001:db8::/64")
	if err := b.AddBan(ctx, Ban{Address: netip.MustParsePrefix("2001:db8::1/64"), Reason: ReasonAutoban, Failures: 5}); err != nil {
		t.Fatal(err)
	}
	short := netip.MustParsePrefix("198.51.100.0/24")
	if err := a.AddBan(ctx, Ban{Address: short, Until: time.Now().Add(1500 * time.Millisecond), Reason: ReasonManual}); err != nil {
		t.Fatal(err)
	}
	list, err := b.Bans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Address != p || list[1].Address != short || list[2].Address != forever || !list[2].Until.IsZero() || list[2].Failures != 5 {
		t.Fatalf("Bans = %+v", list)
	}
	// A catch-up merges: a ban that ends later is kept, a permanent one
	// above all.
	for _, until := range []time.Time{{}, time.Now().Add(time.Minute)} {
		wrote, err := a.writeBan(ctx, Ban{Address: forever, Until: until, Reason: ReasonManual}, true)
		if err != nil || wrote {
			t.Errorf("merge over a permanent ban (until %v): wrote %v, %v", until, wrote, err)
		}
	}
	if wrote, err := a.writeBan(ctx, Ban{Address: p, Reason: ReasonManual}, true); err != nil || !wrote {
		t.Errorf("merge of a permanent ban over a finite one: wrote %v, %v", wrote, err)
	}
	if got := receive(t, b.bans, "the short ban"); got.Address != short {
		t.Errorf("node b heard %+v", got)
	}
	if got := receive(t, b.bans, "the merged ban"); got.Address != p || !got.Until.IsZero() {
		t.Errorf("merged ban: %+v", got)
	}
	eventually(t, "the short ban to end", func() bool {
		list, err := a.Bans(ctx)
		return err == nil && len(list) == 2
	})

	ok, err := b.RemoveBan(ctx, p)
	if err != nil || !ok {
		t.Fatalf("RemoveBan = %v, %v", ok, err)
	}
	if got := receive(t, a.unbans, "node a to hear of the lift"); got != p {
		t.Errorf("node a lifted %v", got)
	}
	if ok, err := b.RemoveBan(ctx, p); err != nil || ok {
		t.Errorf("second RemoveBan = %v, %v", ok, err)
	}
}

func TestFailures(t *testing.T) {
	r := clustertest.Start(t)
	a := startNode(t, r.URL(), "a", nil)
	b := startNode(t, r.URL(), "b", nil)
	const addr = "203.0.113.9"
	for i, n := range []*node{a, b, a, b} {
		got, err := n.Failure(ctx, addr, 1500*time.Millisecond)
		if err != nil || got != i+1 {
			t.Fatalf("failure %d: %d, %v", i+1, got, err)
		}
	}
	eventually(t, "the window to end", func() bool { return windowOver(t, a, addr) })
	if n, err := b.Failure(ctx, addr, time.Minute); err != nil || n != 1 {
		t.Fatalf("after the window: %d, %v", n, err)
	}
	if err := a.ResetFailures(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Failure(ctx, addr, time.Minute); n != 1 {
		t.Errorf("after a reset: %d", n)
	}
}

// windowOver reports whether addr's failure key has expired.
func windowOver(t *testing.T, n *node, addr string) bool {
	t.Helper()
	left, err := n.rdb.Exists(ctx, n.key("fail:"+addr)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return left == 0
}

func TestSlotsNeverExceedALimit(t *testing.T) {
	r := clustertest.Start(t)
	a := startNode(t, r.URL(), "a", nil)
	b := startNode(t, r.URL(), "b", nil)
	const limit = 5
	type holding struct {
		n *node
		s Slot
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		held  []holding
		fails atomic.Int32
	)
	for i := range 60 {
		n := a
		if i%2 == 1 {
			n = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := n.Acquire(ctx, "user:alice", limit)
			switch {
			case errors.Is(err, ErrLimit):
				fails.Add(1)
			case err != nil:
				t.Error(err)
			default:
				mu.Lock()
				held = append(held, holding{n, s})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(held) != limit || fails.Load() != 60-limit {
		t.Fatalf("%d acquired, %d refused; want %d and %d", len(held), fails.Load(), limit, 60-limit)
	}
	if n, err := a.Count(ctx, "user:alice"); err != nil || n != limit {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if a.Held()+b.Held() != limit {
		t.Errorf("held %d + %d", a.Held(), b.Held())
	}
	for _, h := range held {
		h.n.Release(ctx, h.s)
	}
	if n, err := b.Count(ctx, "user:alice"); err != nil || n != 0 {
		t.Fatalf("Count after release = %d, %v", n, err)
	}
	if s, err := a.Acquire(ctx, "addr:192.0.2.1", 0); err != nil || s.Token == "" {
		t.Errorf("no limit: %v, %v", s, err)
	}
}

func TestLeasesOutliveTheirRenewalsOnly(t *testing.T) {
	r := clustertest.Start(t)
	lease := func(o *Options, _ *node) { o.Lease = 1500 * time.Millisecond }
	a := startNode(t, r.URL(), "a", lease)
	b := startNode(t, r.URL(), "b", lease)
	const key = "user:bob"
	if _, err := a.Acquire(ctx, key, 2); err != nil {
		t.Fatal(err)
	}
	// A live node keeps its slot well past the lease.
	bs, err := b.Acquire(ctx, key, 2)
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(3500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if n, err := b.Count(ctx, key); err != nil || n != 2 {
			t.Fatalf("a renewed slot lapsed: %d, %v", n, err)
		}
	}
	if _, err := b.Acquire(ctx, key, 2); !errors.Is(err, ErrLimit) {
		t.Fatalf("third slot: %v, want ErrLimit", err)
	}
	// Node a dies without releasing: its slot lapses with the lease.
	died := time.Now()
	a.crash()
	var s Slot
	eventually(t, "node a's slot to lapse", func() bool {
		s, err = b.Acquire(ctx, key, 2)
		return err == nil
	})
	if d := time.Since(died); d > 5*time.Second {
		t.Errorf("the slot lapsed after %v, lease 1.5s", d)
	}
	b.Release(ctx, s)
	b.Release(ctx, bs)
}

// crash stops c as a dying process would: nothing released, nothing removed.
func (c *Cluster) crash() {
	c.stopped.Store(true)
	close(c.stop)
	c.done.Wait()
	c.mu.Lock()
	if c.ps != nil {
		_ = c.ps.Close()
	}
	c.mu.Unlock()
	_ = c.rdb.Close()
}

func TestSessionsAndKick(t *testing.T) {
	r := clustertest.Start(t)
	a := startNode(t, r.URL(), "a", nil)
	b := startNode(t, r.URL(), "b", nil)
	size := int64(1000)
	a.mu.Lock()
	a.own = []Session{{ID: "a-1", User: "alice", Remote: "192.0.2.1", Listener: "0.0.0.0:21", ConnectedAt: time.Now().UTC(),
		Transfer: &Transfer{Direction: "download", Path: "/f", Bytes: 10, Size: &size}}}
	a.mu.Unlock()
	b.mu.Lock()
	b.own = []Session{{ID: "b-1", User: "bob", Remote: "192.0.2.2"}}
	b.mu.Unlock()

	var list []Session
	eventually(t, "node b to list node a's session", func() bool {
		var err error
		list, err = b.List(ctx)
		return err == nil && len(list) == 2
	})
	if list[0].ID != "b-1" || list[0].Node != "b" || list[1].ID != "a-1" || list[1].Node != "a" ||
		list[1].Transfer == nil || *list[1].Transfer.Size != 1000 {
		t.Fatalf("List = %+v", list)
	}

	ok, err := b.Kick(ctx, "a-1")
	if err != nil || !ok {
		t.Fatalf("Kick = %v, %v", ok, err)
	}
	if id := receive(t, a.kicks, "node a to be asked to kick"); id != "a-1" {
		t.Errorf("kicked %q", id)
	}
	if ok, err := b.Kick(ctx, "b-1"); err != nil || ok {
		t.Errorf("Kick of an own session = %v, %v (the caller kicks those)", ok, err)
	}
	if ok, err := b.Kick(ctx, "nope"); err != nil || ok {
		t.Errorf("Kick of an unknown session = %v, %v", ok, err)
	}

	// A node that stops leaves the directory at once.
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err := b.List(ctx); err != nil || len(list) != 1 {
		t.Errorf("after node a closed: %+v, %v", list, err)
	}
	if _, err := a.Acquire(ctx, "k", 1); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestOutageAndCatchUp(t *testing.T) {
	r := clustertest.Start(t)
	a := startNode(t, r.URL(), "a", nil)
	b := startNode(t, r.URL(), "b", func(o *Options, n *node) {
		o.OnSync = func(bans []Ban) { n.syncs <- bans }
	})
	if got := receive(t, b.syncs, "node b's first sync"); len(got) != 0 {
		t.Fatalf("first sync: %+v", got)
	}

	// State before the outage: a ban a holds locally (from its state file),
	// a slot, a session.
	old := Ban{Address: netip.MustParsePrefix("192.0.2.50/32"), Until: time.Now().Add(time.Hour), Reason: ReasonAutoban, Failures: 5}
	a.mu.Lock()
	a.ownBans = []Ban{old}
	a.own = []Session{{ID: "a-1", User: "alice", Remote: "192.0.2.1"}}
	a.mu.Unlock()
	if err := a.AddBan(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(ctx, "user:alice", 3); err != nil {
		t.Fatal(err)
	}

	r.Stop()
	eventually(t, "both nodes to see the outage", func() bool { return !a.Up() && !b.Up() })
	start := time.Now()
	if _, err := a.Acquire(ctx, "user:alice", 3); !errors.Is(err, ErrDown) {
		t.Fatalf("Acquire while down: %v, want ErrDown", err)
	}
	if _, err := b.Bans(ctx); !errors.Is(err, ErrDown) {
		t.Fatalf("Bans while down: %v", err)
	}
	if _, err := a.Failure(ctx, "x", time.Minute); !errors.Is(err, ErrDown) {
		t.Fatalf("Failure while down: %v", err)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("calls while down took %v, want at once", d)
	}
	if list, err := a.List(ctx); !errors.Is(err, ErrDown) || len(list) != 1 || list[0].ID != "a-1" {
		t.Errorf("List while down: %+v, %v (want own sessions and ErrDown)", list, err)
	}
	// Changes while down: a new ban, a lifted one, a slot taken on local count.
	made := Ban{Address: netip.MustParsePrefix("192.0.2.60/32"), Until: time.Now().Add(time.Hour), Reason: ReasonManual}
	if err := a.AddBan(ctx, made); !errors.Is(err, ErrDown) {
		t.Fatalf("AddBan while down: %v", err)
	}
	a.mu.Lock()
	a.ownBans = append(a.ownBans, made)
	a.mu.Unlock()
	a.Hold(ctx, "user:alice")

	r.Restart() // empty: Redis lost everything
	eventually(t, "both nodes to see Redis back", func() bool { return a.Up() && b.Up() })

	bans, err := b.Bans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bans) != 2 || bans[0].Address != old.Address || bans[1].Address != made.Address {
		t.Fatalf("bans after the catch-up: %+v", bans)
	}
	eventually(t, "node a's slots back in Redis", func() bool {
		n, err := b.Count(ctx, "user:alice")
		return err == nil && n == 2
	})
	eventually(t, "node a's session back in the directory", func() bool {
		list, err := b.List(ctx)
		return err == nil && len(list) == 1 && list[0].ID == "a-1"
	})
	// Node b heard of a's bans: by pub/sub or its own catch-up's sync.
	heard := map[netip.Prefix]bool{}
	eventually(t, "node b to hear of both bans", func() bool {
		for {
			select {
			case bn := <-b.bans:
				heard[bn.Address] = true
				continue
			case list := <-b.syncs:
				for _, bn := range list {
					heard[bn.Address] = true
				}
				continue
			default:
			}
			break
		}
		return heard[old.Address] && heard[made.Address]
	})

	// One line for the outage, one for the recovery, nothing per call.
	logs := a.logs.String()
	if n := strings.Count(logs, "redis unreachable"); n != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "redis reachable again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, logs)
	}
	if n := strings.Count(logs, "\n"); n != 2 {
		t.Errorf("%d log lines, want 2:\n%s", n, logs)
	}
}

func TestRedisLosesItsData(t *testing.T) {
	r := clustertest.Start(t)
	a := startNode(t, r.URL(), "a", nil)
	b := startNode(t, r.URL(), "b", nil)
	ban := Ban{Address: netip.MustParsePrefix("192.0.2.70/32"), Reason: ReasonManual}
	a.mu.Lock()
	a.ownBans = []Ban{ban}
	a.own = []Session{{ID: "a-1"}}
	a.mu.Unlock()
	if err := a.AddBan(ctx, ban); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(ctx, "user:alice", 1); err != nil {
		t.Fatal(err)
	}
	if err := a.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node a's state written again", func() bool {
		bans, err := b.Bans(ctx)
		n, err2 := b.Count(ctx, "user:alice")
		list, err3 := b.List(ctx)
		return err == nil && err2 == nil && err3 == nil && len(bans) == 1 && bans[0].Address == ban.Address && n == 1 && len(list) == 1
	})
	if !a.Up() || !b.Up() {
		t.Error("a flushed Redis is not an outage")
	}
	if n := strings.Count(a.logs.String(), "redis lost its data"); n != 1 {
		t.Errorf("%d lines for the lost data, want 1:\n%s", n, a.logs.String())
	}
}

func TestUnreachableAtStart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, "unix://"+filepath.Join(dir, "none.sock"), "a", nil)
	if n.Up() {
		t.Fatal("up without a Redis")
	}
	start := time.Now()
	if _, err := n.Acquire(ctx, "k", 1); !errors.Is(err, ErrDown) {
		t.Fatalf("Acquire: %v", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("Acquire took %v", d)
	}
	// Several checks later: still one line.
	from := n.checks.Load()
	eventually(t, "five more checks", func() bool { return n.checks.Load() >= from+5 })
	if got := n.logs.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "level=WARN") {
		t.Errorf("logs:\n%s", got)
	}
	if _, err := New(Options{URL: "http://x", Node: "a"}); err == nil {
		t.Error("New with a bad URL: want an error")
	}
	if _, err := New(Options{URL: "redis://127.0.0.1:1/0"}); err == nil {
		t.Error("New without a node name: want an error")
	}
}
