package events

import (
	"context"
	"sync"
	"sync/atomic"
)

// Bus hands each published event to every subscriber. Publish never waits:
// a subscriber whose buffer is full misses the event, which is counted, and
// the others are not delayed. The zero Bus is not usable; use NewBus.
type Bus struct {
	mu      sync.RWMutex
	subs    map[*subscriber]struct{}
	closed  bool
	dropped atomic.Uint64
}

type subscriber struct {
	ch   chan Event
	stop func() bool // stops the removal at the end of the subscriber's context
}

// NewBus returns a bus without subscribers.
func NewBus() *Bus {
	return &Bus{subs: map[*subscriber]struct{}{}}
}

// Publish hands e to every subscriber that has room for it, without waiting.
func (b *Bus) Publish(e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			b.dropped.Add(1)
		}
	}
}

// Subscribe returns a channel receiving the events published from now on,
// holding up to buffer of them (at least 1) for a slow reader; past that the
// reader misses events. The channel is closed when ctx ends or the bus is
// closed.
func (b *Bus) Subscribe(ctx context.Context, buffer int) <-chan Event {
	if buffer < 1 {
		buffer = 1
	}
	s := &subscriber{ch: make(chan Event, buffer)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(s.ch)
		return s.ch
	}
	s.stop = context.AfterFunc(ctx, func() { b.remove(s) })
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s.ch
}

// remove takes s off the bus and closes its channel, once.
func (b *Bus) remove(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Subscribers returns how many subscribers the bus has.
func (b *Bus) Subscribers() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.subs)
}

// Dropped returns how many deliveries subscribers have missed in all.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// Close closes every subscriber's channel; later subscriptions get a closed
// channel and later events go nowhere.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		s.stop()
		close(s.ch)
	}
}
