package auth

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFailedLoginsTakeTheFloor: with a fake clock where a "slow" hash costs
// 140 ms and the dummy 20 ms, every failure (unknown user, bad password of a
// fast user) is padded to the slowest recent check, and a success is not.
func TestFailedLoginsTakeTheFloor(t *testing.T) {
	var mu sync.Mutex
	clock := time.Unix(0, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	v := NewVerifier(1, 0, 0)
	v.now = now
	v.check = func(encoded, password string) (bool, error) {
		switch {
		case strings.HasPrefix(encoded, "slow:"):
			advance(140 * time.Millisecond)
		case strings.HasPrefix(encoded, "fast:"):
			advance(60 * time.Millisecond)
		default: // the dummy of Burn
			advance(20 * time.Millisecond)
		}
		return encoded == "slow:"+password || encoded == "fast:"+password, nil
	}
	var slept []time.Duration
	v.sleep = func(_ context.Context, d time.Duration) { slept = append(slept, d); advance(d) }
	d := NewDirectory([]*User{{Name: "slow", PasswordHash: "slow:pw"}, {Name: "fast", PasswordHash: "fast:pw"}}, v)
	local := netip.MustParseAddr("127.0.0.1")
	timed := func(user, pass string) (time.Duration, error) {
		start := now()
		_, err := d.Authenticate(context.Background(), user, pass, local)
		return now().Sub(start), err
	}
	if _, err := timed("slow", "pw"); err != nil { // a real check teaches the floor
		t.Fatal(err)
	}
	for _, try := range []struct{ user, pass string }{{"nobody", "x"}, {"fast", "bad"}, {"slow", "bad"}} {
		took, err := timed(try.user, try.pass)
		if err == nil || took != 140*time.Millisecond {
			t.Errorf("%s/%s: took %v (err %v), want a failure taking 140ms", try.user, try.pass, took, err)
		}
	}
	slept = nil
	if took, err := timed("fast", "pw"); err != nil || took != 60*time.Millisecond || len(slept) != 0 {
		t.Errorf("a success took %v (err %v, padded %v)", took, err, slept)
	}
}

func TestHashKind(t *testing.T) {
	for in, want := range map[string]string{
		"$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA":                 "$argon2id$v=19$m=65536,t=3,p=2",
		"$2b$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz12345": "$2b$10$",
		"plain": "",
	} {
		if got := hashKind(in); got != want {
			t.Errorf("hashKind(%q) = %q, want %q", in, got, want)
		}
	}
}
