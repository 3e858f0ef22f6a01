package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/internal/testkit"
)

// results collects what OnResult reports.
type results struct {
	mu sync.Mutex
	n  map[string]int
	ch chan string
}

func newResults() *results { return &results{n: map[string]int{}, ch: make(chan string, 1000)} }

func (r *results) on(_ string, result string) {
	r.mu.Lock()
	r.n[result]++
	r.mu.Unlock()
	r.ch <- result
}

func (r *results) count(result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[result]
}

// wait returns the next n results, failing after a deadline.
func (r *results) wait(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case res := <-r.ch:
			got = append(got, res)
		case <-deadline:
			t.Fatalf("got results %v, want %d", got, n)
		}
	}
	return got
}

func newRunner(t *testing.T, hooks []Hook, res *results, logs io.Writer) *Runner {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	r, err := New(hooks, Options{
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnResult: res.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

// script writes an executable /bin/sh script into dir.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func upload(path string) events.Event {
	return events.Transfer(events.Upload, events.Who{Node: "n1", Session: "3", User: "alice", Remote: "192.0.2.1"},
		path, 42, time.Second, true)
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 20*time.Second, what, cond)
}

func TestCommandGetsEventOnStdin(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	prog := script(t, dir, "hook.sh", `cat > "$1.tmp" && printf '%s' "$2" > "$1.arg" && mv "$1.tmp" "$1"`+"\n")
	res := newResults()
	r := newRunner(t, []Hook{{Events: []events.Kind{events.Upload}, Command: []string{prog, out, "$HOME; echo no"}}}, res, nil)

	if !r.Wants(events.Upload) || r.Wants(events.Login) {
		t.Fatal("Wants does not follow the hook's events")
	}
	r.Deliver(events.LoginEvent(events.Who{User: "x"}, true)) // not wanted
	e := upload("/in/report.pdf")
	r.Deliver(e)
	if got := res.wait(t, 1); got[0] != ResultOK {
		t.Fatalf("result %v", got)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(e.JSON()) {
		t.Errorf("stdin\n got %s\nwant %s", data, e.JSON())
	}
	if arg, _ := os.ReadFile(out + ".arg"); string(arg) != "$HOME; echo no" {
		t.Errorf("argument went through a shell: %q", arg)
	}
	if n := res.count(ResultOK); n != 1 {
		t.Errorf("%d runs, want 1 (the login event is not this hook's)", n)
	}
}

func TestCommandFails(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "fail.sh", "cat >/dev/null; echo 'disk on fire' >&2; exit 3\n")
	res := newResults()
	var logs testkit.Buffer
	r := newRunner(t, []Hook{{Name: "scan", Events: []events.Kind{events.Upload}, Command: []string{prog}}}, res, &logs)
	for range 3 {
		r.Deliver(upload("/x"))
	}
	for _, got := range res.wait(t, 3) {
		if got != ResultFailed {
			t.Fatalf("result %q, want failed", got)
		}
	}
	// A missing program fails too.
	r2 := newRunner(t, []Hook{{Events: []events.Kind{events.Upload}, Command: []string{filepath.Join(dir, "missing")}}}, res, nil)
	r2.Deliver(upload("/x"))
	if got := res.wait(t, 1); got[0] != ResultFailed {
		t.Fatalf("missing program: %v", got)
	}
	// One warning for the burst, naming the hook, the exit status and the output.
	text := logs.String()
	if n := strings.Count(text, "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1 for the burst:\n%s", n, text)
	}
	for _, want := range []string{"hook=scan", `"exit status 3"`, `output="disk on fire"`, "result=failed"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %s:\n%s", want, text)
		}
	}
}

func TestCommandTimeoutKillsItsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// The shell starts a grandchild (sleep) and waits for it; both must die.
	prog := script(t, dir, "slow.sh", "sleep 60 &\necho $$ $! > "+pidFile+".tmp\nmv "+pidFile+".tmp "+pidFile+"\nwait\n")
	res := newResults()
	r := newRunner(t, []Hook{{Events: []events.Kind{events.Upload}, Command: []string{prog}, Timeout: time.Second}}, res, nil)
	start := time.Now()
	r.Deliver(upload("/big"))
	if got := res.wait(t, 1); got[0] != ResultTimeout {
		t.Fatalf("result %v, want timeout", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		t.Fatalf("pid file %q", data)
	}
	for _, f := range fields {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "process "+f+" to die", func() bool { return dead(pid) })
	}
}

// dead reports whether pid is gone or a zombie.
func dead(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z' || s[i+2] == 'X'
}

func TestURLHook(t *testing.T) {
	var got struct {
		sync.Mutex
		method, ctype string
		body          []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		got.Lock()
		got.method, got.ctype, got.body = req.Method, req.Header.Get("Content-Type"), b
		got.Unlock()
		if req.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	res := newResults()
	r := newRunner(t, []Hook{
		{Events: []events.Kind{events.Upload}, URL: srv.URL + "/ok"},
		{Events: []events.Kind{events.Delete}, URL: srv.URL + "/fail"},
	}, res, nil)

	e := upload("/a.txt")
	r.Deliver(e)
	if out := res.wait(t, 1); out[0] != ResultOK {
		t.Fatalf("result %v", out)
	}
	got.Lock()
	if got.method != http.MethodPost || got.ctype != "application/json" || string(got.body) != string(e.JSON()) {
		t.Errorf("request: %s %q %s", got.method, got.ctype, got.body)
	}
	got.Unlock()
	var decoded map[string]any
	if err := json.Unmarshal(e.JSON(), &decoded); err != nil || decoded["path"] != "/a.txt" {
		t.Errorf("body %v, %v", decoded, err)
	}

	r.Deliver(events.FileOp(events.Delete, events.Who{}, "/b"))
	if out := res.wait(t, 1); out[0] != ResultFailed {
		t.Fatalf("a 500 answer: %v, want failed", out)
	}
}

func TestURLHookRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	var final atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/same", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/final", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/final", func(w http.ResponseWriter, req *http.Request) {
		if b, _ := io.ReadAll(req.Body); req.Method == http.MethodPost && len(b) > 0 {
			final.Add(1)
		}
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, req *http.Request) {
		// Another host: "localhost" instead of 127.0.0.1.
		http.Redirect(w, req, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+"/x", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/away-ip", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, other.URL+"/x", http.StatusTemporaryRedirect) // same IP, other port
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res := newResults()
	r := newRunner(t, []Hook{
		{Events: []events.Kind{events.Upload}, URL: srv.URL + "/same"},
		{Events: []events.Kind{events.Mkdir}, URL: srv.URL + "/away"},
		{Events: []events.Kind{events.Rmdir}, URL: srv.URL + "/away-ip"},
	}, res, nil)
	r.Deliver(upload("/f"))
	if out := res.wait(t, 1); out[0] != ResultOK || final.Load() != 1 {
		t.Fatalf("same-host redirect: %v, final hit %d", out, final.Load())
	}
	r.Deliver(events.FileOp(events.Mkdir, events.Who{}, "/d"))
	r.Deliver(events.FileOp(events.Rmdir, events.Who{}, "/d"))
	for _, out := range res.wait(t, 2) {
		if out != ResultFailed {
			t.Errorf("redirect to another host: %v, want failed", out)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

func TestURLHookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	res := newResults()
	r := newRunner(t, []Hook{{Events: []events.Kind{events.Upload}, URL: srv.URL, Timeout: 300 * time.Millisecond}}, res, nil)
	r.Deliver(upload("/f"))
	if out := res.wait(t, 1); out[0] != ResultTimeout {
		t.Fatalf("result %v, want timeout", out)
	}
}

// blocking is an HTTP receiver whose requests wait until released, counting
// how many are in flight at once.
type blocking struct {
	release  chan struct{}
	inFlight atomic.Int32
	max      atomic.Int32
	total    atomic.Int32
}

func newBlocking(t *testing.T) (*blocking, string) {
	b := &blocking{release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := b.inFlight.Add(1)
		b.total.Add(1)
		for {
			m := b.max.Load()
			if n <= m || b.max.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-b.release:
		case <-req.Context().Done():
		}
		b.inFlight.Add(-1)
	}))
	t.Cleanup(srv.Close)
	return b, srv.URL
}

func TestQueueOverflowDrops(t *testing.T) {
	b, u := newBlocking(t)
	res := newResults()
	var logs testkit.Buffer
	r := newRunner(t, []Hook{{Name: "slow", Events: []events.Kind{events.Upload}, URL: u, MaxRunning: 1, Queue: 2}}, res, &logs)
	r.Deliver(upload("/1"))
	waitFor(t, "the first run", func() bool { return b.inFlight.Load() == 1 })
	start := time.Now()
	for i := range 10 {
		r.Deliver(upload("/more" + strconv.Itoa(i)))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Deliver waited %v", d)
	}
	// One running, two queued, eight dropped at once.
	if n := res.count(ResultDropped); n != 8 {
		t.Errorf("dropped %d, want 8", n)
	}
	close(b.release)
	out := res.wait(t, 11)
	ok := 0
	for _, o := range out {
		if o == ResultOK {
			ok++
		}
	}
	if ok != 3 {
		t.Errorf("%d ok, want 3: %v", ok, out)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one burst of drops, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "hook event dropped") {
		t.Errorf("no drop warning:\n%s", logs.String())
	}
}

func TestMaxRunning(t *testing.T) {
	b, u := newBlocking(t)
	res := newResults()
	r := newRunner(t, []Hook{{Events: []events.Kind{events.Upload}, URL: u, MaxRunning: 3, Queue: 20}}, res, nil)
	for i := range 12 {
		r.Deliver(upload("/" + strconv.Itoa(i)))
	}
	waitFor(t, "three runs", func() bool { return b.inFlight.Load() == 3 })
	close(b.release)
	for _, o := range res.wait(t, 12) {
		if o != ResultOK {
			t.Fatalf("result %q", o)
		}
	}
	if m := b.max.Load(); m != 3 {
		t.Errorf("at most %d at once, want 3", m)
	}
	if n := b.total.Load(); n != 12 {
		t.Errorf("%d requests, want 12", n)
	}
}

func TestCloseDrains(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	prog := script(t, dir, "append.sh", "cat >/dev/null; echo x >> "+count+"\n")
	res := newResults()
	r, err := New([]Hook{{Events: []events.Kind{events.Upload}, Command: []string{prog}, MaxRunning: 2, Queue: 10}},
		Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnResult: res.on})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 {
		r.Deliver(upload("/f"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := res.count(ResultOK); n != 8 {
		t.Errorf("%d ran before Close returned, want 8", n)
	}
	data, _ := os.ReadFile(count)
	if n := strings.Count(string(data), "x"); n != 8 {
		t.Errorf("the command ran %d times", n)
	}
	r.Deliver(upload("/late"))
	if n := res.count(ResultDropped); n != 1 {
		t.Errorf("an event after Close: %d dropped, want 1", n)
	}
}

func TestCloseGivesUp(t *testing.T) {
	dir := t.TempDir()
	prog := script(t, dir, "hang.sh", "exec sleep 60\n")
	res := newResults()
	r, err := New([]Hook{{Events: []events.Kind{events.Upload}, Command: []string{prog}, MaxRunning: 1, Queue: 5}},
		Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnResult: res.on})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		r.Deliver(upload("/f"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := r.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	// The running one was stopped and the queued ones dropped.
	if n := res.count(ResultDropped); n != 4 {
		t.Errorf("dropped %d, want 4", n)
	}
}

func TestNewRejects(t *testing.T) {
	for _, h := range []Hook{
		{},
		{Command: []string{"/bin/true"}, URL: "http://x/"},
		{Command: []string{""}},
		{URL: "ftp://x/"},
		{URL: "http://"},
	} {
		if _, err := New([]Hook{h}, Options{}); err == nil {
			t.Errorf("New(%+v): want an error", h)
		}
	}
	r, err := New([]Hook{{URL: "https://user:secret@example.com/in?token=abc", Events: []events.Kind{events.Ban}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	if name := r.hooks[0].Name; strings.Contains(name, "secret") || strings.Contains(name, "abc") {
		t.Errorf("name %q holds credentials", name)
	}
}
