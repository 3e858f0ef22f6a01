package events

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestEventJSON(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("x", 3600))
	e := Transfer(Upload, Who{Node: "n1", Session: "42", User: "alice", Remote: "192.0.2.7"}, "/a b.txt", 1234, 1500*time.Millisecond, true)
	e.Time = at
	got := string(e.JSON())
	want := `{"event":"upload","time":"2025-03-04T04:06:07.890Z","node":"n1","session":"42","user":"alice",` +
		`"remote":"192.0.2.7","path":"/a b.txt","target":"","bytes":1234,"duration_ms":1500,"result":"complete"}`
	if got != want {
		t.Fatalf("JSON\n got %s\nwant %s", got, want)
	}
	m, err := json.Marshal(e)
	if err != nil || string(m) != want {
		t.Fatalf("json.Marshal = %s, %v", m, err)
	}
	var back Event
	if err := json.Unmarshal(m, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Time.Equal(at) || back.Path != e.Path || back.Result != Complete || back.Bytes != 1234 {
		t.Fatalf("round trip: %+v", back)
	}

	// Every key is present, even when empty.
	var keys map[string]any
	if err := json.Unmarshal(Banned("n1", "192.0.2.7/32").JSON(), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event", "time", "node", "session", "user", "remote", "path", "target", "bytes", "duration_ms", "result"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("key %q missing", k)
		}
	}
	if len(keys) != 11 {
		t.Errorf("%d keys, want 11", len(keys))
	}
}

func TestConstructors(t *testing.T) {
	w := Who{Node: "n", Session: "1", User: "u", Remote: "::1"}
	if e := Transfer(Download, w, "/f", 5, time.Second, false); e.Result != Interrupted || e.Event != Download {
		t.Errorf("Transfer: %+v", e)
	}
	if e := Renamed(w, "/a", "/b"); e.Event != Rename || e.Path != "/a" || e.Target != "/b" {
		t.Errorf("Renamed: %+v", e)
	}
	if e := LoginEvent(w, false); e.Event != LoginFailed || e.User != "u" {
		t.Errorf("LoginEvent: %+v", e)
	}
	if e := FileOp(Delete, w, "/x"); e.Event != Delete || e.Path != "/x" || e.Result != "" || e.Time.Location() != time.UTC {
		t.Errorf("FileOp: %+v", e)
	}
	if _, err := ParseKinds([]string{string(Mtime)}); err == nil {
		t.Error("mtime must not be a hook event")
	}
}

func TestAudit(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	w := Who{Node: "n", Session: "7", User: "bob", Remote: "198.51.100.1"}
	Audit(log, Renamed(w, "/old", "/new"))
	Audit(log, FileOp(Delete, w, "/gone"))
	Audit(log, LoginEvent(w, true)) // not a file operation
	Audit(log, Transfer(Upload, w, "/up", 10, time.Millisecond, true))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	var rec []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		rec = append(rec, m)
	}
	if rec[0]["op"] != "rename" || rec[0]["path"] != "/old" || rec[0]["target"] != "/new" || rec[0]["user"] != "bob" ||
		rec[0]["remote"] != "198.51.100.1" || rec[0]["session"] != "7" || rec[0]["level"] != "INFO" {
		t.Errorf("rename line: %v", rec[0])
	}
	if _, ok := rec[1]["target"]; ok || rec[1]["op"] != "delete" {
		t.Errorf("delete line: %v", rec[1])
	}
	if rec[2]["op"] != "upload" || rec[2]["bytes"] != float64(10) || rec[2]["result"] != "complete" {
		t.Errorf("upload line: %v", rec[2])
	}
}

func TestBus(t *testing.T) {
	b := NewBus()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fast := b.Subscribe(ctx, 100)
	slow := b.Subscribe(ctx, 2) // never read until the end
	sctx, scancel := context.WithCancel(context.Background())
	gone := b.Subscribe(sctx, 1)
	if n := b.Subscribers(); n != 3 {
		t.Fatalf("Subscribers = %d", n)
	}
	scancel()
	waitClosed(t, gone)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			b.Publish(FileOp(Mkdir, Who{Session: "s"}, "/d"+string(rune('a'+i%26))))
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	for i := range 50 {
		select {
		case <-fast:
		case <-time.After(10 * time.Second):
			t.Fatalf("fast subscriber got %d events of 50", i)
		}
	}
	if got := len(slow); got != 2 {
		t.Errorf("slow subscriber holds %d, want 2", got)
	}
	if d := b.Dropped(); d != 48 {
		t.Errorf("Dropped = %d, want 48", d)
	}
	b.Close()
	waitClosed(t, fast)
	if _, ok := <-b.Subscribe(ctx, 1); ok {
		t.Error("Subscribe after Close: want a closed channel")
	}
	b.Publish(New(Login, Who{})) // goes nowhere, does not panic
}

// waitClosed drains ch until it is closed, within a deadline.
func waitClosed(t *testing.T, ch <-chan Event) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("channel not closed")
		}
	}
}
