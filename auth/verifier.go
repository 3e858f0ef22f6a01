package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of NewVerifier.
const (
	DefaultCacheTTL  = 10 * time.Minute
	DefaultCacheSize = 10000
)

// Verifier checks passwords against hashes without becoming a lever for a
// denial of service: at most a fixed number of checks run at once (the
// others wait, or give up with their context), and a successful check is
// remembered for a while so that clients logging in again and again cost one
// hash each TTL. A Verifier is meant to live as long as the process (across
// configuration reloads) and is safe for concurrent use.
type Verifier struct {
	slots chan struct{}
	cache *successCache
	// cacheSecret keys the cache digests, so a key seen outside the process
	// cannot be used to test guesses offline.
	cacheSecret [32]byte

	dummyOnce sync.Once
	dummy     string

	floor failureFloor

	// Seams for tests.
	sleep  func(context.Context, time.Duration)
	now    func() time.Time
	check  func(encoded, password string) (bool, error)
	hashes atomic.Int64 // checks that actually computed a hash
}

// NewVerifier returns a Verifier running at most maxConcurrent checks at
// once (runtime.NumCPU() when <= 0) and remembering up to cacheSize
// successes (DefaultCacheSize when <= 0) for cacheTTL each (DefaultCacheTTL
// when <= 0).
func NewVerifier(maxConcurrent int, cacheTTL time.Duration, cacheSize int) *Verifier {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	if cacheTTL <= 0 {
		cacheTTL = DefaultCacheTTL
	}
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	v := &Verifier{
		slots: make(chan struct{}, maxConcurrent),
		cache: newSuccessCache(cacheTTL, cacheSize),
		now:   time.Now,
		sleep: sleepCtx,
		check: verifyPassword,
	}
	_, _ = rand.Read(v.cacheSecret[:]) // never fails (Go 1.24+)
	return v
}

// Verify reports whether password matches encoded (see VerifyPassword). A
// success remembered from an earlier call answers at once; otherwise Verify
// waits for a free slot and returns ctx.Err() if ctx ends first. An error is
// also returned, with false, when encoded is not a usable hash.
func (v *Verifier) Verify(ctx context.Context, encoded, password string) (bool, error) {
	key := v.cacheKey(encoded, password)
	if v.cache.hit(key, v.now()) {
		return true, nil
	}
	if err := v.acquire(ctx); err != nil {
		return false, err
	}
	v.hashes.Add(1)
	ok, err := v.timedCheck(encoded, password)
	v.release()
	if ok && err == nil {
		v.cache.add(key, v.now())
	}
	return ok, err
}

// Burn spends the work of one check against a dummy argon2id hash made with
// HashPassword's parameters, through the same slots as Verify. It is used for
// unknown users so that timing does not reveal which users exist. It returns
// early, having done nothing, when ctx ends while waiting for a slot.
func (v *Verifier) Burn(ctx context.Context) {
	v.dummyOnce.Do(func() {
		// HashPassword fails only if crypto/rand does, which it does not
		// (Go 1.24+); a "" dummy would merely make Burn cheap.
		v.dummy, _ = HashPassword(rand.Text())
	})
	if err := v.acquire(ctx); err != nil {
		return
	}
	v.hashes.Add(1)
	_, _ = v.timedCheck(v.dummy, "")
	v.release()
}

func (v *Verifier) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case v.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *Verifier) release() { <-v.slots }

// cacheKey digests encoded || 0x00 || password with the verifier's secret.
func (v *Verifier) cacheKey(encoded, password string) cacheKey {
	m := hmac.New(sha256.New, v.cacheSecret[:])
	m.Write([]byte(encoded))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k cacheKey
	m.Sum(k[:0])
	return k
}
