package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
)

// header is what wharf takes from a PROXY header.
type header struct {
	version byte
	local   bool           // v2 LOCAL or v1 UNKNOWN: the balancer's own connection
	src     netip.AddrPort // the client (unset when local)
	dst     netip.AddrPort // where the client connected to on the balancer (unset when local)
}

var (
	errNoHeader = errors.New("no PROXY header")
	errNotTCP   = errors.New("the PROXY header names no TCP client (UDP or unix socket)")
)

// readHeader reads one PROXY header, v1 or v2, from br and leaves br just
// past it. It accepts a TCP over IPv4 or IPv6 header, or a LOCAL one.
func readHeader(br *bufio.Reader) (header, error) {
	h, err := proxyproto.Read(br)
	if err != nil {
		if errors.Is(err, proxyproto.ErrNoProxyProtocol) {
			return header{}, errNoHeader
		}
		return header{}, err
	}
	out := header{version: h.Version}
	if h.Command.IsLocal() {
		out.local = true
		return out, nil
	}
	src, dst, ok := h.TCPAddrs()
	if !ok {
		return header{}, errNotTCP
	}
	if out.src, ok = addrPort(src); !ok {
		return header{}, errNotTCP
	}
	if out.dst, ok = addrPort(dst); !ok {
		return header{}, errNotTCP
	}
	return out, nil
}

// addrPort converts a TCP address to an unmapped netip.AddrPort.
func addrPort(a *net.TCPAddr) (netip.AddrPort, bool) {
	if a == nil {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok || a.Port < 0 || a.Port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port)), true
}

// peerOf returns the unmapped address and port of a connection's peer, false
// when it is not an IP address.
func peerOf(a net.Addr) (netip.AddrPort, bool) {
	if ta, ok := a.(*net.TCPAddr); ok {
		return addrPort(ta)
	}
	if a == nil {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
