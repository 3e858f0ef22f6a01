package events

import (
	"context"
	"log/slog"
)

// Audit writes the audit-trail line of a file operation (upload, download,
// delete, rename, mkdir, rmdir, mtime) at info: the fields op, path, target
// (renames only), user, remote and session, plus bytes, duration_ms and
// result for transfers. Other kinds of events are not file operations and
// are not logged here.
func Audit(log *slog.Logger, e Event) {
	if !e.Event.IsFileOp() || !log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 9)
	attrs = append(attrs, slog.String("op", string(e.Event)), slog.String("path", e.Path))
	if e.Event == Rename {
		attrs = append(attrs, slog.String("target", e.Target))
	}
	attrs = append(attrs,
		slog.String("user", e.User),
		slog.String("remote", e.Remote),
		slog.String("session", e.Session),
	)
	if e.Event == Upload || e.Event == Download {
		attrs = append(attrs,
			slog.Int64("bytes", e.Bytes),
			slog.Int64("duration_ms", e.DurationMS),
			slog.String("result", e.Result),
		)
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "file operation", attrs...)
}
