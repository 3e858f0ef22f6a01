package server

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxControlLine is the longest command line ftpserverlib reads (its 4096-byte
// buffer holds the line and its CRLF); it drops a longer one without a word.
const maxControlLine = 4096 - 2

// scanClear follows the command lines of a clear control stream (read on the
// session's goroutine only): complete lines go to c.out, perhaps rewritten; a
// line too long gets a 500 and ends the stream; after an AUTH line the rest is
// TLS and passes untouched.
func (c *controlConn) scanClear(p []byte) {
	for len(p) > 0 {
		if c.encrypted {
			c.out = append(c.out, p...)
			return
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.line = append(c.line, p...)
			p = nil
		} else {
			c.line = append(c.line, p[:i+1]...)
			p = p[i+1:]
		}
		if len(bytes.TrimRight(c.line, "\r\n")) > maxControlLine {
			c.tooLong = true
			c.say(500, "Command line too long (at most "+strconv.Itoa(maxControlLine)+" bytes): closing control connection.")
			c.line, c.out = nil, nil
			return
		}
		if i < 0 {
			return
		}
		line := c.line
		c.line = nil
		if code, text, bad := protRefusal(line); bad {
			// ftpserverlib would answer 200 and fall back to clear data.
			if len(c.out) > 0 {
				// Earlier lines first: this one is answered once they
				// have their replies (the next Read).
				c.pending = append(line, p...)
				return
			}
			c.say(code, text)
			continue
		}
		if len(line) >= 5 && strings.EqualFold(string(line[:5]), "AUTH ") {
			c.encrypted = true // TLS follows if ftpserverlib accepts AUTH
		} else if c.rewrite != nil {
			line = c.rewrite(line)
		}
		c.out = append(c.out, line...)
	}
}

// protRefusal reports whether line is a PROT command with a level other than
// C or P, and the reply it gets: 536 for the levels RFC 4217 names (S, E),
// 504 for anything else. The protection level stays as it was.
func protRefusal(line []byte) (code int, text string, bad bool) {
	l := strings.TrimRight(string(line), "\r\n")
	cmd, level, _ := strings.Cut(l, " ")
	if !strings.EqualFold(cmd, "PROT") {
		return 0, "", false
	}
	level = strings.TrimSpace(level)
	switch strings.ToUpper(level) {
	case "C", "P":
		return 0, "", false
	case "S", "E":
		return 536, "PROT " + level + " is not supported: use C (clear) or P (private).", true
	}
	return 504, "PROT level " + strconv.Quote(level) + " not understood: use C (clear) or P (private).", true
}

// portRewriter returns the rewriting of [active] use_control_address: a PORT
// or EPRT naming a private address (a client behind NAT that does not know
// its public one) names the control connection's address instead, with the
// same port. Bounce protection is unchanged: the address is the client's own.
func portRewriter(remote netip.Addr) func([]byte) []byte {
	return func(line []byte) []byte {
		if len(line) < 5 {
			return line
		}
		cmd := strings.ToUpper(string(line[:5]))
		if cmd != "PORT " && cmd != "EPRT " {
			return line
		}
		arg := strings.TrimRight(string(line[5:]), "\r\n")
		addr, port, ok := parseActive(cmd[:4], arg)
		if !ok || !addr.IsPrivate() || addr == remote {
			return line
		}
		var out string
		if cmd == "PORT " {
			if !remote.Is4() {
				return line
			}
			b := remote.As4()
			out = fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d\r\n", b[0], b[1], b[2], b[3], port>>8, port&0xff)
		} else {
			fam := 1
			if !remote.Is4() {
				fam = 2
			}
			out = fmt.Sprintf("EPRT |%d|%s|%d|\r\n", fam, remote, port)
		}
		return []byte(out)
	}
}

// parseActive reads the address and port of a PORT or EPRT argument.
func parseActive(cmd, arg string) (netip.Addr, int, bool) {
	if cmd == "PORT" {
		f := strings.Split(strings.TrimSpace(arg), ",")
		if len(f) != 6 {
			return netip.Addr{}, 0, false
		}
		var n [6]int
		for i, s := range f {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || v < 0 || v > 255 {
				return netip.Addr{}, 0, false
			}
			n[i] = v
		}
		return netip.AddrFrom4([4]byte{byte(n[0]), byte(n[1]), byte(n[2]), byte(n[3])}), n[4]<<8 | n[5], true
	}
	arg = strings.TrimSpace(arg)
	if len(arg) < 2 {
		return netip.Addr{}, 0, false
	}
	f := strings.Split(arg[1:], arg[:1])
	if len(f) != 4 {
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(f[1])
	p, perr := strconv.Atoi(f[2])
	if err != nil || perr != nil || p <= 0 || p > 65535 {
		return netip.Addr{}, 0, false
	}
	return a.Unmap(), p, true
}
