package server

import (
	"container/list"
	"crypto/rand"
	"sync"
	"time"
)

const (
	// maxTicketState is the largest session state sent inside a ticket; larger
	// ones (with a client certificate) stay in the ticketStore.
	maxTicketState = 256
	// ticketHandleSize is the length of a ticketStore handle; Go's encrypted
	// tickets are always longer.
	ticketHandleSize = 32
	// ticketStoreSize bounds the sessions kept (a few KiB each at most).
	ticketStoreSize = 4096
	// ticketLifetime is Go's own limit on resuming a session.
	ticketLifetime = 7 * 24 * time.Hour
)

// ticketStore keeps session states behind random handles, least recently used
// first out.
type ticketStore struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	order *list.List // of *ticketEntry, most recently used first
	byID  map[string]*list.Element
}

type ticketEntry struct {
	id      string
	state   []byte
	expires time.Time
}

func newTicketStore(size int, ttl time.Duration) *ticketStore {
	return &ticketStore{max: size, ttl: ttl, order: list.New(), byID: make(map[string]*list.Element)}
}

// put keeps state and returns its handle.
func (t *ticketStore) put(state []byte) ([]byte, error) {
	id := make([]byte, ticketHandleSize)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.order.Len() > 0 && (t.order.Len() >= t.max || now.After(t.order.Back().Value.(*ticketEntry).expires)) {
		e := t.order.Remove(t.order.Back()).(*ticketEntry)
		delete(t.byID, e.id)
	}
	t.byID[string(id)] = t.order.PushFront(&ticketEntry{id: string(id), state: state, expires: now.Add(t.ttl)})
	return id, nil
}

// get returns the state behind a handle, or nil.
func (t *ticketStore) get(id []byte) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byID[string(id)]
	if !ok {
		return nil
	}
	e := el.Value.(*ticketEntry)
	if time.Now().After(e.expires) {
		t.order.Remove(el)
		delete(t.byID, e.id)
		return nil
	}
	t.order.MoveToFront(el)
	return e.state
}

// len returns how many sessions are kept.
func (t *ticketStore) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
