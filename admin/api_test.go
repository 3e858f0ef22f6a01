package admin_test

import (
	"bufio"
	"context"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/admin/admintest"
)

func sampleSession(id, remote string) admin.Session {
	return admin.Session{
		ID: id, Node: "test", User: "alice", Remote: netip.MustParseAddr(remote), Listener: "127.0.0.1:2121",
		ConnectedAt: time.Now().Add(-time.Minute),
		Transfer: &admin.Transfer{Direction: admin.Download, Path: "/big.iso", Bytes: 1000, Size: 10000,
			BytesPerSecond: 500, StartedAt: time.Now().Add(-2 * time.Second)},
	}
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestAPIReadsWithContractFields(t *testing.T) {
	in := startTCP(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	idle := sampleSession("s2", "2001:db8::5")
	idle.Transfer, idle.User = nil, ""
	in.backend.AddSession(idle)
	in.backend.AddBan(admin.Ban{Address: netip.MustParsePrefix("198.51.100.7/32"), Until: time.Now().Add(time.Hour),
		Reason: admin.ReasonAutoban, Failures: 5})
	in.backend.SetUsers([]admin.User{{Name: "alice", Folders: []admin.Folder{{Mount: "/", QuotaSize: 100, UsedSize: 10}}}})

	for _, who := range [][2]string{{adminUser, adminPass}, {viewerUser, viewerPass}} {
		get := in.as(who[0], who[1])

		a := get(t, "GET", "/api/v1/status", nil)
		if a.code != 200 || a.header.Get("Content-Type") != "application/json" {
			t.Fatalf("status: %d %s", a.code, a.header.Get("Content-Type"))
		}
		var st map[string]any
		a.json(t, &st)
		want := []string{"config_errors", "config_loaded_at", "config_ok", "node", "pid", "sessions", "started_at", "transfers", "version"}
		if got := keysOf(st); !slices.Equal(got, want) {
			t.Errorf("status keys %v, want %v", got, want)
		}
		if st["sessions"] != 2.0 || st["transfers"] != 1.0 {
			t.Errorf("status counts: %v", st)
		}
		if ts, _ := st["started_at"].(string); !strings.HasSuffix(ts, "Z") {
			t.Errorf("started_at %q is not UTC", ts)
		}

		var ss []map[string]any
		get(t, "GET", "/api/v1/sessions", nil).json(t, &ss)
		if len(ss) != 2 {
			t.Fatalf("sessions: %v", ss)
		}
		want = []string{"connected_at", "id", "idle_seconds", "listener", "node", "remote", "tls", "transfer", "user"}
		if got := keysOf(ss[0]); !slices.Equal(got, want) {
			t.Errorf("session keys %v, want %v", got, want)
		}
		tr := ss[0]["transfer"].(map[string]any)
		want = []string{"bytes", "bytes_per_second", "direction", "path", "size", "started_at"}
		if got := keysOf(tr); !slices.Equal(got, want) {
			t.Errorf("transfer keys %v, want %v", got, want)
		}
		if ss[0]["remote"] != "192.0.2.10" || ss[1]["remote"] != "2001:db8::5" || ss[1]["transfer"] != nil || ss[1]["user"] != "" {
			t.Errorf("sessions: %v", ss)
		}

		var bans []map[string]any
		get(t, "GET", "/api/v1/bans", nil).json(t, &bans)
		want = []string{"address", "failures", "note", "reason", "until"}
		if len(bans) != 1 || !slices.Equal(keysOf(bans[0]), want) || bans[0]["address"] != "198.51.100.7/32" {
			t.Errorf("bans: %v", bans)
		}

		var us []map[string]any
		get(t, "GET", "/api/v1/users", nil).json(t, &us)
		want = []string{"disabled", "folders", "groups", "name", "sessions"}
		if len(us) != 1 || !slices.Equal(keysOf(us[0]), want) {
			t.Fatalf("users: %v", us)
		}
		f := us[0]["folders"].([]any)[0].(map[string]any)
		want = []string{"mount", "quota_files", "quota_size", "used_files", "used_size"}
		if !slices.Equal(keysOf(f), want) {
			t.Errorf("folder keys %v", keysOf(f))
		}
		if g, ok := us[0]["groups"].([]any); !ok || len(g) != 0 {
			t.Errorf("groups should be [], got %v", us[0]["groups"])
		}
	}
}

func TestUnknownSize(t *testing.T) {
	in := startTCP(t, nil)
	s := sampleSession("s1", "192.0.2.10")
	s.Transfer.Size = admin.Unknown
	in.backend.AddSession(s)
	a := in.as(adminUser, adminPass)(t, "GET", "/api/v1/sessions", nil)
	if !strings.Contains(string(a.body), `"size":null`) {
		t.Errorf("unknown size is not null: %s", a.body)
	}
	var ss []admin.Session
	a.json(t, &ss)
	if ss[0].Transfer.Size != admin.Unknown {
		t.Errorf("size decoded as %d", ss[0].Transfer.Size)
	}
}

func TestAPIRequiresAuth(t *testing.T) {
	in := startTCP(t, nil)
	paths := []string{"/api/v1/status", "/api/v1/sessions", "/api/v1/bans", "/api/v1/users", "/api/v1/events", "/api/v1/nope", "/api/"}
	for _, p := range paths {
		a := in.do(t, req{method: "GET", path: p})
		if a.code != 401 || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without auth: %d %q", p, a.code, a.header.Get("WWW-Authenticate"))
		}
		a.errorText(t)
	}
	for _, r := range []req{
		{method: "POST", path: "/api/v1/reload"},
		{method: "DELETE", path: "/api/v1/sessions/s1"},
		{method: "POST", path: "/api/v1/bans", body: `{"address":"192.0.2.1"}`},
	} {
		if a := in.do(t, r); a.code != 401 {
			t.Errorf("%s %s without auth: %d", r.method, r.path, a.code)
		}
	}
	if n := len(in.loginFailures()); n != 0 {
		t.Errorf("requests without credentials counted %d login failures", n)
	}
}

func TestWrongPassword(t *testing.T) {
	in := startTCP(t, nil)
	for _, cred := range [][2]string{{adminUser, "wrong"}, {"nobody", adminPass}, {viewerUser, adminPass}} {
		a := in.do(t, req{method: "GET", path: "/api/v1/status", user: cred[0], pass: cred[1]})
		if a.code != 401 || a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q/%q: %d", cred[0], cred[1], a.code)
		}
	}
	got := in.loginFailures()
	if len(got) != 3 || got[0] != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("login failures reported: %v", got)
	}
}

func TestViewerCannotChange(t *testing.T) {
	in := startTCP(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	in.backend.AddBan(admin.Ban{Address: netip.MustParsePrefix("198.51.100.7/32"), Until: time.Now().Add(time.Hour), Reason: admin.ReasonManual})
	in.backend.SetUpgradeError(nil)
	as := in.as(viewerUser, viewerPass)
	for _, r := range []req{
		{method: "DELETE", path: "/api/v1/sessions/s1"},
		{method: "POST", path: "/api/v1/bans", body: map[string]string{"address": "203.0.113.9"}},
		{method: "DELETE", path: "/api/v1/bans/198.51.100.7"},
		{method: "POST", path: "/api/v1/reload"},
		{method: "POST", path: "/api/v1/upgrade"},
	} {
		a := as(t, r.method, r.path, r.body)
		if a.code != 403 {
			t.Errorf("viewer %s %s: %d %s", r.method, r.path, a.code, a.body)
		}
		a.errorText(t)
	}
	ss, _ := in.backend.Sessions(context.Background())
	bs, _ := in.backend.Bans(context.Background())
	if len(ss) != 1 || len(bs) != 1 {
		t.Errorf("viewer changed state: %d sessions, %d bans", len(ss), len(bs))
	}
}

func TestCrossOriginChangesRefused(t *testing.T) {
	in := startTCP(t, nil)
	host := strings.TrimPrefix(in.base, "http://")
	cases := []struct {
		header map[string]string
		code   int
	}{
		{map[string]string{"Origin": "https://evil.example"}, 403},
		{map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other." + host}, 403},
		{map[string]string{"Origin": "http://" + host}, 200},
		{map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{nil, 200}, // not a browser: curl, wharf ctl
	}
	for _, c := range cases {
		a := in.do(t, req{method: "POST", path: "/api/v1/reload", user: adminUser, pass: adminPass, header: c.header})
		if a.code != c.code {
			t.Errorf("POST reload with %v: %d, want %d", c.header, a.code, c.code)
		}
		if c.code == 403 {
			a.errorText(t)
		}
	}
	// Reads from another origin are not changes (and CORS keeps their answers from the page).
	a := in.do(t, req{method: "GET", path: "/api/v1/status", user: adminUser, pass: adminPass, header: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	if a.code != 200 || a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("cross-site GET: %d, ACAO %q", a.code, a.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestBadRequests(t *testing.T) {
	in := startTCP(t, nil)
	as := in.as(adminUser, adminPass)
	cases := []struct {
		name string
		body any
		code int
	}{
		{"not JSON", "address=192.0.2.1", 400},
		{"truncated", `{"address":`, 400},
		{"two values", `{"address":"192.0.2.1"}{}`, 400},
		{"unknown field", `{"address":"192.0.2.1","forever":true}`, 400},
		{"wrong type", `{"address":7}`, 400},
		{"no address", `{}`, 400},
		{"bad address", `{"address":"192.0.2.300"}`, 400},
		{"host name", `{"address":"example.com"}`, 400},
		{"bad duration", `{"address":"192.0.2.1","duration":"5"}`, 400},
		{"negative duration", `{"address":"192.0.2.1","duration":"-1h"}`, 400},
		{"note on two lines", `{"address":"192.0.2.1","note":"a\nb"}`, 400},
		{"oversized", `{"address":"192.0.2.1","note":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
	}
	for _, c := range cases {
		a := as(t, "POST", "/api/v1/bans", c.body)
		if a.code != c.code {
			t.Errorf("%s: %d, want %d: %s", c.name, a.code, c.code, a.body)
			continue
		}
		t.Logf("%s: %s", c.name, a.errorText(t))
	}
	if a := as(t, "POST", "/api/v1/reload", strings.Repeat("x", 1<<20)); a.code != 413 {
		t.Errorf("oversized reload body: %d", a.code)
	}
	if a := as(t, "DELETE", "/api/v1/bans/not-an-address", nil); a.code != 400 {
		t.Errorf("unban of a bad address: %d", a.code)
	}
	bs, _ := in.backend.Bans(context.Background())
	if len(bs) != 0 {
		t.Errorf("bad requests made bans: %v", bs)
	}
}

func TestWrongMethod(t *testing.T) {
	in := startTCP(t, nil)
	as := in.as(adminUser, adminPass)
	cases := []struct{ method, path, allow string }{
		{"POST", "/api/v1/status", "GET, HEAD"},
		{"PUT", "/api/v1/bans", "GET, HEAD, POST"},
		{"GET", "/api/v1/reload", "POST"},
		{"GET", "/api/v1/sessions/s1", "DELETE"},
		{"PATCH", "/api/v1/bans/192.0.2.1", "DELETE"},
		{"DELETE", "/api/v1/events", "GET, HEAD"},
	}
	for _, c := range cases {
		a := as(t, c.method, c.path, nil)
		if a.code != 405 || a.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 %q", c.method, c.path, a.code, a.header.Get("Allow"), c.allow)
		}
		a.errorText(t)
	}
	if a := as(t, "GET", "/api/v1/nope", nil); a.code != 404 {
		t.Errorf("unknown path: %d", a.code)
	}
}

func TestKick(t *testing.T) {
	in := startTCP(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	as := in.as(adminUser, adminPass)
	if a := as(t, "DELETE", "/api/v1/sessions/s1", nil); a.code != 204 || len(a.body) != 0 {
		t.Fatalf("kick: %d %s", a.code, a.body)
	}
	a := as(t, "DELETE", "/api/v1/sessions/s1", nil)
	if a.code != 404 {
		t.Fatalf("kick again: %d", a.code)
	}
	a.errorText(t)
}

func TestBanAndUnban(t *testing.T) {
	in := startTCP(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	in.backend.AddSession(sampleSession("s2", "2001:db8::1:2"))
	as := in.as(adminUser, adminPass)

	a := as(t, "POST", "/api/v1/bans", map[string]string{"address": "192.0.2.10", "duration": "30m", "note": "scanner"})
	if a.code != 201 {
		t.Fatalf("ban: %d %s", a.code, a.body)
	}
	var b admin.Ban
	a.json(t, &b)
	if b.Address.String() != "192.0.2.10/32" || b.Reason != admin.ReasonManual || b.Note != "scanner" ||
		time.Until(b.Until) < 29*time.Minute || time.Until(b.Until) > 31*time.Minute {
		t.Errorf("ban: %+v", b)
	}
	if loc := a.header.Get("Location"); loc != "/api/v1/bans/192.0.2.10%2F32" {
		t.Errorf("Location %q", loc)
	}
	// A bare IPv6 address means its /64.
	a = as(t, "POST", "/api/v1/bans", map[string]string{"address": "2001:db8::1:2"})
	a.json(t, &b)
	if a.code != 201 || b.Address.String() != "2001:db8::/64" {
		t.Errorf("IPv6 ban: %d %+v", a.code, b)
	}
	ss, _ := in.backend.Sessions(context.Background())
	if len(ss) != 0 {
		t.Errorf("banned addresses keep sessions: %v", ss)
	}
	// A prefix is masked.
	a = as(t, "POST", "/api/v1/bans", map[string]string{"address": "203.0.113.77/24"})
	a.json(t, &b)
	if a.code != 201 || b.Address.String() != "203.0.113.0/24" {
		t.Errorf("prefix ban: %d %+v", a.code, b)
	}

	for _, p := range []string{"/api/v1/bans/2001:db8::%2F64", "/api/v1/bans/192.0.2.10", "/api/v1/bans/203.0.113.0/24"} {
		if a := as(t, "DELETE", p, nil); a.code != 204 {
			t.Errorf("DELETE %s: %d %s", p, a.code, a.body)
		}
	}
	a = as(t, "DELETE", "/api/v1/bans/192.0.2.10%2F32", nil)
	if a.code != 404 {
		t.Errorf("unban of no ban: %d", a.code)
	}
	a.errorText(t)
}

func TestReload(t *testing.T) {
	in := startTCP(t, nil)
	as := in.as(adminUser, adminPass)
	a := as(t, "POST", "/api/v1/reload", nil)
	if a.code != 200 || strings.TrimSpace(string(a.body)) != `{"ok":true}` {
		t.Fatalf("reload: %d %s", a.code, a.body)
	}
	lines := []string{"/etc/wharf/wharf.toml:12: unknown key \"listn\"", "/etc/wharf/wharf.toml:30: bad duration \"5\""}
	in.backend.RejectReloads(lines)
	a = as(t, "POST", "/api/v1/reload", nil)
	var eb admin.ErrorBody
	a.json(t, &eb)
	if a.code != 422 || eb.Error == "" || !slices.Equal(eb.Errors, lines) {
		t.Fatalf("rejected reload: %d %s", a.code, a.body)
	}
	var st admin.Status
	as(t, "GET", "/api/v1/status", nil).json(t, &st)
	if st.ConfigOK || !slices.Equal(st.ConfigErrors, lines) {
		t.Errorf("status after a rejected reload: %+v", st)
	}
}

func TestUpgrade(t *testing.T) {
	in := startTCP(t, nil)
	as := in.as(adminUser, adminPass)
	a := as(t, "POST", "/api/v1/upgrade", nil)
	if a.code != 501 {
		t.Fatalf("upgrade without support: %d", a.code)
	}
	a.errorText(t)
	in.backend.SetUpgradeError(nil)
	if a := as(t, "POST", "/api/v1/upgrade", nil); a.code != 202 {
		t.Fatalf("upgrade: %d %s", a.code, a.body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	in := startTCP(t, nil)
	for _, p := range []string{"/", "/api/v1/status"} {
		a := in.do(t, req{method: "GET", path: p})
		h := a.header
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers missing: %v", p, h)
		}
	}
}

func TestBannedAddressRefused(t *testing.T) {
	in := startTCP(t, func(o *admin.Options) {
		o.Banned = func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }
	})
	if a := in.as(adminUser, "wrong")(t, "GET", "/api/v1/status", nil); a.code != 403 {
		t.Errorf("banned address, wrong password: %d, want 403", a.code)
	}
	if a := in.do(t, req{method: "GET", path: "/api/v1/bans"}); a.code != 403 {
		t.Errorf("banned address, no account: %d, want 403", a.code)
	}
	// An operator whose own address is banned can still see and lift the ban.
	if a := in.as(adminUser, adminPass)(t, "GET", "/api/v1/status", nil); a.code != 200 {
		t.Errorf("banned address, valid account: %d, want 200", a.code)
	}
}

func TestUnixSocket(t *testing.T) {
	in, path := startUnix(t, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want socket 0660", fi.Mode())
	}
	// No account needed: the file mode is the check.
	if a := in.do(t, req{method: "GET", path: "/api/v1/status"}); a.code != 200 {
		t.Errorf("status over the socket: %d", a.code)
	}
	if a := in.do(t, req{method: "POST", path: "/api/v1/reload"}); a.code != 200 {
		t.Errorf("reload over the socket: %d", a.code)
	}
	// Still no cross-origin changes (a socket forwarded to a browser).
	if a := in.do(t, req{method: "POST", path: "/api/v1/reload", header: map[string]string{"Origin": "https://evil.example"}}); a.code != 403 {
		t.Errorf("cross-origin reload over the socket: %d", a.code)
	}
	// The live socket cannot be taken over.
	if _, err := admin.Listen("unix:"+path, nil); err == nil {
		t.Error("a second Listen on a live socket succeeded")
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := t.TempDir() + "/admin.sock"
	l, err := admin.Listen("unix:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // leaves the file, as a crashed process would
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("socket file gone after close: %v", err)
	}
	l, err = admin.Listen("unix:"+path, nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l.Close()
	// A file that is not a socket is never removed.
	plain := t.TempDir() + "/file"
	os.WriteFile(plain, []byte("x"), 0o600)
	if _, err := admin.Listen("unix:"+plain, nil); err == nil {
		t.Error("Listen replaced a regular file")
	}
	if _, err := admin.Listen("unix:relative.sock", nil); err == nil {
		t.Error("relative socket path accepted")
	}
}

// sseReader reads events from a stream.
type sseReader struct {
	sc *bufio.Scanner
}

// next returns the next event's name ("" for unnamed) and data.
func (r *sseReader) next(t *testing.T) (name, data string) {
	t.Helper()
	for r.sc.Scan() {
		line := r.sc.Text()
		switch {
		case line == "" && data != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("stream ended: %v", r.sc.Err())
	return "", ""
}

func openEvents(t *testing.T, in *instance, query string) (*sseReader, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hr, _ := http.NewRequestWithContext(ctx, "GET", in.base+"/api/v1/events"+query, nil)
	hr.SetBasicAuth(viewerUser, viewerPass)
	resp, err := (&http.Client{Transport: in.client.Transport}).Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseReader{sc: bufio.NewScanner(resp.Body)}, func() { cancel(); resp.Body.Close() }
}

func TestEventStream(t *testing.T) {
	in := startTCP(t, nil)
	r, stop := openEvents(t, in, "")
	defer stop()
	eventually(t, "a subscriber", func() bool { return in.backend.Subscribers() == 1 })
	ev := map[string]any{"event": "upload", "time": "2025-01-02T03:04:05Z", "node": "n1", "session": "s1", "user": "alice",
		"remote": "192.0.2.10", "path": "/in/report.pdf", "target": "", "bytes": 12345, "duration_ms": 80, "result": "complete"}
	in.backend.Publish("upload", ev)
	name, data := r.next(t)
	if name != "" || !strings.Contains(data, `"path":"/in/report.pdf"`) || strings.Contains(data, "\n") {
		t.Errorf("event %q: %s", name, data)
	}
	stop()
	eventually(t, "the subscription to end", func() bool { return in.backend.Subscribers() == 0 })
}

func TestLiveStream(t *testing.T) {
	in, _ := startUnix(t, nil)
	in.backend.AddSession(sampleSession("s1", "192.0.2.10"))
	r, stop := openEvents(t, in, "?live=1")
	defer stop()
	seen := map[string]string{}
	for len(seen) < 3 {
		name, data := r.next(t)
		seen[name] = data
	}
	if !strings.Contains(seen["sessions"], `"bytes":1000`) {
		t.Fatalf("sessions snapshot: %s", seen["sessions"])
	}
	in.backend.Advance("s1", 4000, 900)
	for {
		name, data := r.next(t)
		if name == "sessions" {
			if !strings.Contains(data, `"bytes":5000`) {
				t.Fatalf("progress: %s", data)
			}
			break
		}
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	in := startTCP(t, nil)
	r, stop := openEvents(t, in, "")
	defer stop()
	eventually(t, "a subscriber", func() bool { return in.backend.Subscribers() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.server.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with a stream open: %v", err)
	}
	for r.sc.Scan() {
	}
}

// A stream lives past the server's read and write timeouts.
func TestStreamOutlivesTimeouts(t *testing.T) {
	b := admintest.New()
	srv := admin.New(admin.Options{Backend: b, Unix: true})
	l, err := admin.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}
	go hs.Serve(l)
	t.Cleanup(func() { srv.Shutdown(context.Background()); hs.Close() })
	in := &instance{base: "http://" + l.Addr().String(), client: &http.Client{Transport: &http.Transport{Proxy: nil}}, backend: b}
	r, stop := openEvents(t, in, "")
	defer stop()
	eventually(t, "a subscriber", func() bool { return b.Subscribers() == 1 })
	deadline := time.Now().Add(400 * time.Millisecond)
	eventually(t, "the read timeout to pass", func() bool { return time.Now().After(deadline) })
	b.Publish("login", map[string]string{"event": "login"})
	if _, data := r.next(t); data != `{"event":"login"}` {
		t.Errorf("event after the read timeout: %s", data)
	}
}
