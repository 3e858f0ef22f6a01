package cluster

import (
	"context"
	"encoding/json"
	"time"
)

// Session is one open control connection as the directory shares it: the
// admin API's session object.
type Session struct {
	ID          string    `json:"id"` // unique across the cluster
	Node        string    `json:"node"`
	User        string    `json:"user"`   // "" before login
	Remote      string    `json:"remote"` // IP address, without a port
	Listener    string    `json:"listener"`
	TLS         bool      `json:"tls"`
	ConnectedAt time.Time `json:"connected_at"`
	IdleSeconds int64     `json:"idle_seconds"`
	Transfer    *Transfer `json:"transfer"` // nil: none in progress
}

// Transfer is a session's transfer in progress.
type Transfer struct {
	Direction      string    `json:"direction"` // "upload", "download" or "list"
	Path           string    `json:"path"`
	Bytes          int64     `json:"bytes"`
	Size           *int64    `json:"size"` // nil when unknown
	BytesPerSecond int64     `json:"bytes_per_second"`
	StartedAt      time.Time `json:"started_at"`
}

// entry is one instance's sessions in the directory.
type entry struct {
	Node     string    `json:"node"`
	Instance string    `json:"instance"`
	Sessions []Session `json:"sessions"`
}

// List returns the sessions of every node: this node's as Options.Sessions
// gives them now, then the others' as they last wrote them (at most
// SessionsEvery ago). With ErrDown it still returns this node's.
func (c *Cluster) List(ctx context.Context) ([]Session, error) {
	own := c.ownSessions()
	others, err := c.others(ctx)
	if err != nil {
		return own, err
	}
	out := own
	for _, e := range others {
		out = append(out, e.Sessions...)
	}
	return out, nil
}

// Kick asks the node holding session id to close it: true when another
// instance lists it (it closes the session when the message reaches it,
// normally within milliseconds). This node's own sessions are not looked up:
// the caller closes those itself.
func (c *Cluster) Kick(ctx context.Context, id string) (bool, error) {
	others, err := c.others(ctx)
	if err != nil {
		return false, err
	}
	for _, e := range others {
		for _, s := range e.Sessions {
			if s.ID != id {
				continue
			}
			ctx, cancel, err := c.call(ctx)
			if err != nil {
				return false, err
			}
			defer cancel()
			msg, err := json.Marshal(message{Op: "kick", From: c.instance, To: e.Instance, ID: id})
			if err != nil {
				return false, err
			}
			if err := c.rdb.Publish(ctx, c.key("bus"), msg).Err(); err != nil {
				return false, c.failed(err)
			}
			return true, nil
		}
	}
	return false, nil
}

// ownSessions returns this node's sessions, each naming this node.
func (c *Cluster) ownSessions() []Session {
	if c.opt.Sessions == nil {
		return nil
	}
	own := c.opt.Sessions()
	for i := range own {
		own[i].Node = c.opt.Node
	}
	return own
}

// others returns the directory's entries of the other instances.
func (c *Cluster) others(ctx context.Context) ([]entry, error) {
	ctx, cancel, err := c.call(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	raw, err := liveScript.Run(ctx, c.rdb, []string{c.key("instances"), c.key("sessions")}).StringSlice()
	if err != nil {
		return nil, c.failed(err)
	}
	out := make([]entry, 0, len(raw))
	for _, s := range raw {
		var e entry
		if err := json.Unmarshal([]byte(s), &e); err != nil {
			c.log.Debug("stored sessions not understood", "error", err.Error())
			continue
		}
		if e.Instance == c.instance {
			continue
		}
		for i := range e.Sessions {
			e.Sessions[i].Node = e.Node
		}
		out = append(out, e)
	}
	return out, nil
}

// publishSessions writes this instance's sessions to the directory, to live
// three times SessionsEvery.
func (c *Cluster) publishSessions() error {
	data, err := json.Marshal(entry{Node: c.opt.Node, Instance: c.instance, Sessions: c.ownSessions()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opt.Timeout)
	defer cancel()
	err = publishSessionsScript.Run(ctx, c.rdb, []string{c.key("sessions"), c.key("instances")},
		c.instance, data, (3 * c.opt.SessionsEvery).Milliseconds()).Err()
	if err == nil {
		c.mu.Lock()
		c.pubbed = time.Now()
		c.mu.Unlock()
	}
	return err
}
