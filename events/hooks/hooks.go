// Package hooks runs the operator's [[hooks]]: a command (argv, no shell, the
// event JSON on stdin) or an HTTP POST of the event JSON, for the events each
// hook names. Delivery never waits: each hook has a bounded queue in front of
// at most MaxRunning runs at once, and an event that finds the queue full is
// dropped and counted.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/wharf-ftp/wharf/events"
)

// Defaults of a hook's settings.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRunning = 4
	DefaultQueue      = 64
)

// Results of a hook run, as OnResult reports them (the values of
// wharf_hook_runs_total's result label).
const (
	ResultOK      = "ok"
	ResultFailed  = "failed"
	ResultTimeout = "timeout"
	ResultDropped = "dropped"
)

// Results lists every result, for a metric to start at zero.
var Results = []string{ResultOK, ResultFailed, ResultTimeout, ResultDropped}

// Hook is one hook: a command or a URL, run for some kinds of events.
type Hook struct {
	Name       string        // in logs and OnResult; "" = the program, or the URL without credentials and query
	Events     []events.Kind // the kinds it runs for
	Command    []string      // argv, no shell; the event JSON on stdin
	URL        string        // or: POST the event JSON to this http(s) URL
	Timeout    time.Duration // of one run; 0 = DefaultTimeout
	MaxRunning int           // runs of this hook at once; 0 = DefaultMaxRunning
	Queue      int           // events waiting for a run; 0 = DefaultQueue
}

// Options are what a Runner needs beyond its hooks.
type Options struct {
	Logger *slog.Logger // nil = slog.Default()
	// OnResult, if set, is called once per event and hook with one of the
	// Result values. It must not block.
	OnResult func(hook, result string)
	// Transport carries URL hooks' requests; nil = a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// WarnEvery bounds the warnings of one hook: after a warning, its further
	// failures and drops are logged at debug, and summed up in the next
	// warning, for this long. 0 = one minute.
	WarnEvery time.Duration
}

// Runner runs hooks. Its methods may be called concurrently.
type Runner struct {
	log      *slog.Logger
	onResult func(hook, result string)
	client   *http.Client
	hooks    []*hook

	ctx    context.Context // ends when Close gives up waiting: running hooks are stopped
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against the queues' close
	closed bool
}

// hook is one Hook with its queue.
type hook struct {
	Hook
	kinds map[events.Kind]bool
	queue chan job
	warn  burst
}

// job is one event waiting for a run.
type job struct {
	kind events.Kind
	body []byte // the event's JSON
}

// New checks hooks and starts their workers. Close stops them.
func New(hooks []Hook, opt Options) (*Runner, error) {
	r := &Runner{log: opt.Logger, onResult: opt.OnResult}
	if r.log == nil {
		r.log = slog.Default()
	}
	warnEvery := opt.WarnEvery
	if warnEvery <= 0 {
		warnEvery = time.Minute
	}
	for i, h := range hooks {
		hk, err := prepare(h, warnEvery)
		if err != nil {
			return nil, fmt.Errorf("hook %d: %w", i+1, err)
		}
		r.hooks = append(r.hooks, hk)
	}
	transport := opt.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	r.client = &http.Client{Transport: transport, CheckRedirect: sameHostRedirect}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for _, h := range r.hooks {
		for range h.MaxRunning {
			r.wg.Add(1)
			go r.work(h)
		}
	}
	return r, nil
}

// prepare checks h and fills in its defaults.
func prepare(h Hook, warnEvery time.Duration) (*hook, error) {
	switch {
	case len(h.Command) > 0 && h.URL != "":
		return nil, errors.New("either a command or a url, not both")
	case len(h.Command) == 0 && h.URL == "":
		return nil, errors.New("a command or a url is needed")
	case len(h.Command) > 0 && h.Command[0] == "":
		return nil, errors.New("the program (first element of the command) is empty")
	case h.URL != "":
		u, err := url.Parse(h.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q is not an http(s) URL", redact(h.URL))
		}
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultTimeout
	}
	if h.MaxRunning <= 0 {
		h.MaxRunning = DefaultMaxRunning
	}
	if h.Queue <= 0 {
		h.Queue = DefaultQueue
	}
	if h.Name == "" {
		if len(h.Command) > 0 {
			h.Name = filepath.Base(h.Command[0])
		} else {
			h.Name = redact(h.URL)
		}
	}
	hk := &hook{Hook: h, kinds: map[events.Kind]bool{}, queue: make(chan job, h.Queue)}
	hk.warn.every = warnEvery
	for _, k := range h.Events {
		hk.kinds[k] = true
	}
	return hk, nil
}

// redact returns a URL without its credentials, query and fragment, for logs.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// Deliver queues e for every hook that wants it and returns at once. A hook
// whose queue is full drops the event (result "dropped"). After Close every
// event is dropped.
func (r *Runner) Deliver(e events.Event) {
	var body []byte
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, h := range r.hooks {
		if !h.kinds[e.Event] {
			continue
		}
		if r.closed {
			r.dropped(h, e.Event, "the server is stopping")
			continue
		}
		if body == nil {
			body = e.JSON()
		}
		select {
		case h.queue <- job{kind: e.Event, body: body}:
		default:
			r.dropped(h, e.Event, "queue full")
		}
	}
}

// Wants reports whether some hook runs for events of kind k, so that a caller
// can skip building an event nobody wants.
func (r *Runner) Wants(k events.Kind) bool {
	for _, h := range r.hooks {
		if h.kinds[k] {
			return true
		}
	}
	return false
}

// Close stops taking events and waits, until ctx ends, for the queued ones to
// run. When ctx ends first, running hooks are stopped (commands killed,
// requests cut), the events still queued are dropped, and Close returns
// ctx's error once every worker has stopped.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		for _, h := range r.hooks {
			close(h.queue)
		}
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		r.cancel()
		<-done
	}
	r.cancel()
	r.client.CloseIdleConnections()
	return err
}

// work runs h's queued events, one at a time, until the queue is closed.
func (r *Runner) work(h *hook) {
	defer r.wg.Done()
	for j := range h.queue {
		if r.ctx.Err() != nil {
			r.dropped(h, j.kind, "the server stopped")
			continue
		}
		r.run(h, j)
	}
}

// outcome is what one run came to.
type outcome struct {
	result string
	detail string // why it failed: an exit status, an HTTP status, an error
	output string // the tail of a command's output
}

// run runs h once for j and reports the result.
func (r *Runner) run(h *hook, j job) {
	ctx, cancel := context.WithTimeout(r.ctx, h.Timeout)
	defer cancel()
	start := time.Now()
	var o outcome
	if len(h.Command) > 0 {
		o = runCommand(ctx, h.Command, j.body)
	} else {
		o = r.post(ctx, h.URL, j.body)
	}
	switch {
	case o.result == ResultOK:
	case r.ctx.Err() != nil:
		o = outcome{result: ResultDropped, detail: "stopped: the server stopped"}
	case ctx.Err() == context.DeadlineExceeded:
		o = outcome{result: ResultTimeout, detail: "timed out after " + h.Timeout.String(), output: o.output}
	}
	elapsed := time.Since(start)
	r.report(h, o.result)
	if o.result == ResultOK {
		r.log.Debug("hook ran", "hook", h.Name, "event", string(j.kind), "duration", elapsed.Round(time.Millisecond).String())
		return
	}
	attrs := []any{"hook", h.Name, "event", string(j.kind), "result", o.result, "error", o.detail,
		"duration", elapsed.Round(time.Millisecond).String()}
	if o.output != "" {
		attrs = append(attrs, "output", o.output)
	}
	r.warn(h, "hook failed", attrs)
}

// dropped reports an event h could not take.
func (r *Runner) dropped(h *hook, k events.Kind, why string) {
	r.report(h, ResultDropped)
	r.warn(h, "hook event dropped", []any{"hook", h.Name, "event", string(k), "result", ResultDropped,
		"error", why, "queue", h.Queue, "max_running", h.MaxRunning})
}

func (r *Runner) report(h *hook, result string) {
	if r.onResult != nil {
		r.onResult(h.Name, result)
	}
}

// warn logs a failure at warn, or at debug while h's warnings are held back;
// a warning says how many were held back before it.
func (r *Runner) warn(h *hook, msg string, attrs []any) {
	ok, held := h.warn.allow(time.Now())
	if !ok {
		r.log.Debug(msg, attrs...)
		return
	}
	if held > 0 {
		attrs = append(attrs, "not_logged_since_last_warning", held)
	}
	r.log.Warn(msg, attrs...)
}

// burst lets one warning through per period; it counts the others.
type burst struct {
	every time.Duration
	mu    sync.Mutex
	last  time.Time
	held  int
}

func (b *burst) allow(now time.Time) (ok bool, held int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() && now.Sub(b.last) < b.every {
		b.held++
		return false, 0
	}
	held, b.held, b.last = b.held, 0, now
	return true, held
}
