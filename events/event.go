package events

import (
	"encoding/json"
	"time"
)

// Mtime is a change of a file's modification time (MFMT, MDTM with a time).
// It is logged in the audit trail and streamed to the admin API, but it is
// not a hook event: ParseKinds refuses it.
const Mtime Kind = "mtime"

// Transfer results.
const (
	Complete    = "complete"
	Interrupted = "interrupted"
)

// TimeFormat is how an event's time is written: RFC 3339 in UTC, to the
// millisecond.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Event is one thing that happened. Its JSON form is the contract's hook
// event: every key always present, always in this order.
type Event struct {
	Event      Kind      `json:"event"`
	Time       time.Time `json:"time"`
	Node       string    `json:"node"`
	Session    string    `json:"session"` // the session's id in /api/v1/sessions
	User       string    `json:"user"`
	Remote     string    `json:"remote"` // the client's IP address, without a port
	Path       string    `json:"path"`   // virtual path
	Target     string    `json:"target"` // the new path of a rename, else ""
	Bytes      int64     `json:"bytes"`
	DurationMS int64     `json:"duration_ms"`
	Result     string    `json:"result"` // Complete or Interrupted for transfers, else ""
}

// Who says where an event comes from: the node, the session and its client.
type Who struct {
	Node    string
	Session string
	User    string
	Remote  string // IP address, without a port
}

// New returns an event of kind k from w, stamped now.
func New(k Kind, w Who) Event {
	return Event{
		Event:   k,
		Time:    time.Now().UTC(),
		Node:    w.Node,
		Session: w.Session,
		User:    w.User,
		Remote:  w.Remote,
	}
}

// Transfer returns an upload or download event (k is Upload or Download) of
// n bytes that took d; complete false means interrupted.
func Transfer(k Kind, w Who, path string, n int64, d time.Duration, complete bool) Event {
	e := New(k, w)
	e.Path = path
	e.Bytes = n
	e.DurationMS = d.Milliseconds()
	e.Result = Interrupted
	if complete {
		e.Result = Complete
	}
	return e
}

// FileOp returns a delete, mkdir, rmdir or mtime event on path.
func FileOp(k Kind, w Who, path string) Event {
	e := New(k, w)
	e.Path = path
	return e
}

// Renamed returns a rename event from path to target.
func Renamed(w Who, path, target string) Event {
	e := New(Rename, w)
	e.Path = path
	e.Target = target
	return e
}

// LoginEvent returns a login event, or a login_failed one when ok is false.
// For a failed login w.User is the name that was tried.
func LoginEvent(w Who, ok bool) Event {
	if ok {
		return New(Login, w)
	}
	return New(LoginFailed, w)
}

// Banned returns a ban event; address (in Remote) is the banned address or
// prefix as the bans list shows it, e.g. "192.0.2.7/32".
func Banned(node, address string) Event {
	return New(Ban, Who{Node: node, Remote: address})
}

// IsFileOp reports whether k is a file operation of the audit trail.
func (k Kind) IsFileOp() bool {
	switch k {
	case Upload, Download, Delete, Rename, Mkdir, Rmdir, Mtime:
		return true
	}
	return false
}

// wire is Event as it is written: the time as a string in UTC.
type wire struct {
	Event      Kind   `json:"event"`
	Time       string `json:"time"`
	Node       string `json:"node"`
	Session    string `json:"session"`
	User       string `json:"user"`
	Remote     string `json:"remote"`
	Path       string `json:"path"`
	Target     string `json:"target"`
	Bytes      int64  `json:"bytes"`
	DurationMS int64  `json:"duration_ms"`
	Result     string `json:"result"`
}

// MarshalJSON writes the contract's object, the time in UTC.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.toWire())
}

func (e Event) toWire() wire {
	return wire{
		Event:      e.Event,
		Time:       e.Time.UTC().Format(TimeFormat),
		Node:       e.Node,
		Session:    e.Session,
		User:       e.User,
		Remote:     e.Remote,
		Path:       e.Path,
		Target:     e.Target,
		Bytes:      e.Bytes,
		DurationMS: e.DurationMS,
		Result:     e.Result,
	}
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var t time.Time
	if w.Time != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, w.Time); err != nil {
			return err
		}
	}
	*e = Event{
		Event: w.Event, Time: t, Node: w.Node, Session: w.Session, User: w.User,
		Remote: w.Remote, Path: w.Path, Target: w.Target, Bytes: w.Bytes,
		DurationMS: w.DurationMS, Result: w.Result,
	}
	return nil
}

// JSON returns the event's JSON object.
func (e Event) JSON() []byte {
	b, err := json.Marshal(e.toWire())
	if err != nil { // strings and integers only: cannot happen
		panic(err)
	}
	return b
}
