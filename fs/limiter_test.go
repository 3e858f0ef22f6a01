package fs

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRateBurst(t *testing.T) {
	tests := []struct {
		r    Rate
		want int
	}{
		{0, 0},
		{1, 1},
		{9, 1},
		{1000, 100},
		{10_000_000, 1_000_000},
		{2 << 20, (2 << 20) / 10},
		{Rate(1) << 40, 1<<31 - 1},
	}
	for _, tt := range tests {
		if got := tt.r.burst(); got != tt.want {
			t.Errorf("Rate(%d).burst() = %d, want %d", int64(tt.r), got, tt.want)
		}
	}
}

// simulate runs a transfer that always wants more, on a fake clock, for d, and returns the
// instants and sizes of the chunks the bucket let through.
func simulate(t *testing.T, l *Limiter, d time.Duration) (at []time.Duration, sizes []int) {
	t.Helper()
	b := l.current()
	if b == nil {
		t.Fatal("limiter is unlimited")
	}
	chunk := min(b.burst, bufferSize)
	start := time.Unix(1_700_000_000, 0)
	now := start
	for i := 0; i < 1_000_000 && now.Sub(start) < d; i++ {
		delay, _ := b.reserveAt(now, chunk)
		now = now.Add(delay)
		at = append(at, now.Sub(start))
		sizes = append(sizes, chunk)
	}
	return at, sizes
}

func TestLimiterLongRunAndWindows(t *testing.T) {
	for _, r := range []Rate{100, 1000, 16 << 10, 100_000, 1 << 20, 10_000_000, 1_000_000_000} {
		t.Run(r.String(), func(t *testing.T) {
			const seconds = 20
			at, sizes := simulate(t, NewLimiter(r), seconds*time.Second)
			var total int64
			for i, a := range at {
				if a < seconds*time.Second {
					total += int64(sizes[i])
				}
			}
			// long run: within 10% of the rate (plus one initial burst)
			want := float64(r) * seconds
			if got := float64(total); got < want*0.95 || got > want*1.1 {
				t.Errorf("%d bytes in %ds, want about %.0f", total, seconds, want)
			}
			// any one-second window: at most 110% of the rate
			maxWindow := int64(0)
			j := 0
			var sum int64
			for i := range at {
				sum += int64(sizes[i])
				for at[i]-at[j] >= time.Second {
					sum -= int64(sizes[j])
					j++
				}
				maxWindow = max(maxWindow, sum)
			}
			if limit := float64(r)*1.1 + 1; float64(maxWindow) > limit {
				t.Errorf("a one-second window let %d bytes through, more than %.0f", maxWindow, limit)
			}
		})
	}
}

func TestLimiterBurstBound(t *testing.T) {
	l := NewLimiter(1_000_000)
	b := l.current()
	now := time.Unix(1_700_000_000, 0)
	// a full bucket lets one burst through at once, and nothing more
	if d, _ := b.reserveAt(now, b.burst); d != 0 {
		t.Fatalf("first burst delayed by %v", d)
	}
	if b.lim.AllowN(now, 1) {
		t.Fatal("bucket not empty after a full burst")
	}
	// an idle second refills at most one burst
	later := now.Add(10 * time.Second)
	if !b.lim.AllowN(later, b.burst) {
		t.Fatal("burst not available after idling")
	}
	if b.lim.AllowN(later, 1) {
		t.Fatal("more than one burst after idling")
	}
	// a request larger than the burst is split, and delayed by what exceeds the bucket
	d, rs := b.reserveAt(later, 3*b.burst)
	if len(rs) != 3 {
		t.Fatalf("%d reservations, want 3", len(rs))
	}
	if want := 300 * time.Millisecond; d < want-time.Millisecond || d > want+time.Millisecond {
		t.Fatalf("delay %v, want %v", d, want)
	}
}

func TestLimiterSetRate(t *testing.T) {
	l := NewLimiter(0)
	if l.Rate() != 0 || l.current() != nil {
		t.Fatal("NewLimiter(0) limits")
	}
	l.SetRate(2 << 20)
	if l.Rate() != 2<<20 || l.current() == nil || l.current().burst != (2<<20)/10 {
		t.Fatalf("after SetRate: rate %v", l.Rate())
	}
	b := l.current()
	l.SetRate(2 << 20) // unchanged: the same bucket, its tokens as they were
	if l.current() != b {
		t.Fatal("setting the same rate again replaced the bucket")
	}
	l.SetRate(-5)
	if l.Rate() != 0 || l.current() != nil {
		t.Fatal("negative rate should mean unlimited")
	}
	var nilLim *Limiter
	nilLim.SetRate(100)
	if nilLim.Rate() != 0 || nilLim.current() != nil {
		t.Fatal("nil limiter limits")
	}
	if err := nilLim.waitN(context.Background(), 1<<30); err != nil {
		t.Fatal(err)
	}
}

func TestLimiterWaitCancelled(t *testing.T) {
	l := NewLimiter(1000) // burst 100
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.waitN(ctx, 100); err != nil { // the full bucket: no wait
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.waitN(ctx, 100_000) }() // 100 s worth
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errWaitCancelled) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("wait not interrupted")
	}
	// the cancelled reservation gave its tokens back: the bucket's debt is at most what the
	// elapsed time could not refund
	if tok := l.current().lim.Tokens(); tok < -200 {
		t.Fatalf("tokens after cancel = %v", tok)
	}
}
