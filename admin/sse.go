package admin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"
)

// maxStreams bounds the event streams open at once.
const maxStreams = 64

// keepAlive is how often an idle stream gets a comment line.
const keepAlive = 20 * time.Second

// streamWriteTimeout bounds one write to a stream's client.
const streamWriteTimeout = 10 * time.Second

// apiEvents streams Server-Sent Events: each Backend event as one unnamed
// event whose data is its JSON object on one line. With ?live=1 the stream
// also carries named snapshots for the status page, each when it changed:
// "status", "sessions" and "bans", with the JSON of the matching GET.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request, _ principal) {
	if n := s.streams.Add(1); n > maxStreams {
		s.streams.Add(-1)
		writeError(w, http.StatusServiceUnavailable, "too many event streams open")
		return
	}
	defer s.streams.Add(-1)

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	ctx := r.Context()
	events, cancel := s.opt.Backend.Subscribe(ctx)
	defer cancel()

	st := &stream{w: w, rc: rc}
	if !st.write([]byte("retry: 3000\n: wharf events\n\n")) {
		return
	}
	live := r.URL.Query().Get("live") == "1"
	var tick <-chan time.Time
	if live {
		t := time.NewTicker(s.opt.LiveInterval)
		defer t.Stop()
		tick = t.C
		if !s.snapshots(r, st) {
			return
		}
	}
	ping := time.NewTicker(keepAlive)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if !st.event("", ev.Data) {
				return
			}
		case <-tick:
			if !s.snapshots(r, st) {
				return
			}
		case <-ping.C:
			if !st.write([]byte(": ping\n\n")) {
				return
			}
		}
	}
}

// snapshots sends the page's named events that changed since the last.
func (s *Server) snapshots(r *http.Request, st *stream) bool {
	ctx := r.Context()
	if v, err := s.opt.Backend.Status(ctx); err == nil {
		if !st.changed("status", normStatus(v)) {
			return false
		}
	}
	if v, err := s.opt.Backend.Sessions(ctx); err == nil {
		if !st.changed("sessions", normSessions(v)) {
			return false
		}
	}
	if v, err := s.opt.Backend.Bans(ctx); err == nil {
		if !st.changed("bans", normBans(v)) {
			return false
		}
	}
	return true
}

// stream writes one client's events.
type stream struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	last map[string][]byte
	buf  bytes.Buffer
}

// changed sends v as the named event when its JSON differs from the last sent.
func (st *stream) changed(name string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return true
	}
	if st.last == nil {
		st.last = map[string][]byte{}
	}
	if bytes.Equal(st.last[name], b) {
		return true
	}
	st.last[name] = b
	return st.event(name, b)
}

// event sends one event; data is JSON, put on one line.
func (st *stream) event(name string, data []byte) bool {
	st.buf.Reset()
	if name != "" {
		st.buf.WriteString("event: " + name + "\n")
	}
	st.buf.WriteString("data: ")
	if err := json.Compact(&st.buf, data); err != nil {
		return true // not JSON: dropped
	}
	st.buf.WriteString("\n\n")
	return st.write(st.buf.Bytes())
}

// write sends b and flushes it, within streamWriteTimeout.
func (st *stream) write(b []byte) bool {
	_ = st.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := st.w.Write(b); err != nil {
		return false
	}
	return st.rc.Flush() == nil
}
