package server

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

// FuzzPortRewrite: rewriting never panics, leaves every line but a PORT/EPRT
// naming a private address as it was, and a rewritten line names the control
// connection's address with the same port.
func FuzzPortRewrite(f *testing.F) {
	for _, s := range []string{"PORT 10,0,0,5,4,1\r\n", "EPRT |1|192.168.0.9|1025|\r\n", "EPRT |2|fd00::1|80|\r\n",
		"PORT 8,8,8,8,0,21\r\n", "NOOP\r\n", "PORT 1,2,3\r\n", "eprt !1!10.1.1.1!5!\r\n"} {
		f.Add(s)
	}
	remote := netip.MustParseAddr("203.0.113.9")
	rw := portRewriter(remote)
	f.Fuzz(func(t *testing.T, line string) {
		out := rw([]byte(line))
		if bytes.Equal(out, []byte(line)) {
			return
		}
		cmd := strings.ToUpper(line[:4])
		addr, port, ok := parseActive(cmd, strings.TrimRight(line[5:], "\r\n"))
		if !ok || !addr.IsPrivate() {
			t.Fatalf("%q rewritten to %q", line, out)
		}
		got, gotPort, ok := parseActive(strings.ToUpper(string(out[:4])), strings.TrimRight(string(out[5:]), "\r\n"))
		if !ok || got != remote || gotPort != port {
			t.Fatalf("%q rewritten to %q", line, out)
		}
	})
}
