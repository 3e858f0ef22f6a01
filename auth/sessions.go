package auth

import "sync"

// Sessions counts the open sessions of each user, to enforce MaxSessions.
// It is meant to live as long as the process (across reloads) and is safe
// for concurrent use.
type Sessions struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewSessions returns an empty counter.
func NewSessions() *Sessions {
	return &Sessions{counts: make(map[string]int)}
}

// Acquire takes one session slot for name. It returns false, taking
// nothing, when limit > 0 and name already has limit sessions.
func (s *Sessions) Acquire(name string, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit > 0 && s.counts[name] >= limit {
		return false
	}
	s.counts[name]++
	return true
}

// Release gives back one slot taken by Acquire. Releasing a name that holds
// none does nothing.
func (s *Sessions) Release(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch n := s.counts[name]; {
	case n > 1:
		s.counts[name] = n - 1
	case n == 1:
		delete(s.counts, name)
	}
}

// Count returns the number of slots name holds.
func (s *Sessions) Count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}
