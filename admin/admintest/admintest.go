// Package admintest is an in-memory admin.Backend for tests and
// demonstrations of the admin API, the status page and `wharf ctl`.
package admintest

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/wharf-ftp/wharf/admin"
)

// Backend is an admin.Backend holding its state in memory. Its fields may be
// set before use; afterwards use its methods, which lock.
type Backend struct {
	mu           sync.Mutex
	status       admin.Status
	sessions     []admin.Session
	bans         []admin.Ban
	users        []admin.User
	reloadErrors []string // a reload is rejected with these while set
	upgradeErr   error
	subs         map[chan admin.Event]struct{}
	now          func() time.Time

	// DefaultBan is the duration of a ban made without one.
	DefaultBan time.Duration
}

var _ admin.Backend = (*Backend)(nil)

// New returns an empty Backend: one node "test", no sessions, no bans.
func New() *Backend {
	t := time.Now().UTC().Truncate(time.Second)
	return &Backend{
		status:     admin.Status{Version: "test", Node: "test", PID: 1, StartedAt: t, ConfigLoadedAt: t, ConfigOK: true},
		subs:       map[chan admin.Event]struct{}{},
		now:        time.Now,
		DefaultBan: time.Hour,
		upgradeErr: admin.ErrNotImplemented,
	}
}

// AddSession adds a session.
func (b *Backend) AddSession(s admin.Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions = append(b.sessions, s)
}

// SetTransfer sets (nil: ends) a session's transfer.
func (b *Backend) SetTransfer(id string, t *admin.Transfer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.sessions {
		if b.sessions[i].ID == id {
			b.sessions[i].Transfer = t
		}
	}
}

// Advance moves a session's transfer by n bytes at rate bytes per second.
func (b *Backend) Advance(id string, n, rate int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.sessions {
		if t := b.sessions[i].Transfer; b.sessions[i].ID == id && t != nil {
			c := *t
			c.Bytes += n
			if c.Size >= 0 && c.Bytes > int64(c.Size) {
				c.Bytes = int64(c.Size)
			}
			c.BytesPerSecond = rate
			b.sessions[i].Transfer = &c
		}
	}
}

// AddBan adds a ban as autoban would.
func (b *Backend) AddBan(ban admin.Ban) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bans = append(b.bans, ban)
}

// SetUsers sets the user list.
func (b *Backend) SetUsers(us []admin.User) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.users = us
}

// SetStatus changes the status with fn.
func (b *Backend) SetStatus(fn func(*admin.Status)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fn(&b.status)
}

// RejectReloads makes reloads fail with lines (nil: succeed).
func (b *Backend) RejectReloads(lines []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reloadErrors = lines
}

// SetUpgradeError sets Upgrade's result (admin.ErrNotImplemented at first).
func (b *Backend) SetUpgradeError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.upgradeErr = err
}

// Publish sends an event to every subscriber that has room for it.
func (b *Backend) Publish(kind string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- admin.Event{Kind: kind, Data: data}:
		default:
		}
	}
}

// Subscribers is the number of live subscriptions.
func (b *Backend) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Status implements admin.Backend.
func (b *Backend) Status(context.Context) (admin.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.status
	st.Sessions = len(b.sessions)
	st.Transfers = 0
	for _, s := range b.sessions {
		if s.Transfer != nil {
			st.Transfers++
		}
	}
	st.ConfigErrors = slices.Clone(st.ConfigErrors)
	return st, nil
}

// Sessions implements admin.Backend.
func (b *Backend) Sessions(context.Context) ([]admin.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := slices.Clone(b.sessions)
	for i := range out {
		if t := out[i].Transfer; t != nil {
			c := *t
			out[i].Transfer = &c
		}
	}
	return out, nil
}

// Kick implements admin.Backend.
func (b *Backend) Kick(_ context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, s := range b.sessions {
		if s.ID == id {
			b.sessions = slices.Delete(b.sessions, i, i+1)
			return nil
		}
	}
	return admin.ErrNotFound
}

// Bans implements admin.Backend.
func (b *Backend) Bans(context.Context) ([]admin.Ban, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.bans), nil
}

// Ban implements admin.Backend: it also closes the prefix's sessions.
func (b *Backend) Ban(_ context.Context, p netip.Prefix, d time.Duration, note string) (admin.Ban, error) {
	if d == 0 {
		d = b.DefaultBan
	}
	ban := admin.Ban{Address: p, Until: b.now().Add(d).UTC().Truncate(time.Second), Reason: admin.ReasonManual, Note: note}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bans = slices.DeleteFunc(b.bans, func(x admin.Ban) bool { return x.Address == p })
	b.bans = append(b.bans, ban)
	b.sessions = slices.DeleteFunc(b.sessions, func(s admin.Session) bool { return p.Contains(s.Remote) })
	return ban, nil
}

// Unban implements admin.Backend.
func (b *Backend) Unban(_ context.Context, p netip.Prefix) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.bans)
	b.bans = slices.DeleteFunc(b.bans, func(x admin.Ban) bool { return x.Address == p })
	if len(b.bans) == n {
		return admin.ErrNotFound
	}
	return nil
}

// Reload implements admin.Backend.
func (b *Backend) Reload(context.Context) (admin.ReloadResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reloadErrors != nil {
		b.status.ConfigOK = false
		b.status.ConfigErrors = slices.Clone(b.reloadErrors)
		return admin.ReloadResult{Errors: slices.Clone(b.reloadErrors)}, nil
	}
	b.status.ConfigOK = true
	b.status.ConfigErrors = nil
	b.status.ConfigLoadedAt = b.now().UTC().Truncate(time.Second)
	return admin.ReloadResult{OK: true}, nil
}

// Upgrade implements admin.Backend.
func (b *Backend) Upgrade(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.upgradeErr
}

// Users implements admin.Backend.
func (b *Backend) Users(context.Context) ([]admin.User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.users), nil
}

// Subscribe implements admin.Backend.
func (b *Backend) Subscribe(ctx context.Context) (<-chan admin.Event, func()) {
	ch := make(chan admin.Event, 16)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			close(ch)
			b.mu.Unlock()
		})
	}
	stop := context.AfterFunc(ctx, cancel)
	return ch, func() { stop(); cancel() }
}
