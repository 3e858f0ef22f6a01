package auth

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// floorWindow is how many recent checks of one kind of hash its cost is
// learned from (their median, so one check slowed by a busy machine does not
// set it).
const floorWindow = 9

// failureFloor learns how long a real password check takes for each kind of
// hash (algorithm and cost) so that every failed login can be made to take as
// long as the costliest kind: the time of a refusal then tells nothing about
// whether the user exists or which hash it has. Successful logins, which the
// cache often answers at once, are never padded.
type failureFloor struct {
	mu    sync.Mutex
	kinds map[string]*costRing
}

type costRing struct {
	ring [floorWindow]time.Duration
	n    int // checks recorded, capped at floorWindow
	next int
}

func (r *costRing) median() time.Duration {
	v := slices.Clone(r.ring[:r.n])
	slices.Sort(v)
	return v[len(v)/2]
}

func (f *failureFloor) record(kind string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kinds == nil {
		f.kinds = make(map[string]*costRing)
	}
	r := f.kinds[kind]
	if r == nil {
		r = &costRing{}
		f.kinds[kind] = r
	}
	r.ring[r.next] = d
	r.next = (r.next + 1) % floorWindow
	r.n = min(r.n+1, floorWindow)
}

// value is the cost of the costliest kind of hash seen.
func (f *failureFloor) value() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var m time.Duration
	for _, r := range f.kinds {
		m = max(m, r.median())
	}
	return m
}

// Pad waits until a failed login that started at start has taken as long as
// a check of the costliest kind of hash, or until ctx ends.
func (v *Verifier) Pad(ctx context.Context, start time.Time) {
	wait := v.floor.value() - v.now().Sub(start)
	if wait <= 0 {
		return
	}
	v.sleep(ctx, wait)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// timedCheck runs one hash check and teaches the floor its duration.
func (v *Verifier) timedCheck(encoded, password string) (bool, error) {
	start := v.now()
	ok, err := v.check(encoded, password)
	if err == nil {
		v.floor.record(hashKind(encoded), v.now().Sub(start))
	}
	return ok, err
}

// Calibrate times one check for each kind of hash among encoded (its
// algorithm and cost, e.g. "$2b$10$" or "$argon2id$v=19$m=65536,t=3,p=2$"),
// with a wrong password, so the failure floor is right from the first login.
// It runs through the same slots as Verify; the server calls it in the
// background when it loads users.
func (v *Verifier) Calibrate(ctx context.Context, encoded []string) {
	seen := make(map[string]bool)
	for _, e := range encoded {
		k := hashKind(e)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		if v.acquire(ctx) != nil {
			return
		}
		_, _ = v.timedCheck(e, "\x00calibration")
		v.release()
	}
}

// hashKind is the part of an encoded hash that sets its cost: everything but
// the salt and the digest.
func hashKind(e string) string {
	switch {
	case strings.HasPrefix(e, "$argon2"):
		parts := strings.Split(e, "$") // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
		if len(parts) == 6 {
			return strings.Join(parts[:4], "$")
		}
	case strings.HasPrefix(e, "$2"):
		if len(e) >= 7 {
			return e[:7] // "$2b$10$"
		}
	}
	return ""
}
