package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
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

// libQuiet are ftpserverlib's messages about a client's own network trouble
// (a dropped connection, a write after the client left): they are the
// client's business, logged at debug; wharf logs each session's end and each
// transfer's result itself.
var libQuiet = map[string]bool{
	"Couldn't flush line":                 true,
	"Network error":                       true,
	"Read error":                          true,
	"Flush error":                         true,
	"Problem disconnecting a client":      true,
	"Problem disconnecting client on end": true,
	"Problem closing a transfer":          true,
	"Problem closing a transfer on external close request": true,
	"Problem closing transfer connection":                  true,
	"Problem closing passive connection":                   true,
	"Error flushing transfer connection":                   true,
	"Received line too long, disconnecting client":         true,
}

func (h libHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	if libQuiet[r.Message] && level > slog.LevelDebug {
		level = slog.LevelDebug
		if !h.Handler.Enabled(ctx, level) {
			return nil
		}
	}
	nr := slog.NewRecord(r.Time, level, r.Message, r.PC)
	named := false
	if h.clientID != 0 {
		if sess := h.sessions(h.clientID); sess != nil {
			nr.AddAttrs(sess.attrs()...)
			named = true
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "clientIp" && named {
			return true // the session's remote is already there
		}
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

// redactAttr hides passwords and gives every value one JSON type: the
// library's net.Addr, net.IP and error values become strings, and its
// clientIp becomes wharf's remote (the IP address alone).
func redactAttr(a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindAny {
		switch v := a.Value.Any().(type) {
		case net.Addr:
			if a.Key == "clientIp" {
				return slog.String("remote", addrOf(v).String())
			}
			return slog.String(a.Key, v.String())
		case net.IP:
			return slog.String(a.Key, v.String())
		case error:
			return slog.String(a.Key, v.Error())
		case fmt.Stringer:
			return slog.String(a.Key, v.String())
		}
		return a
	}
	if a.Value.Kind() != slog.KindString {
		return a
	}
	v := strings.TrimLeft(a.Value.String(), " ")
	if len(v) >= 4 && strings.EqualFold(v[:4], "PASS") && (len(v) == 4 || v[4] == ' ') {
		return slog.String(a.Key, "PASS ****")
	}
	return a
}
