package fs

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is a token bucket shared by many transfers: the whole server's, or all the sessions of
// one user. SetRate applies to transfers already running. A nil *Limiter means no limit.
type Limiter struct {
	state atomic.Pointer[bucket]
}

// bucket is one immutable setting of a Limiter; SetRate swaps in a new one, so a transfer sees a
// consistent rate and burst for each chunk.
type bucket struct {
	rate  Rate
	burst int
	lim   *rate.Limiter // nil when rate is 0 (unlimited)
}

// NewLimiter returns a limiter at rate r (0 = unlimited).
func NewLimiter(r Rate) *Limiter {
	l := &Limiter{}
	l.SetRate(r)
	return l
}

// SetRate changes the rate (0 = unlimited). Transfers already running apply it from their next
// chunk on. Setting the current rate again (a reload that leaves it alone) keeps the bucket as
// it is, so that reloads hand out no extra burst. It does nothing on a nil *Limiter.
func (l *Limiter) SetRate(r Rate) {
	if l == nil {
		return
	}
	if r < 0 {
		r = 0
	}
	if cur := l.state.Load(); cur != nil && cur.rate == r {
		return
	}
	b := &bucket{rate: r}
	if r > 0 {
		b.burst = r.burst()
		b.lim = rate.NewLimiter(rate.Limit(r), b.burst)
	}
	l.state.Store(b)
}

// Rate returns the current rate; 0 (unlimited) for a nil *Limiter.
func (l *Limiter) Rate() Rate {
	if b := l.current(); b != nil {
		return b.rate
	}
	return 0
}

// current returns the limiting bucket, or nil when l is nil or unlimited.
func (l *Limiter) current() *bucket {
	if l == nil {
		return nil
	}
	b := l.state.Load()
	if b == nil || b.lim == nil {
		return nil
	}
	return b
}

// reserveAt takes n tokens at instant now, split in pieces no larger than the burst, and
// returns how long the caller must wait before using them, and the reservations made (so that
// an interrupted wait can hand its tokens back).
func (b *bucket) reserveAt(now time.Time, n int) (time.Duration, []*rate.Reservation) {
	var (
		delay time.Duration
		rs    []*rate.Reservation
	)
	for n > 0 {
		k := min(n, b.burst)
		r := b.lim.ReserveN(now, k)
		if !r.OK() { // cannot happen: k <= burst and the limit is finite
			break
		}
		rs = append(rs, r)
		delay = max(delay, r.DelayFrom(now))
		n -= k
	}
	return delay, rs
}

// errWaitCancelled is returned when a wait is interrupted because the tree was closed.
var errWaitCancelled = errors.New("transfer cancelled")

// waitN blocks until n bytes may pass through l, or ctx is done. It returns at once when l is
// nil or unlimited.
func (l *Limiter) waitN(ctx context.Context, n int) error {
	b := l.current()
	if b == nil || n <= 0 {
		return nil
	}
	if ctx.Err() != nil {
		return errWaitCancelled
	}
	now := time.Now()
	delay, rs := b.reserveAt(now, n)
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		now = time.Now()
		for i := len(rs) - 1; i >= 0; i-- {
			rs[i].CancelAt(now)
		}
		return errWaitCancelled
	}
}
