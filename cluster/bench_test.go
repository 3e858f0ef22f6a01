package cluster

import (
	"testing"

	"github.com/wharf-ftp/wharf/cluster/clustertest"
)

// BenchmarkAcquireRelease measures a login's cluster cost: one slot taken
// and given back, over the unix socket.
func BenchmarkAcquireRelease(b *testing.B) {
	r := clustertest.Start(b)
	c, err := New(Options{URL: r.URL(), Node: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	for b.Loop() {
		s, err := c.Acquire(ctx, "user:bench", 0)
		if err != nil {
			b.Fatal(err)
		}
		c.Release(ctx, s)
	}
}
