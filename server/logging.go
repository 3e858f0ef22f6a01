package server

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

func newLogger(w io.Writer, format string, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// libHandler is the log handler given to ftpserverlib. It hides the argument
// of PASS in the library's debug lines, so passwords never reach a log, even
// at debug, and adds the session, client address and user to the lines of a
// client (the library names only its per-listener client number).
type libHandler struct {
	slog.Handler
	sessions func(clientID uint32) *session
	clientID uint32
}

func (h libHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	if h.clientID != 0 {
		if sess := h.sessions(h.clientID); sess != nil {
			nr.AddAttrs(sess.attrs()...)
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(redactAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, nr)
}

func (h libHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, 0, len(as))
	for _, a := range as {
		if a.Key == "clientId" && a.Value.Kind() == slog.KindUint64 {
			h.clientID = uint32(a.Value.Uint64())
			continue
		}
		out = append(out, redactAttr(a))
	}
	h.Handler = h.Handler.WithAttrs(out)
	return h
}

func (h libHandler) WithGroup(name string) slog.Handler {
	h.Handler = h.Handler.WithGroup(name)
	return h
}

func redactAttr(a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindString {
		return a
	}
	v := strings.TrimLeft(a.Value.String(), " ")
	if len(v) >= 4 && strings.EqualFold(v[:4], "PASS") && (len(v) == 4 || v[4] == ' ') {
		return slog.String(a.Key, "PASS ****")
	}
	return a
}
