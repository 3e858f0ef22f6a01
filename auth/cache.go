package auth

import (
	"container/list"
	"sync"
	"time"
)

// cacheKey identifies one successful (hash, password) pair. It is a keyed
// digest: the password itself is never stored.
type cacheKey [32]byte

// successCache is a size-bounded LRU of recent successful checks, each valid
// for a fixed time after it was stored. Safe for concurrent use.
type successCache struct {
	mu    sync.Mutex
	ttl   time.Duration
	size  int
	items map[cacheKey]*list.Element // of *cacheEntry
	order *list.List                 // most recently used at the front
}

type cacheEntry struct {
	key     cacheKey
	expires time.Time
}

func newSuccessCache(ttl time.Duration, size int) *successCache {
	return &successCache{ttl: ttl, size: size, items: make(map[cacheKey]*list.Element), order: list.New()}
}

// hit reports whether k was stored and has not expired at now.
func (c *successCache) hit(k cacheKey, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, k)
		return false
	}
	c.order.MoveToFront(el)
	return true
}

// add stores k until now+ttl, evicting the least recently used entries
// beyond the size bound.
func (c *successCache) add(k cacheKey, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		el.Value.(*cacheEntry).expires = now.Add(c.ttl)
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, expires: now.Add(c.ttl)})
	for c.order.Len() > c.size {
		back := c.order.Back()
		c.order.Remove(back)
		delete(c.items, back.Value.(*cacheEntry).key)
	}
}

// keys returns the stored keys (for tests).
func (c *successCache) keys() []cacheKey {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]cacheKey, 0, len(c.items))
	for k := range c.items {
		out = append(out, k)
	}
	return out
}
