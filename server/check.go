package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/wharf-ftp/wharf/passive"
	"github.com/wharf-ftp/wharf/server/config"
)

// CheckOptions are the inputs of `wharf check`.
type CheckOptions struct {
	ConfigPath     string
	Client         string // optional client address: print what PASV would announce to it
	SkipPathChecks bool
	Warnings       io.Writer // where the file's warnings go (FILE:LINE: warning: ...); nil = w
}

// Check validates a configuration file without serving. It prints a summary,
// the passive setup and, with a client address, the address PASV would announce
// to that client. A bad file returns config.Errors.
func Check(o CheckOptions, w io.Writer) error {
	cfg, err := config.Load(o.ConfigPath, config.Options{SkipPathChecks: o.SkipPathChecks})
	if err != nil {
		return err
	}
	warn := o.Warnings
	if warn == nil {
		warn = w
	}
	for _, e := range cfg.Warnings {
		fmt.Fprintln(warn, e.Error())
	}
	if !o.SkipPathChecks {
		if err := checkStores(cfg); err != nil {
			return err
		}
	}
	var client netip.Addr
	if o.Client != "" {
		client, err = parseClientAddr(o.Client)
		if err != nil {
			return err
		}
	}
	ports, err := passive.NewPorts(cfg.Passive.Ports, cfg.Passive.AnnouncedPorts)
	if err != nil {
		return err
	}
	free, bindErr := ports.CheckBindable("0.0.0.0")
	bind := fmt.Sprintf("passive ports %s: %d of %d free now", cfg.Passive.Ports, free, cfg.Passive.Ports.Len())
	if bindErr != nil {
		bind += fmt.Sprintf(" (%v)", bindErr)
	}
	if cfg.Passive.AnnouncedPorts.Len() > 0 {
		bind += fmt.Sprintf(", announced as %s", cfg.Passive.AnnouncedPorts)
	}

	a := passive.NewAnnouncer(passive.AnnouncerConfig{
		Overrides:       cfg.Passive.Overrides,
		LocalNetworks:   cfg.Passive.LocalNetworks,
		ExternalAddress: cfg.Passive.ExternalAddress,
		ExternalURL:     cfg.Passive.ExternalAddressURL,
		Refresh:         cfg.Passive.ExternalAddressRefresh,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a.Start(ctx)
	// The one-line summary, then what the ports look like now and who is told
	// what, one line each.
	fmt.Fprintln(w, cfg.Summary())
	fmt.Fprintln(w, bind)
	for _, part := range strings.Split(a.Describe(), "; ") {
		fmt.Fprintln(w, "passive: "+part)
	}
	if !client.IsValid() {
		return nil
	}
	local := localAddrFor(cfg, client)
	addr, err := a.Address(client, local)
	if err != nil {
		fmt.Fprintf(w, "PASV to %s: refused (%v); EPSV works\n", client, err)
		return nil
	}
	fmt.Fprintf(w, "PASV to %s announces %s\n", client, addr)
	return nil
}

func parseClientAddr(s string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("--client %q: not an IP address", s)
}

// localAddrFor guesses the local address a client would reach: the first control
// listener's host when it is specific, otherwise the address the kernel would
// use as source towards the client (a UDP "connect" sends no packet).
func localAddrFor(cfg *config.Config, client netip.Addr) netip.Addr {
	if len(cfg.Server.Listen) > 0 {
		if host, _, err := net.SplitHostPort(cfg.Server.Listen[0]); err == nil {
			if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
				return a.Unmap()
			}
		}
	}
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(client, 9)))
	if err != nil {
		return netip.IPv4Unspecified()
	}
	defer c.Close()
	return addrOf(c.LocalAddr())
}
