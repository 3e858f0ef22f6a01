package auth

import (
	"sync"
	"testing"
)

func TestSessions(t *testing.T) {
	s := NewSessions()
	steps := []struct {
		op    string // acquire, release
		name  string
		limit int
		want  bool // for acquire
		count int  // Count(name) after the step
	}{
		{"acquire", "alice", 2, true, 1},
		{"acquire", "alice", 2, true, 2},
		{"acquire", "alice", 2, false, 2},
		{"acquire", "bob", 0, true, 1}, // unlimited
		{"acquire", "bob", 0, true, 2},
		{"release", "alice", 0, false, 1},
		{"acquire", "alice", 2, true, 2},
		{"acquire", "alice", 3, true, 3},  // a reload raised the limit
		{"acquire", "alice", 1, false, 3}, // ... or lowered it
		{"release", "carol", 0, false, 0}, // nothing to release
		{"release", "bob", 0, false, 1},
		{"release", "bob", 0, false, 0},
		{"release", "bob", 0, false, 0},
	}
	for i, st := range steps {
		switch st.op {
		case "acquire":
			if got := s.Acquire(st.name, st.limit); got != st.want {
				t.Fatalf("step %d: Acquire(%s, %d) = %v; want %v", i, st.name, st.limit, got, st.want)
			}
		case "release":
			s.Release(st.name)
		}
		if got := s.Count(st.name); got != st.count {
			t.Fatalf("step %d: Count(%s) = %d; want %d", i, st.name, got, st.count)
		}
	}
	if len(s.counts) != 1 {
		t.Fatalf("released names are kept: %v", s.counts)
	}
}

func TestSessionsConcurrent(t *testing.T) {
	const limit, workers = 5, 20
	s := NewSessions()
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Acquire("alice", limit) {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != limit || s.Count("alice") != limit {
		t.Fatalf("granted %d, count %d; want %d", granted, s.Count("alice"), limit)
	}
}
