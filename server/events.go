package server

import (
	"context"
	"time"

	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/events/hooks"
	"github.com/wharf-ftp/wharf/server/config"
)

// publish sends an event everywhere it goes: the audit trail (file
// operations), the admin API's event stream and the hooks. It never waits.
func (s *Server) publish(e events.Event) {
	events.Audit(s.log, e)
	s.bus.Publish(e)
	if r := s.hooks.Load(); r != nil {
		r.Deliver(e)
	}
}

// who names a session in its events.
func (s *Server) who(sess *session, user string) events.Who {
	return events.Who{
		Node:    s.node,
		Session: sess.id,
		User:    user,
		Remote:  sess.remote.String(),
	}
}

// sessEvent publishes a file operation of a logged-in session.
func (s *Server) sessEvent(sess *session, k events.Kind, path, target string) {
	name := ""
	if u := sess.user.Load(); u != nil {
		name = u.Name
	}
	w := s.who(sess, name)
	if k == events.Rename {
		s.publish(events.Renamed(w, path, target))
		return
	}
	s.publish(events.FileOp(k, w, path))
}

// startHooks builds the runner of cfg's [[hooks]] and swaps it in; the old
// one finishes its queued runs in the background.
func (s *Server) startHooks(cfg *config.Config) error {
	var list []hooks.Hook
	for _, h := range cfg.Hooks {
		list = append(list, hooks.Hook{
			Events:     h.Events,
			Command:    h.Command,
			URL:        h.URL,
			Timeout:    h.Timeout,
			MaxRunning: h.MaxRunning,
		})
	}
	var r *hooks.Runner
	if len(list) > 0 {
		var err error
		r, err = hooks.New(list, hooks.Options{
			Logger:   s.log.With("component", "hooks"),
			OnResult: func(_, result string) { s.metrics.hookRuns.WithLabelValues(result).Inc() },
		})
		if err != nil {
			return err
		}
	}
	if old := s.hooks.Swap(r); old != nil {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = old.Close(ctx)
		}()
	}
	return nil
}

// stopHooks lets queued hook runs finish within ctx.
func (s *Server) stopHooks(ctx context.Context) {
	if r := s.hooks.Swap(nil); r != nil {
		_ = r.Close(ctx)
	}
}
