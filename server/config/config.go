// Package config reads and validates wharf's TOML configuration file.
//
// [Load] (and [Parse]) decode the file into plain values first, then check
// every setting in a second pass, so that one run reports every problem, each
// as FILE:LINE: message, sorted by line. The value types themselves (networks,
// permissions, rates, port ranges) and their parsers belong to the packages
// auth, fs and passive; this package only maps TOML onto them.
package config

import (
	"crypto/tls"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/passive"
)

// Config is a complete, validated configuration.
type Config struct {
	File     string // the file it was read from, as given
	Server   Server
	TLS      TLS
	Passive  Passive
	Active   Active
	Limits   Limits
	IPFilter IPFilter
	Autoban  Autoban
	Metrics  Metrics
	Admin    Admin
	Proxy    ProxyProtocol
	Cluster  Cluster
	Log      Log
	Hooks    []Hook
	Stores   map[string]*Store
	Groups   map[string]*Group
	Users    map[string]*User

	// Warnings are problems that do not stop the file from loading (an inline
	// secret, say): `check` prints them, `serve` logs them.
	Warnings Errors
}

// Server is the [server] table.
type Server struct {
	Listen              []string // control listeners, host:port
	Banner              string   // the 220 greeting
	MaxConnections      int      // 0 = unlimited
	MaxConnectionsPerIP int      // 0 = unlimited
	IdleTimeout         time.Duration
	DataTimeout         time.Duration
	ShutdownGrace       time.Duration
	AtomicUploads       bool
	CompressionLevel    int // 0 (MODE Z off) .. 9
}

// TLS is the [tls] table.
type TLS struct {
	Certificate, Key string   // PEM files; both empty = no FTPS
	ImplicitListen   []string // implicit FTPS listeners, host:port
	Require          string   // "none" | "login" | "all"
	MinVersion       uint16   // tls.VersionTLS12 | tls.VersionTLS13
	SessionReuse     string   // "none" | "required"
	ClientCA         string   // PEM bundle file, "" = none
	ClientAuth       string   // "none" | "request" | "require"
	StrictUploadEOF  bool     // a TLS upload must end with the client's close_notify
}

// Enabled reports whether FTPS is configured (a certificate is set).
func (t TLS) Enabled() bool { return t.Certificate != "" }

// Passive is the [passive] table.
type Passive struct {
	Ports                  passive.PortRange
	AnnouncedPorts         passive.PortRange // zero value when not set
	ExternalAddress        string            // IPv4 literal or DNS name, "" = none
	ExternalAddressURL     string            // http(s) URL, "" = none
	ExternalAddressRefresh time.Duration
	LocalNetworks          []netip.Prefix
	Overrides              []passive.Override
}

// Active is the [active] table.
type Active struct {
	Enabled, AllowForeign bool
	// UseControlAddress: a PORT/EPRT naming a private address connects to the
	// control connection's address with that port instead.
	UseControlAddress bool
}

// Limits are transfer rate caps, per direction; 0 = no cap.
type Limits struct{ Download, Upload fs.Rate }

// IPFilter is an allow/deny pair of network lists: when Allow is not empty
// only its networks pass; Deny refuses, unless Allow also matches.
type IPFilter struct{ Allow, Deny []netip.Prefix }

// IsEmpty reports whether f has no network at all.
func (f IPFilter) IsEmpty() bool { return len(f.Allow) == 0 && len(f.Deny) == 0 }

// Autoban is the [autoban] table.
type Autoban struct {
	Enabled   bool
	Failures  int           // failed logins from one address ...
	Window    time.Duration // ... within this window ...
	Ban       time.Duration // ... ban it this long
	Exempt    []netip.Prefix
	StateFile string // "" = bans do not survive a restart
}

// Metrics is the [metrics] table.
type Metrics struct {
	Listen string // host:port, "" = off
}

// Admin is the [admin] table: the admin API and status page.
type Admin struct {
	Listen string // "unix:/path", "host:port", "" = off
	TLS    bool   // HTTPS with the [tls] certificate (TCP only)
	Users  map[string]*AdminUser
}

// Socket returns the path of a unix socket listener, or "" for TCP or off.
func (a Admin) Socket() string {
	p, _ := strings.CutPrefix(a.Listen, unixPrefix)
	if p == a.Listen {
		return ""
	}
	return p
}

// Admin roles.
const (
	RoleAdmin  = "admin"  // everything
	RoleViewer = "viewer" // reads only
)

// AdminUser is one [admin.users.NAME] table.
type AdminUser struct {
	Name     string
	Password string // validated hash
	Role     string // RoleAdmin | RoleViewer
}

// ProxyProtocol is the [proxy_protocol] table.
type ProxyProtocol struct {
	Trusted []netip.Prefix // load balancers: their connections must open with a PROXY header
	Timeout time.Duration  // for the header to arrive
}

// Cluster is the [cluster] table.
type Cluster struct {
	Redis string // "redis://..." or "rediss://...", "" = this node alone
	Node  string // this node's name; "" = the host name (see NodeName)
}

// NodeName returns Node, or the host name when Node is empty.
func (c Cluster) NodeName() string {
	if c.Node != "" {
		return c.Node
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "wharf"
}

// Hook is one [[hooks]] entry: a command or a URL run for some events.
type Hook struct {
	Events     []events.Kind
	Command    []string // argv; the event JSON on stdin
	URL        string   // or: POST the event JSON here
	Timeout    time.Duration
	MaxRunning int // of this hook at once
	Line       int // line of its [[hooks]] header, 0 if unknown
}

// Store is one [stores.NAME] table: an S3-compatible object store.
type Store struct {
	Name          string
	Type          string // "s3"
	Endpoint      string // http(s) URL
	Region        string
	Bucket        string
	Prefix        string // key prefix inside the bucket, "" or ending in "/"
	AccessKey     string
	SecretKey     string // from SecretKeyFile (trimmed), or inline
	SecretKeyFile string
	PathStyle     bool
	Line          int // line of its [stores.NAME] header
}

// Quota caps a folder: bytes and files below its mount point; 0 = no cap.
type Quota struct {
	Size  fs.Size
	Files int64
}

// Log is the [log] table.
type Log struct {
	Level       slog.Level
	Format      string // "text" | "json"
	TransferLog string // xferlog file, "" = off
}

// RateOverride is a group's or a user's limits table; nil = not set there.
type RateOverride struct{ Download, Upload *fs.Rate }

// Folder is one mounted directory of a group or a user.
type Folder struct {
	Mount string  // virtual path: absolute, cleaned
	Path  string  // real directory, absolute; with Store, the key prefix inside the store ("" or ending in "/")
	Store string  // name of a [stores.NAME] the folder lives in; "" = a local directory
	Perm  fs.Perm // effective: the folder's own, else its group's, else list+read
	Quota Quota
	Line  int // line of its [[...folders]] header, 0 if unknown
}

// Group is one [groups.NAME] table.
type Group struct {
	Name     string
	Perm     *fs.Perm // default permissions of its folders, nil = unset
	Limits   RateOverride
	IPFilter IPFilter
	Folders  []Folder
}

// User is one [users.NAME] table.
type User struct {
	Name                string
	Password            string // validated hash; "" when anonymous or certificate-only
	Groups              []string
	Home                string // virtual directory after login, default "/"
	Disabled            bool
	MaxSessions         int // 0 = unlimited
	RequireTLS          bool
	TLSCertificateLogin bool
	Limits              RateOverride
	IPFilter            IPFilter
	Anonymous           bool
	Folders             []Folder
}

// Default returns a configuration holding every default of the contract:
// no users, no groups and no certificate.
func Default() *Config {
	return &Config{
		Server: Server{
			Listen:              []string{"0.0.0.0:21"},
			Banner:              "wharf ready",
			MaxConnections:      512,
			MaxConnectionsPerIP: 16,
			IdleTimeout:         5 * time.Minute,
			DataTimeout:         30 * time.Second,
			ShutdownGrace:       30 * time.Second,
			AtomicUploads:       true,
			CompressionLevel:    0,
		},
		TLS: TLS{
			Require:         requireNone,
			MinVersion:      tls.VersionTLS12,
			SessionReuse:    "required",
			ClientAuth:      "none",
			StrictUploadEOF: true,
		},
		Passive: Passive{
			Ports:                  passive.PortRange{First: 50000, Last: 50099},
			ExternalAddressRefresh: 5 * time.Minute,
			LocalNetworks: prefixes("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12",
				"192.168.0.0/16", "::1/128", "fc00::/7"),
		},
		Active: Active{Enabled: true},
		Autoban: Autoban{
			Enabled:  true,
			Failures: 5,
			Window:   10 * time.Minute,
			Ban:      time.Hour,
			Exempt:   prefixes("127.0.0.0/8", "::1/128"),
		},
		Admin:  Admin{Users: map[string]*AdminUser{}},
		Proxy:  ProxyProtocol{Timeout: 5 * time.Second},
		Log:    Log{Level: slog.LevelInfo, Format: "text"},
		Stores: map[string]*Store{},
		Groups: map[string]*Group{},
		Users:  map[string]*User{},
	}
}

// prefixes parses constant networks.
func prefixes(cidrs ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(cidrs))
	for i, c := range cidrs {
		out[i] = netip.MustParsePrefix(c)
	}
	return out
}
