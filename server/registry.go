package server

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/wharf-ftp/wharf/auth"
)

// registry is the one owner of who is connected: admission counts (in total
// and per address), accepted connections waiting for their session, the open
// sessions (logged in or not) by id, the per-user session slots, and the
// number of transfers running. Each session carries its transfer in progress
// (session.live), whose byte count the copy loop bumps with an atomic add.
// Shutdown, the admin API and the cluster read it. (The cluster's shared
// slots are taken through Server.slot beside the local ones.)
type registry struct {
	conns     *connTracker
	pending   sync.Map // connKey → *controlConn, until ClientConnected claims it
	sessions  sync.Map // session id → *session
	users     *auth.Sessions
	transfers atomic.Int64

	loggedMu sync.Mutex
	logged   map[netip.Addr]int // logged-in sessions per client address
}

func newRegistry() *registry {
	return &registry{conns: newConnTracker(), users: auth.NewSessions(), logged: make(map[netip.Addr]int)}
}

// login and logout count a session's login under its client address.
func (r *registry) login(a netip.Addr)  { r.loggedAdd(a, 1) }
func (r *registry) logout(a netip.Addr) { r.loggedAdd(a, -1) }

func (r *registry) loggedAdd(a netip.Addr, d int) {
	r.loggedMu.Lock()
	defer r.loggedMu.Unlock()
	if n := r.logged[a] + d; n > 0 {
		r.logged[a] = n
	} else {
		delete(r.logged, a)
	}
}

// loggedIn is whether a session from a is logged in.
func (r *registry) loggedIn(a netip.Addr) bool {
	r.loggedMu.Lock()
	defer r.loggedMu.Unlock()
	return r.logged[a] > 0
}

// expect records an accepted connection for the session about to start on it.
func (r *registry) expect(key string, cc *controlConn) { r.pending.Store(key, cc) }

// claim takes the accepted connection of a starting session.
func (r *registry) claim(key string) (*controlConn, bool) {
	v, ok := r.pending.LoadAndDelete(key)
	if !ok {
		return nil, false
	}
	return v.(*controlConn), true
}

func (r *registry) add(sess *session)    { r.sessions.Store(sess.id, sess) }
func (r *registry) remove(sess *session) { r.sessions.Delete(sess.id) }

// session finds a session by id.
func (r *registry) session(id string) (*session, bool) {
	v, ok := r.sessions.Load(id)
	if !ok {
		return nil, false
	}
	return v.(*session), true
}

// each calls fn for every open session until it returns false.
func (r *registry) each(fn func(*session) bool) {
	r.sessions.Range(func(_, v any) bool { return fn(v.(*session)) })
}

// count is the number of open sessions.
func (r *registry) count() int {
	n := 0
	r.sessions.Range(func(any, any) bool { n++; return true })
	return n
}

// connTracker counts open control connections, in total and per address.
type connTracker struct {
	mu    sync.Mutex
	perIP map[netip.Addr]int
	total int
}

func newConnTracker() *connTracker { return &connTracker{perIP: make(map[netip.Addr]int)} }

// acquire takes a slot for addr; it returns "" on success, or the refusal text.
func (t *connTracker) acquire(addr netip.Addr, maxTotal, maxPerIP int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if maxTotal > 0 && t.total >= maxTotal {
		return "too many connections to this server (max_connections), try again later"
	}
	if maxPerIP > 0 && t.perIP[addr] >= maxPerIP {
		return "too many connections from your address (max_connections_per_ip), try again later"
	}
	t.total++
	t.perIP[addr]++
	return ""
}

func (t *connTracker) release(addr netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total--
	if n := t.perIP[addr] - 1; n > 0 {
		t.perIP[addr] = n
	} else {
		delete(t.perIP, addr)
	}
}
