package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheapHash returns a fast bcrypt hash of pw for tests.
func cheapHash(t testing.TB, pw string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifierDefaults(t *testing.T) {
	v := NewVerifier(0, 0, 0)
	if cap(v.slots) < 1 || v.cache.ttl != DefaultCacheTTL || v.cache.size != DefaultCacheSize {
		t.Fatalf("defaults: slots %d, ttl %v, size %d", cap(v.slots), v.cache.ttl, v.cache.size)
	}
}

func TestVerifierVerify(t *testing.T) {
	h := cheapHash(t, "secret")
	v := NewVerifier(2, time.Minute, 10)
	ctx := context.Background()
	tests := []struct {
		name       string
		encoded    string
		password   string
		want       bool
		wantErr    bool
		wantHashes int64 // hashes computed by this call
	}{
		{name: "wrong password", encoded: h, password: "nope", want: false, wantHashes: 1},
		{name: "wrong again: failures are not cached", encoded: h, password: "nope", want: false, wantHashes: 1},
		{name: "right password", encoded: h, password: "secret", want: true, wantHashes: 1},
		{name: "right again: cached", encoded: h, password: "secret", want: true, wantHashes: 0},
		{name: "new hash misses the cache", encoded: cheapHash(t, "secret"), password: "secret", want: true, wantHashes: 1},
		{name: "changed hash, old password", encoded: cheapHash(t, "other"), password: "secret", want: false, wantHashes: 1},
		{name: "malformed hash", encoded: "plain", password: "plain", want: false, wantErr: true, wantHashes: 1},
	}
	for _, tt := range tests {
		before := v.hashes.Load()
		got, err := v.Verify(ctx, tt.encoded, tt.password)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("%s: Verify = %v, %v; want %v, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
		if n := v.hashes.Load() - before; n != tt.wantHashes {
			t.Errorf("%s: %d hashes computed; want %d", tt.name, n, tt.wantHashes)
		}
	}
}

func TestVerifierCacheTTLAndSize(t *testing.T) {
	clock := newFakeClock()
	v := NewVerifier(1, time.Minute, 2)
	v.now = clock.Now
	v.check = func(encoded, password string) (bool, error) { return encoded == "h:"+password, nil }
	ctx := context.Background()
	verify := func(pw string) int64 {
		t.Helper()
		before := v.hashes.Load()
		if ok, err := v.Verify(ctx, "h:"+pw, pw); !ok || err != nil {
			t.Fatalf("Verify(%s) = %v, %v", pw, ok, err)
		}
		return v.hashes.Load() - before
	}
	if verify("a") != 1 || verify("a") != 0 {
		t.Fatal("second check of a was not answered by the cache")
	}
	clock.Advance(59 * time.Second)
	if verify("a") != 0 {
		t.Fatal("entry expired before its TTL")
	}
	clock.Advance(time.Second)
	if verify("a") != 1 {
		t.Fatal("entry still used at its TTL")
	}
	// Size 2: a, b, c → the least recently used (a) is evicted.
	verify("b")
	verify("c")
	if n := len(v.cache.keys()); n != 2 {
		t.Fatalf("cache holds %d entries; want 2", n)
	}
	if verify("c") != 0 || verify("b") != 0 || verify("a") != 1 {
		t.Fatal("LRU eviction did not drop the least recently used entry")
	}
}

func TestVerifierCacheNeverStoresPassword(t *testing.T) {
	const pw = "correct horse battery staple, long enough to be found"
	h := cheapHash(t, pw)
	v := NewVerifier(1, time.Minute, 10)
	if ok, err := v.Verify(context.Background(), h, pw); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	keys := v.cache.keys()
	if len(keys) != 1 {
		t.Fatalf("cache holds %d entries; want 1", len(keys))
	}
	k := keys[0]
	if bytes.Contains(k[:], []byte(pw)) || bytes.Contains(k[:], []byte(pw[:8])) {
		t.Fatal("cache key contains the password")
	}
	m := hmac.New(sha256.New, v.cacheSecret[:])
	m.Write([]byte(h + "\x00" + pw))
	if !bytes.Equal(m.Sum(nil), k[:]) {
		t.Fatal("cache key is not the keyed SHA-256 of hash, NUL, password")
	}
	// A plain SHA-256 of the same input would allow offline guessing.
	plain := sha256.Sum256([]byte(h + "\x00" + pw))
	if plain == k {
		t.Fatal("cache key is an unkeyed digest")
	}
}

// TestVerifierConcurrencyBound runs many checks through a verifier of 2
// slots with a blocking check, and counts how many run at once.
func TestVerifierConcurrencyBound(t *testing.T) {
	const slots, callers = 2, 10
	v := NewVerifier(slots, time.Minute, 10)
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	entered := make(chan struct{}, callers)
	v.check = func(encoded, password string) (bool, error) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		inFlight.Add(-1)
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				v.Burn(ctx)
				return
			}
			if _, err := v.Verify(ctx, "h", "p"); err != nil {
				t.Errorf("Verify: %v", err)
			}
		}()
	}
	// Wait until both slots are taken.
	for range slots {
		select {
		case <-entered:
		case <-ctx.Done():
			t.Fatal("timed out waiting for checks to start")
		}
	}
	// With the slots held, a caller with a short deadline gives up.
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := v.Verify(short, "h", "other")
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with all slots held = %v; want context.DeadlineExceeded", err)
	}
	cancelled, cancelNow := context.WithCancel(ctx)
	cancelNow()
	if _, err := v.Verify(cancelled, "h", "other"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context = %v; want context.Canceled", err)
	}
	close(release)
	wg.Wait()
	if p := peak.Load(); p != slots {
		t.Fatalf("peak concurrency %d; want %d", p, slots)
	}
	if n := v.hashes.Load(); n != callers {
		t.Fatalf("%d checks ran; want %d (abandoned ones must not count)", n, callers)
	}
}

func TestVerifierBurn(t *testing.T) {
	v := NewVerifier(1, time.Minute, 10)
	var checked []string
	v.check = func(encoded, password string) (bool, error) {
		checked = append(checked, encoded)
		return verifyPassword(encoded, password)
	}
	v.Burn(context.Background())
	v.Burn(context.Background())
	if len(checked) != 2 || checked[0] != checked[1] {
		t.Fatalf("Burn checked %q; want the same dummy twice", checked)
	}
	if err := CheckHash(checked[0]); err != nil || !bytes.HasPrefix([]byte(checked[0]), []byte("$argon2id$v=19$m=19456,t=2,p=1$")) {
		t.Fatalf("dummy %q is not an argon2id hash with HashPassword's parameters (%v)", checked[0], err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v.Burn(ctx)
	if len(checked) != 2 {
		t.Fatal("Burn with a cancelled context still hashed")
	}
}
