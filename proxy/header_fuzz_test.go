package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"testing"
)

// FuzzReadHeader: whatever arrives, reading a header never panics, a header
// read names a valid client (or none, for a health check), and every byte
// after the header is still there, in order.
func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{
		"PROXY TCP4 192.0.2.7 198.51.100.1 40000 21\r\nUSER a\r\n",
		"PROXY TCP6 2001:db8::7 2001:db8::1 40001 2121\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
		"PROXY TCP4 192.0.2.999 198.51.100.1 40000 21\r\n",
		"USER alice\r\n",
		v2(0x21, 0x11, ap("192.0.2.8:40002"), ap("198.51.100.1:21"), nil) + "rest",
		v2(0x21, 0x21, ap("[::ffff:192.0.2.9]:1"), ap("[2001:db8::1]:990"), []byte{4, 0, 1, 0}),
		v2(0x20, 0x00, netip.AddrPort{}, netip.AddrPort{}, nil),
		v2(0x21, 0x31, netip.AddrPort{}, netip.AddrPort{}, make([]byte, 216)),
		v2(0x21, 0x12, ap("192.0.2.7:1"), ap("192.0.2.1:2"), nil),
		string(v2sig),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), headerBufSize)
		h, err := readHeader(br)
		if err != nil {
			return
		}
		rest, _ := io.ReadAll(br)
		if !bytes.HasSuffix(data, rest) {
			t.Fatalf("the bytes after the header changed: %q is not the end of %q", rest, data)
		}
		consumed := data[:len(data)-len(rest)]
		switch {
		case bytes.HasPrefix(consumed, []byte("PROXY ")):
			if !bytes.HasSuffix(consumed, []byte("\r\n")) || bytes.Count(consumed, []byte("\n")) != 1 {
				t.Fatalf("a v1 header must end at its first CRLF: consumed %q", consumed)
			}
		case bytes.HasPrefix(consumed, v2sig):
			if n := 16 + int(consumed[14])<<8 + int(consumed[15]); n != len(consumed) {
				t.Fatalf("a v2 header of %d bytes consumed %d", n, len(consumed))
			}
		default:
			t.Fatalf("a header read from %q", consumed)
		}
		if h.local {
			if h.src.IsValid() || h.dst.IsValid() {
				t.Fatalf("a health check names addresses: %+v", h)
			}
			return
		}
		if !h.src.IsValid() || !h.dst.IsValid() || h.src.Addr().Is4In6() || h.src.Addr().Zone() != "" {
			t.Fatalf("bad addresses from %q: %+v", consumed, h)
		}
	})
}
