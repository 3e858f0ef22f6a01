package auth

import (
	"cmp"
	"container/list"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Autoban bans addresses that fail to log in too often (see BanPolicy). It
// is meant to live as long as the process (SetPolicy applies a reload) and
// is safe for concurrent use. Its memory stays bounded: failure counters
// expire with their window, and both tables are capped at
// BanPolicy.MaxEntries, dropping their oldest entries first.
//
// Addresses are grouped into one entry per client: an IPv4 address is its
// own entry, an IPv6 address belongs to the network of IPv6Group bits
// around it. IPv4-mapped IPv6 addresses count as IPv4.
type Autoban struct {
	mu     sync.Mutex
	policy BanPolicy
	exempt *PrefixSet
	now    func() time.Time
	epoch  time.Time // failure times are kept as offsets from it
	log    *slog.Logger
	onBan  func(addr netip.Addr, ban BanInfo)

	fails     map[netip.Prefix]*list.Element // of *failEntry
	failOrder *list.List                     // least recently failed first
	bans      map[netip.Prefix]*list.Element // of *banEntry
	banOrder  *list.List                     // oldest ban first
	banShapes map[banShape]int               // number of bans of each family and length
}

// failEntry holds the recent failures of one client, oldest first.
type failEntry struct {
	key   netip.Prefix
	times []time.Duration // offsets from Autoban.epoch
}

type banEntry struct {
	key      netip.Prefix
	until    time.Time
	manual   bool   // made by an operator: kept whatever the policy and exempt say
	note     string // the operator's note
	failures int    // the failed logins that started an autoban
}

// BanInfo is one ban in force, as Bans lists it.
type BanInfo struct {
	Network  netip.Prefix
	Until    time.Time
	Manual   bool
	Note     string
	Failures int
}

// banShape is a family and prefix length present in the ban table: an
// address is looked up once for each shape.
type banShape struct {
	is4  bool
	bits int
}

// NewAutoban returns an Autoban applying p. now is the clock (time.Now when
// nil); log receives a line for each ban (discarded when nil).
func NewAutoban(p BanPolicy, now func() time.Time, log *slog.Logger) *Autoban {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p = p.normalized()
	return &Autoban{
		policy:    p,
		exempt:    NewPrefixSet(p.Exempt),
		now:       now,
		epoch:     now(),
		log:       log,
		fails:     make(map[netip.Prefix]*list.Element),
		failOrder: list.New(),
		bans:      make(map[netip.Prefix]*list.Element),
		banOrder:  list.New(),
		banShapes: make(map[banShape]int),
	}
}

// SetPolicy applies a new policy (a reload), keeping the current bans and
// failure counters. Bans and counters of addresses now exempt are dropped.
// When IPv6Group changes, IPv6 counters are regrouped where they can be
// (into a coarser group) and dropped where they cannot (into a finer one);
// bans keep the network they were made for.
func (b *Autoban) SetPolicy(p BanPolicy) {
	p = p.normalized()
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.policy
	b.policy = p
	b.exempt = NewPrefixSet(p.Exempt)
	for el, next := b.banOrder.Front(), (*list.Element)(nil); el != nil; el = next {
		next = el.Next()
		if e := el.Value.(*banEntry); !e.manual && b.exempt.Contains(e.key.Addr()) {
			b.removeBan(el)
		}
	}
	if old.IPv6Group != p.IPv6Group || len(p.Exempt) > 0 {
		b.rebuildFails()
	}
	b.capBans()
	b.capFails()
}

// rebuildFails drops exempt counters and regroups IPv6 ones under the
// current policy, keeping the table ordered by last failure.
func (b *Autoban) rebuildFails() {
	merged := make(map[netip.Prefix]*failEntry, len(b.fails))
	for el := b.failOrder.Front(); el != nil; el = el.Next() {
		e := el.Value.(*failEntry)
		if b.exempt.Contains(e.key.Addr()) {
			continue
		}
		key := e.key
		if !key.Addr().Is4() && key.Bits() != b.policy.IPv6Group {
			if key.Bits() < b.policy.IPv6Group {
				continue // a coarser counter cannot be split
			}
			key = netip.PrefixFrom(key.Addr(), b.policy.IPv6Group).Masked()
		}
		if m, ok := merged[key]; ok {
			m.times = append(m.times, e.times...)
			slices.Sort(m.times)
			continue
		}
		merged[key] = &failEntry{key: key, times: e.times}
	}
	entries := make([]*failEntry, 0, len(merged))
	for _, e := range merged {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(x, y *failEntry) int {
		return cmp.Compare(x.times[len(x.times)-1], y.times[len(y.times)-1])
	})
	b.fails = make(map[netip.Prefix]*list.Element, len(entries))
	b.failOrder.Init()
	for _, e := range entries {
		b.fails[e.key] = b.failOrder.PushBack(e)
	}
}

// OnBan sets a function called (outside any lock) each time a ban starts,
// with the address whose failure started it and the ban.
func (b *Autoban) OnBan(fn func(addr netip.Addr, ban BanInfo)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onBan = fn
}

// Banned reports whether a is banned now. Only a manual ban (Ban) counts
// when the policy is disabled or a is exempt. Expired bans are dropped as
// they are met.
func (b *Autoban) Banned(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.policy.Enabled || b.exempt.Contains(a) {
		return b.bannedLocked(a, b.now(), true)
	}
	return b.bannedLocked(a, b.now(), false)
}

// Failure records one failure of a (a bad password, an unknown user, an
// idle connection before login: each weighs 1) and reports whether this
// failure started a ban. Nothing is recorded when the policy is disabled, a
// is exempt or a is already banned.
func (b *Autoban) Failure(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	b.mu.Lock()
	p := b.policy
	now := b.now()
	if !p.Enabled || b.exempt.Contains(a) || b.bannedLocked(a, now, false) {
		b.mu.Unlock()
		return false
	}
	t := now.Sub(b.epoch)
	b.expireFails(t)
	key := b.key(a)
	el, ok := b.fails[key]
	if ok {
		b.failOrder.MoveToBack(el)
	} else {
		el = b.failOrder.PushBack(&failEntry{key: key})
		b.fails[key] = el
	}
	e := el.Value.(*failEntry)
	keep := 0
	for keep < len(e.times) && t-e.times[keep] > p.Window {
		keep++
	}
	e.times = append(e.times[:0], e.times[keep:]...)
	e.times = append(e.times, t)
	if len(e.times) < p.Failures {
		b.capFails()
		b.mu.Unlock()
		return false
	}
	n := len(e.times)
	b.removeFail(el)
	until := now.Add(p.Ban)
	b.addBan(&banEntry{key: key, until: until, failures: n})
	hook, log := b.onBan, b.log
	b.mu.Unlock()

	log.Warn("address banned", "remote", a.String(), "network", key.String(), "failures", n,
		"window", p.Window.String(), "until", until.UTC().Format(time.RFC3339))
	if hook != nil {
		hook(a, BanInfo{Network: key, Until: until, Failures: n})
	}
	return true
}

// Unban lifts every ban covering a and forgets its failures. It reports
// whether a ban was lifted.
func (b *Autoban) Unban(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.fails[b.key(a)]; ok {
		b.removeFail(el)
	}
	lifted := false
	for _, k := range b.banKeys(a) {
		if el, ok := b.bans[k]; ok {
			b.removeBan(el)
			lifted = true
		}
	}
	return lifted
}

// Active returns the number of bans in force, as Bans lists them, dropping
// the expired ones.
func (b *Autoban) Active() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	n := 0
	for el, next := b.banOrder.Front(), (*list.Element)(nil); el != nil; el = next {
		next = el.Next()
		e := el.Value.(*banEntry)
		switch {
		case !now.Before(e.until):
			b.removeBan(el)
		case e.manual || (b.policy.Enabled && !b.exempt.Contains(e.key.Addr())):
			n++
		}
	}
	return n
}

// key returns the table key of a (unmapped, without zone).
func (b *Autoban) key(a netip.Addr) netip.Prefix {
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	return netip.PrefixFrom(a, b.policy.IPv6Group).Masked()
}

// banKeys returns the keys under which a ban covering a may be stored.
func (b *Autoban) banKeys(a netip.Addr) []netip.Prefix {
	keys := make([]netip.Prefix, 0, len(b.banShapes))
	for s := range b.banShapes {
		if s.is4 == a.Is4() {
			keys = append(keys, netip.PrefixFrom(a, s.bits).Masked())
		}
	}
	return keys
}

func (b *Autoban) bannedLocked(a netip.Addr, now time.Time, manualOnly bool) bool {
	for s := range b.banShapes {
		if s.is4 != a.Is4() {
			continue
		}
		el, ok := b.bans[netip.PrefixFrom(a, s.bits).Masked()]
		if !ok {
			continue
		}
		if e := el.Value.(*banEntry); now.Before(e.until) {
			if manualOnly && !e.manual {
				continue
			}
			return true
		}
		b.removeBan(el) // expired; deleting from banShapes while ranging is allowed
	}
	return false
}

// expireFails drops the counters whose last failure is older than the
// window at offset t.
func (b *Autoban) expireFails(t time.Duration) {
	for el := b.failOrder.Front(); el != nil; el = b.failOrder.Front() {
		e := el.Value.(*failEntry)
		if t-e.times[len(e.times)-1] <= b.policy.Window {
			return
		}
		b.removeFail(el)
	}
}

func (b *Autoban) capFails() {
	for b.failOrder.Len() > b.policy.MaxEntries {
		b.removeFail(b.failOrder.Front())
	}
}

func (b *Autoban) removeFail(el *list.Element) {
	b.failOrder.Remove(el)
	delete(b.fails, el.Value.(*failEntry).key)
}

// addBan adds n (or extends the ban of its network to n's end, taking its
// manual mark and note), first dropping expired bans from the front and then
// the oldest bans beyond the cap.
func (b *Autoban) addBan(n *banEntry) {
	now := b.now()
	for el := b.banOrder.Front(); el != nil && !now.Before(el.Value.(*banEntry).until); el = b.banOrder.Front() {
		b.removeBan(el)
	}
	if el, ok := b.bans[n.key]; ok {
		e := el.Value.(*banEntry)
		if e.until.Before(n.until) || n.manual {
			e.until = n.until
		}
		if n.manual {
			e.manual, e.note = true, n.note
		}
		return
	}
	b.bans[n.key] = b.banOrder.PushBack(n)
	b.banShapes[banShape{n.key.Addr().Is4(), n.key.Bits()}]++
	b.capBans()
}

// Ban bans the network p until then, by an operator's hand: the ban holds
// whatever the policy says (disabled, exempt networks) and replaces the end
// of a ban already on p. A zero until means the policy's ban duration.
func (b *Autoban) Ban(p netip.Prefix, until time.Time, note string) BanInfo {
	p = normalizePrefix(p)
	b.mu.Lock()
	if until.IsZero() {
		until = b.now().Add(b.policy.Ban)
	}
	b.addBan(&banEntry{key: p, until: until, manual: true, note: note})
	b.mu.Unlock()
	b.log.Warn("address banned", "network", p.String(), "until", until.UTC().Format(time.RFC3339),
		"reason", "manual", "note", note)
	return BanInfo{Network: p, Until: until, Manual: true, Note: note}
}

// Apply adds a ban made elsewhere (another node of a cluster) as it was made:
// an autoban counts only where the policy applies, a manual ban always. It
// reports whether the ban is new here.
func (b *Autoban) Apply(bi BanInfo) bool {
	p := normalizePrefix(bi.Network)
	b.mu.Lock()
	defer b.mu.Unlock()
	_, had := b.bans[p]
	until := bi.Until
	if until.IsZero() {
		until = b.now().AddDate(100, 0, 0) // no end
	}
	b.addBan(&banEntry{key: p, until: until, manual: bi.Manual, note: bi.Note, failures: bi.Failures})
	return !had
}

// Policy returns the policy in force.
func (b *Autoban) Policy() BanPolicy {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.policy
}

// Exempt reports whether a is exempt from autoban.
func (b *Autoban) Exempt(a netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exempt.Contains(a.Unmap())
}

// Key returns the network a's failures are counted under (its /32, or its
// IPv6 group).
func (b *Autoban) Key(a netip.Addr) netip.Prefix {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.key(a.Unmap().WithZone(""))
}

// UnbanNetwork lifts the ban of exactly the network p; it reports whether
// there was one.
func (b *Autoban) UnbanNetwork(p netip.Prefix) bool {
	p = normalizePrefix(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.bans[p]
	if ok {
		b.removeBan(el)
	}
	return ok
}

// Bans lists the bans in force, oldest first: every manual ban, and the
// autobans that apply (none when the policy is disabled, none of an exempt
// network).
func (b *Autoban) Bans() []BanInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var out []BanInfo
	for el := b.banOrder.Front(); el != nil; el = el.Next() {
		e := el.Value.(*banEntry)
		if !now.Before(e.until) {
			continue
		}
		if !e.manual && (!b.policy.Enabled || b.exempt.Contains(e.key.Addr())) {
			continue
		}
		out = append(out, BanInfo{Network: e.key, Until: e.until, Manual: e.manual, Note: e.note, Failures: e.failures})
	}
	return out
}

func (b *Autoban) capBans() {
	for b.banOrder.Len() > b.policy.MaxEntries {
		el := b.banOrder.Front()
		b.log.Debug("ban table full: dropping the oldest ban", "network", el.Value.(*banEntry).key)
		b.removeBan(el)
	}
}

func (b *Autoban) removeBan(el *list.Element) {
	e := el.Value.(*banEntry)
	b.banOrder.Remove(el)
	delete(b.bans, e.key)
	s := banShape{e.key.Addr().Is4(), e.key.Bits()}
	if b.banShapes[s]--; b.banShapes[s] <= 0 {
		delete(b.banShapes, s)
	}
}
