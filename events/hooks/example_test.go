package hooks_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/events/hooks"
)

// The server builds a Runner from its [[hooks]] at start and on every reload,
// and hands each event to the audit log, the bus and the runner: none of them
// waits.
func ExampleNew() {
	log := slog.Default()
	runs := map[string]int{} // stands for wharf_hook_runs_total{result}
	r, err := hooks.New([]hooks.Hook{{
		Events:  []events.Kind{events.Upload},
		Command: []string{"/usr/local/bin/scan", "--quiet"},
		Timeout: 30 * time.Second,
	}}, hooks.Options{
		Logger:   log.With("component", "hooks"),
		OnResult: func(_, result string) { runs[result]++ },
	})
	if err != nil {
		log.Error("hooks", "error", err)
		return
	}
	bus := events.NewBus()

	e := events.Transfer(events.Upload, events.Who{Node: "n1", Session: "7", User: "alice", Remote: "192.0.2.1"},
		"/in/report.pdf", 1<<20, 2*time.Second, true)
	events.Audit(log, e)
	bus.Publish(e)
	r.Deliver(e)

	// On reload: the new runner takes over, the old one finishes its queue.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = r.Close(ctx)
}
