package server

import (
	"bytes"
	"testing"
	"time"
)

// TestTicketStore checks the bound, the least-recently-used eviction and the
// lifetime of the stored sessions.
func TestTicketStore(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		ttl     time.Duration
		puts    int
		touch   int   // get this handle (by put order) before the last put
		present []int // handles (by put order) still there at the end
	}{
		{name: "under the bound", size: 4, ttl: time.Hour, puts: 3, touch: -1, present: []int{0, 1, 2}},
		{name: "oldest evicted", size: 3, ttl: time.Hour, puts: 5, touch: -1, present: []int{2, 3, 4}},
		{name: "recent use keeps", size: 3, ttl: time.Hour, puts: 4, touch: 0, present: []int{0, 2, 3}},
		{name: "expired", size: 3, ttl: -time.Second, puts: 2, touch: -1, present: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newTicketStore(tc.size, tc.ttl)
			var ids [][]byte
			for i := range tc.puts {
				if i == tc.puts-1 && tc.touch >= 0 && st.get(ids[tc.touch]) == nil {
					t.Fatalf("handle %d missing before the last put", tc.touch)
				}
				id, err := st.put([]byte{byte(i)})
				if err != nil || len(id) != ticketHandleSize {
					t.Fatalf("put: %x, %v", id, err)
				}
				ids = append(ids, id)
			}
			for i, id := range ids {
				want := false
				for _, p := range tc.present {
					want = want || p == i
				}
				got := st.get(id)
				if (got != nil) != want || (got != nil && !bytes.Equal(got, []byte{byte(i)})) {
					t.Fatalf("handle %d: %v, want present=%v", i, got, want)
				}
			}
			if st.len() > tc.size {
				t.Fatalf("%d sessions kept, bound %d", st.len(), tc.size)
			}
			if st.get(make([]byte, ticketHandleSize)) != nil {
				t.Fatal("an unknown handle resolved")
			}
		})
	}
}
