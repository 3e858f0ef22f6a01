package fs

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestAbortedDownload: ABOR ends a download whose client stopped reading, long before the stall
// timeout, whether it copies (few downloads) or sends with sendfile (many), and the session
// goes on.
func TestAbortedDownload(t *testing.T) {
	const stall = time.Minute // only ABOR can end these transfers within the test
	home := t.TempDir()
	sparseFile(t, home, "big", 256<<20)
	for _, many := range []bool{false, true} {
		t.Run(fmt.Sprintf("many downloads %v", many), func(t *testing.T) {
			if many {
				manyDownloads(t)
			}
			var rec recorder
			addr := startServer(t, []Mount{{Path: "/", Dir: home, Perm: PermAll}}, Options{StallTimeout: stall, OnTransfer: rec.add})
			c := dialRaw(t, addr)
			data := c.pasv()
			defer data.Close()
			c.cmd("RETR big", "150")
			_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.CopyN(io.Discard, data, 1<<20); err != nil {
				t.Fatal(err)
			}
			// the client stops reading: the server fills the socket and blocks in a write
			start := time.Now()
			if _, err := fmt.Fprintf(c.conn, "ABOR\r\n"); err != nil {
				t.Fatal(err)
			}
			aborted := false
			for i := 0; i < 3 && !aborted; i++ { // 426 for the transfer, then 226 for ABOR (in either order)
				r := c.reply()
				aborted = strings.HasPrefix(r, "226 ABOR") || strings.Contains(r, "ABOR successful")
			}
			if !aborted {
				t.Fatal("no reply to ABOR")
			}
			waitTransfers(t, &rec, 1)
			if took := time.Since(start); took > 10*time.Second {
				t.Fatalf("ABOR took %v", took)
			}
			if ts := rec.all(); ts[0].Complete || ts[0].Bytes >= 256<<20 {
				t.Fatalf("aborted download reported %+v", ts[0])
			}
			c.cmd("NOOP", "200")
		})
	}
}
