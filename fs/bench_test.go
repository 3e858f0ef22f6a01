package fs

import (
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// BenchmarkResolve measures path mapping plus the permission check, on a table of a few mounts.
func BenchmarkResolve(b *testing.B) {
	mounts := []Mount{{Path: "/", Dir: b.TempDir(), Perm: PermAll}}
	for _, p := range []string{"/shared", "/projects/alpha", "/projects/beta", "/home/alice/incoming"} {
		mounts = append(mounts, Mount{Path: p, Dir: b.TempDir(), Perm: PermList | PermRead})
	}
	tr := newTree(b, mounts, Options{})
	paths := []string{"/projects/alpha/src/../docs/readme.md", "shared/a/b/c.txt", "/home/alice/incoming/x.bin", "/top.txt"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n, err := tr.resolve(paths[i%len(paths)])
		if err != nil || n.m == nil {
			b.Fatal(err)
		}
		_ = need(n, PermRead)
	}
}

// BenchmarkDownloadUnlimited sends a 32 MiB file over a real loopback TCP connection the way
// ftpserverlib does (io.Copy(conn, handle)): unlimited (sendfile, in zero-copy chunks of several
// sizes, with the stall timeout's deadline set before each, or without a stall timeout) and with
// a 1 GB/s limit (chunked copies through a buffer, waiting on the bucket). The chunk sizes
// compare the cost of smaller sendfile steps, which let the stall timeout accept slower clients
// (see zeroCopyChunk).
func BenchmarkDownloadUnlimited(b *testing.B) {
	dir := b.TempDir()
	const size = 32 << 20
	randomFile(b, dir, "f", size)
	for _, bc := range []struct {
		name  string
		limit Rate
		chunk int64         // 0: zeroCopyChunk
		stall time.Duration // Options.StallTimeout
	}{
		{"unlimited", 0, 0, 30 * time.Second},
		{"unlimited-chunk-4MiB", 0, 4 << 20, 30 * time.Second},
		{"unlimited-chunk-1MiB", 0, 1 << 20, 30 * time.Second},
		{"unlimited-chunk-256KiB", 0, 256 << 10, 30 * time.Second},
		{"unlimited-no-stall-timeout", 0, 0, 0},
		{"limited-1GB/s", 1_000_000_000, 0, 30 * time.Second},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTree(b, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{
				DownloadLimits: []*Limiter{NewLimiter(bc.limit)},
				StallTimeout:   bc.stall,
			})
			client, server := tcpPair(b)
			drained := make(chan int64, 1)
			go func() { // the client side: reads each file with a large buffer
				buf := make([]byte, 1<<20)
				for {
					var got int64
					for got < size {
						n, err := client.Read(buf[:min(int64(len(buf)), size-got)])
						got += int64(n)
						if err != nil {
							drained <- got
							close(drained)
							return
						}
					}
					drained <- got
				}
			}()
			b.SetBytes(size)
			b.ResetTimer()
			for b.Loop() {
				h, err := tr.openHandle("/f", os.O_RDONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				if bc.chunk > 0 {
					h.zeroCopyChunk = bc.chunk
				}
				if n, err := io.Copy(server, h); err != nil || n != size {
					b.Fatal(n, err)
				}
				_ = h.Close()
				if n := <-drained; n != size {
					b.Fatal("client got", n)
				}
			}
			b.StopTimer()
			_ = server.(*net.TCPConn).CloseWrite()
		})
	}
}
