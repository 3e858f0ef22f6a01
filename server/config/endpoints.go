package config

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Endpoints are the addresses a local client of a running server reads from
// its configuration file: `wharf ctl` (the admin API) and `wharf health` (the
// metrics listener's /healthz).
type Endpoints struct {
	AdminListen   string // [admin] listen, "" = off
	AdminTLS      bool   // [admin] tls
	MetricsListen string // [metrics] listen, "" = off
}

// ReadEndpoints reads the [admin] and [metrics] listeners of the file at path,
// without validating the rest: a file that a running server rejected on
// reload still names the admin API that reports why.
func ReadEndpoints(path string) (Endpoints, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return Endpoints{}, fmt.Errorf("%s: cannot read the file: %w", path, err)
	}
	var doc struct {
		Admin struct {
			Listen string `toml:"listen"`
			TLS    bool   `toml:"tls"`
		} `toml:"admin"`
		Metrics struct {
			Listen string `toml:"listen"`
		} `toml:"metrics"`
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Endpoints{}, Errors{{File: path, Line: pe.Position.Line, Msg: "syntax error: " + pe.Message}}
		}
		return Endpoints{}, fmt.Errorf("%s: %w", path, err)
	}
	return Endpoints{AdminListen: doc.Admin.Listen, AdminTLS: doc.Admin.TLS, MetricsListen: doc.Metrics.Listen}, nil
}

// AdminURL is the address a client on this host uses to reach the admin API:
// "unix:PATH", or "http://host:port" ("https" with tls), where a wildcard
// host becomes the loopback address.
func (e Endpoints) AdminURL() (string, error) {
	if e.AdminListen == "" {
		return "", errors.New("the admin API is off ([admin] listen is not set)")
	}
	if strings.HasPrefix(e.AdminListen, unixPrefix) {
		return e.AdminListen, nil
	}
	hp, err := dialAddress(e.AdminListen)
	if err != nil {
		return "", fmt.Errorf("[admin] listen %q: %w", e.AdminListen, err)
	}
	if e.AdminTLS {
		return "https://" + hp, nil
	}
	return "http://" + hp, nil
}

// HealthURL is the /healthz URL of the metrics listener, for a client on this host.
func (e Endpoints) HealthURL() (string, error) {
	if e.MetricsListen == "" {
		return "", errors.New("the metrics listener is off ([metrics] listen is not set)")
	}
	hp, err := dialAddress(e.MetricsListen)
	if err != nil {
		return "", fmt.Errorf("[metrics] listen %q: %w", e.MetricsListen, err)
	}
	return "http://" + hp + "/healthz", nil
}

// dialAddress turns a listener address into one to connect to: a wildcard
// host ("", 0.0.0.0, ::) becomes the loopback address of its family.
func dialAddress(listen string) (string, error) {
	la, msg := parseListen(listen)
	if msg != "" {
		return "", errors.New(msg)
	}
	if la.port == 0 {
		return "", errors.New("port 0 is chosen at start: set a fixed port")
	}
	host := la.host
	if la.wildcard() {
		host = "127.0.0.1"
		if a, err := netip.ParseAddr(la.host); err == nil && a.Is6() && !a.Is4In6() {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, fmt.Sprint(la.port)), nil
}
