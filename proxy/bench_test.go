package proxy

import (
	"io"
	"net"
	"net/netip"
	"testing"
)

// BenchmarkAccept measures one connection, from dial to the server's first
// read, over the bare TCP listener and through Wrap: a direct client, and a
// client behind a balancer sending a v1 or a v2 header.
func BenchmarkAccept(b *testing.B) {
	v1 := "PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\n"
	v2h := v2(0x21, 0x11, ap("192.0.2.7:40000"), ap("198.51.100.1:21"), nil)
	cases := []struct {
		name   string
		wrap   bool
		header string
	}{
		{"bare", false, ""},
		{"direct", true, ""},
		{"v1", true, v1},
		{"v2", true, v2h},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var l net.Listener = raw
			if tc.wrap {
				trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
				if tc.header == "" {
					trusted = nil
				}
				l = Wrap(raw, Options{Trusted: trusted})
			}
			defer l.Close()
			msg := []byte(tc.header + "x")
			errc := make(chan error, 1)
			go func() {
				buf := make([]byte, 1)
				for {
					c, err := l.Accept()
					if err != nil {
						errc <- nil
						return
					}
					if _, err := io.ReadFull(c, buf); err != nil {
						errc <- err
						return
					}
					_, _ = c.Write(buf)
					_ = c.Close()
				}
			}()
			buf := make([]byte, 1)
			b.ResetTimer()
			for range b.N {
				c, err := net.Dial("tcp", raw.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				_ = c.Close()
			}
			b.StopTimer()
			_ = l.Close()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
		})
	}
}
