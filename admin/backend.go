package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"time"
)

// Backend is what the admin API reads and changes: the running server, seen
// through the few operations an operator needs. server/ implements it; admin
// knows nothing else of the server. Every method may be called concurrently.
type Backend interface {
	// Status answers GET /api/v1/status.
	Status(ctx context.Context) (Status, error)
	// Sessions lists the open control connections (every node's in a cluster).
	Sessions(ctx context.Context) ([]Session, error)
	// Kick closes one session with 421, cutting its transfer. An unknown id
	// is ErrNotFound.
	Kick(ctx context.Context, id string) error
	// Bans lists the bans in force.
	Bans(ctx context.Context) ([]Ban, error)
	// Ban bans a prefix (already masked: a bare address arrives as its /32 or
	// /64) for d (0: the server's default ban duration) and closes that
	// prefix's open sessions. It returns the ban as Bans would list it.
	Ban(ctx context.Context, p netip.Prefix, d time.Duration, note string) (Ban, error)
	// Unban lifts the ban of exactly p; no such ban is ErrNotFound.
	Unban(ctx context.Context, p netip.Prefix) error
	// Reload reloads the configuration file as SIGHUP does. A file that fails
	// validation is a result with OK false and its FILE:LINE: message lines,
	// not an error; the error is for a reload that could not run at all.
	Reload(ctx context.Context) (ReloadResult, error)
	// Upgrade starts a gapless upgrade as SIGUSR2 does; ErrNotImplemented
	// where the server cannot.
	Upgrade(ctx context.Context) error
	// Users lists the FTP accounts with their folders and quota usage.
	Users(ctx context.Context) ([]User, error)
	// Subscribe delivers events as they happen until cancel is called or ctx
	// ends; the channel is closed then. A slow reader may miss events: the
	// backend must not block on it.
	Subscribe(ctx context.Context) (events <-chan Event, cancel func())
}

// Errors a Backend returns for the API to map onto status codes.
var (
	ErrNotFound       = errors.New("not found")       // 404: no such session or ban
	ErrNotImplemented = errors.New("not implemented") // 501
)

// Status answers GET /api/v1/status.
type Status struct {
	Version        string    `json:"version"`
	Node           string    `json:"node"`
	PID            int       `json:"pid"`
	StartedAt      time.Time `json:"started_at"`
	Sessions       int       `json:"sessions"`  // open control connections, logged in or not
	Transfers      int       `json:"transfers"` // transfers in progress
	ConfigLoadedAt time.Time `json:"config_loaded_at"`
	ConfigOK       bool      `json:"config_ok"` // false after a rejected reload until the next good one
	// ConfigErrors are the FILE:LINE: message lines of the last rejected
	// reload while ConfigOK is false, else empty.
	ConfigErrors []string `json:"config_errors"`
}

// Session is one open control connection.
type Session struct {
	ID          string     `json:"id"`
	Node        string     `json:"node"`
	User        string     `json:"user"` // "" before login
	Remote      netip.Addr `json:"remote"`
	Listener    string     `json:"listener"` // the listener's configured address
	TLS         bool       `json:"tls"`
	ConnectedAt time.Time  `json:"connected_at"`
	IdleSeconds int64      `json:"idle_seconds"`
	Transfer    *Transfer  `json:"transfer"` // nil: none in progress
}

// Directions of a transfer.
const (
	Upload   = "upload"
	Download = "download"
	List     = "list"
)

// Transfer is a session's transfer in progress.
type Transfer struct {
	Direction      string    `json:"direction"` // Upload, Download or List
	Path           string    `json:"path"`      // virtual path
	Bytes          int64     `json:"bytes"`     // moved so far
	Size           Size      `json:"size"`      // -1 (JSON null) when unknown
	BytesPerSecond int64     `json:"bytes_per_second"`
	StartedAt      time.Time `json:"started_at"`
}

// Size is a byte count that may be unknown: a negative value is JSON null.
type Size int64

// Unknown is a Size that is not known.
const Unknown Size = -1

// MarshalJSON writes null for an unknown size.
func (s Size) MarshalJSON() ([]byte, error) {
	if s < 0 {
		return []byte("null"), nil
	}
	return json.Marshal(int64(s))
}

// UnmarshalJSON reads null as Unknown.
func (s *Size) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = Unknown
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = Size(n)
	return nil
}

// Ban reasons.
const (
	ReasonAutoban = "autoban"
	ReasonManual  = "manual"
)

// Ban is one ban in force.
type Ban struct {
	Address  netip.Prefix `json:"address"` // e.g. 192.0.2.7/32, 2001:db8::/64
	Until    time.Time    `json:"until"`
	Reason   string       `json:"reason"` // ReasonAutoban or ReasonManual
	Note     string       `json:"note"`
	Failures int          `json:"failures"` // failed logins that led to an autoban
}

// BanRequest is the body of POST /api/v1/bans.
type BanRequest struct {
	Address  string `json:"address"`  // a bare address (its /32 or /64) or a prefix
	Duration string `json:"duration"` // a Go duration; "" = the server's default
	Note     string `json:"note"`
}

// ReloadResult is the outcome of a reload.
type ReloadResult struct {
	OK     bool     `json:"ok"`
	Errors []string `json:"errors,omitempty"` // FILE:LINE: message, when rejected
}

// User is one FTP account.
type User struct {
	Name     string   `json:"name"`
	Groups   []string `json:"groups"`
	Disabled bool     `json:"disabled"`
	Sessions int      `json:"sessions"`
	Folders  []Folder `json:"folders"`
}

// Folder is one of a user's folders with its quota (0 = no cap) and usage.
type Folder struct {
	Mount      string `json:"mount"`
	QuotaSize  int64  `json:"quota_size"`
	QuotaFiles int64  `json:"quota_files"`
	UsedSize   int64  `json:"used_size"`
	UsedFiles  int64  `json:"used_files"`
}

// Event is one event for GET /api/v1/events: Data is one JSON object (the
// hook event of the contract's Events section) and Kind its "event" name.
type Event struct {
	Kind string
	Data json.RawMessage
}

// NewEvent makes an Event of kind from v, which encodes as one JSON object
// (an events.Event, for one).
func NewEvent(kind string, v any) (Event, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Event{}, err
	}
	return Event{Kind: kind, Data: b}, nil
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error  string   `json:"error"`
	Errors []string `json:"errors,omitempty"` // a rejected reload's FILE:LINE: message lines
}
