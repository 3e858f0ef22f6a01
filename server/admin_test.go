package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

const adminConfig = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[admin.users.ops]
password = "{{hash}}"
role = "admin"
[admin.users.watch]
password = "{{hash}}"
role = "viewer"
[[hooks]]
events = ["upload", "mkdir"]
command = ["/bin/sh", "-c", "cat >> {{dir}}/hook.out; echo >> {{dir}}/hook.out"]
[users.alice]
password = "{{hash}}"
limits = { download = "200KB/s", upload = "0" }
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`

type adminClient struct {
	t    *testing.T
	base string
	user string
}

func (a adminClient) do(method, path, body string) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.SetBasicAuth(a.user, pass)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestAdminAPI drives the admin API of a real server: status, a session with
// its transfer moving, kick (421 to the client), ban (the address's sessions
// closed with 421, new connections refused) and unban, a rejected reload (422
// with FILE:LINE lines, nothing changed), users, the event stream and a hook.
func TestAdminAPI(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, adminConfig, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice/big.bin"), strings.Repeat("x", 2<<20))
	api := adminClient{t: t, base: "http://" + in.Srv.AdminAddr(), user: "ops"}

	if code, body := api.do("GET", "/api/v1/status", ""); code != 200 || !strings.Contains(string(body), `"config_ok":true`) {
		t.Fatalf("status: %d %s", code, body)
	}
	if code, _ := (adminClient{t: t, base: api.base, user: "nobody"}).do("GET", "/api/v1/status", ""); code != 401 {
		t.Fatalf("unknown admin user: %d", code)
	}
	viewer := adminClient{t: t, base: api.base, user: "watch"}
	if code, _ := viewer.do("POST", "/api/v1/reload", ""); code != 403 {
		t.Fatalf("viewer reload: %d", code)
	}

	// The event stream, read in the background.
	req, _ := http.NewRequest("GET", api.base+"/api/v1/events", nil)
	req.SetBasicAuth("ops", pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				lines <- strings.TrimSpace(d)
			}
		}
		close(lines)
	}()

	c := login(t, in.Addr, "alice", pass)
	if err := c.Stor("up.txt", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.MakeDir("newdir"); err != nil {
		t.Fatal(err)
	}
	// A slow download shows in the sessions list with its progress.
	r, err := c.Retr("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	var sessions []struct {
		ID       string `json:"id"`
		User     string `json:"user"`
		Remote   string `json:"remote"`
		Transfer *struct {
			Direction string `json:"direction"`
			Path      string `json:"path"`
			Bytes     int64  `json:"bytes"`
			Size      *int64 `json:"size"`
		} `json:"transfer"`
	}
	servertest.WaitFor(t, 10*time.Second, "the download in the sessions list", func() bool {
		_, body := api.do("GET", "/api/v1/sessions", "")
		if err := json.Unmarshal(body, &sessions); err != nil {
			t.Fatalf("sessions: %s", body)
		}
		return len(sessions) == 1 && sessions[0].Transfer != nil && sessions[0].Transfer.Bytes > 0
	})
	tr := sessions[0].Transfer
	if sessions[0].User != "alice" || sessions[0].Remote != "127.0.0.1" || tr.Direction != "download" ||
		tr.Path != "/big.bin" || tr.Size == nil || *tr.Size != 2<<20 {
		t.Fatalf("session: %+v %+v", sessions[0], *tr)
	}

	// Kick: the client reads 421.
	raw := dialRaw(t, in.Addr)
	raw.read()
	raw.login("alice", pass)
	servertest.WaitFor(t, 5*time.Second, "two sessions", func() bool {
		_, body := api.do("GET", "/api/v1/sessions", "")
		_ = json.Unmarshal(body, &sessions)
		return len(sessions) == 2
	})
	if code, body := api.do("DELETE", "/api/v1/sessions/"+sessions[1].ID, ""); code != 204 {
		t.Fatalf("kick: %d %s", code, body)
	}
	if code, line, err := raw.tryRead(); code != 421 {
		t.Fatalf("kicked client read %q, %v", line, err)
	}
	if code, _ := api.do("DELETE", "/api/v1/sessions/no-such", ""); code != 404 {
		t.Fatalf("kick of an unknown session: %d", code)
	}
	r.Close()
	c.Quit()

	// Ban 127.0.0.7: its session is closed with 421, a new one refused.
	banned, err := dialRawFrom(t, "127.0.0.7", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	banned.read()
	if code, body := api.do("POST", "/api/v1/bans", `{"address":"127.0.0.7","duration":"1h","note":"test"}`); code != 201 {
		t.Fatalf("ban: %d %s", code, body)
	}
	if code, line, _ := banned.tryRead(); code != 421 {
		t.Fatalf("banned client read %q", line)
	}
	again, err := dialRawFrom(t, "127.0.0.7", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if code, line, _ := again.tryRead(); code != 421 {
		t.Fatalf("a banned address got %q", line)
	}
	if _, body := api.do("GET", "/api/v1/bans", ""); !strings.Contains(string(body), `"address":"127.0.0.7/32"`) ||
		!strings.Contains(string(body), `"reason":"manual"`) || !strings.Contains(string(body), `"note":"test"`) {
		t.Fatalf("bans: %s", body)
	}
	if code, _ := api.do("DELETE", "/api/v1/bans/127.0.0.7", ""); code != 204 {
		t.Fatalf("unban: %d", code)
	}
	if code, _ := api.do("DELETE", "/api/v1/bans/127.0.0.7", ""); code != 404 {
		t.Fatalf("unban twice: %d", code)
	}

	// A ban on the operator's own address (127.0.0.1, in the default autoban
	// exempt list, which a manual ban ignores) refuses FTP, and the operator
	// can still list and lift it.
	if code, body := api.do("POST", "/api/v1/bans", `{"address":"127.0.0.1","duration":"1h"}`); code != 201 {
		t.Fatalf("ban of the operator's address: %d %s", code, body)
	}
	self, err := dialRawFrom(t, "127.0.0.1", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if code, line, _ := self.tryRead(); code != 421 {
		t.Fatalf("a banned 127.0.0.1 got %q", line)
	}
	if code, body := api.do("GET", "/api/v1/bans", ""); code != 200 || !strings.Contains(string(body), `"address":"127.0.0.1/32"`) {
		t.Fatalf("bans from a banned address: %d %s", code, body)
	}
	if code, body := api.do("DELETE", "/api/v1/bans/127.0.0.1", ""); code != 204 {
		t.Fatalf("unban from the banned address: %d %s", code, body)
	}

	// A rejected reload: 422 with FILE:LINE lines, then status says so.
	good, _ := os.ReadFile(in.ConfigPath)
	if err := os.WriteFile(in.ConfigPath, append(good, []byte("\nbogus_key = 1\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := api.do("POST", "/api/v1/reload", "")
	if code != 422 || !strings.Contains(string(body), filepath.Base(in.ConfigPath)+":") {
		t.Fatalf("rejected reload: %d %s", code, body)
	}
	if _, body := api.do("GET", "/api/v1/status", ""); !strings.Contains(string(body), `"config_ok":false`) {
		t.Fatalf("status after a rejected reload: %s", body)
	}
	if err := os.WriteFile(in.ConfigPath, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := api.do("POST", "/api/v1/reload", ""); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	if _, body := api.do("GET", "/api/v1/users", ""); !strings.Contains(string(body), `"name":"alice"`) ||
		!strings.Contains(string(body), `"mount":"/"`) {
		t.Fatalf("users: %s", body)
	}

	// The event stream saw the upload; the hook got it on stdin.
	seen := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for !seen["upload"] || !seen["mkdir"] {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("event stream ended")
			}
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("event %q: %v", l, err)
			}
			seen[fmt.Sprint(e["event"])] = true
		case <-deadline:
			t.Fatalf("events seen: %v", seen)
		}
	}
	servertest.WaitFor(t, 10*time.Second, "the hook's output", func() bool {
		b, _ := os.ReadFile(filepath.Join(in.Dir, "hook.out"))
		return strings.Contains(string(b), `"event":"upload"`) && strings.Contains(string(b), `"path":"/up.txt"`) &&
			strings.Contains(string(b), `"event":"mkdir"`)
	})
	if v := metricValue(t, in.Metrics, `wharf_hook_runs_total{result="ok"}`); v < 2 {
		t.Fatalf("hook runs ok: %v", v)
	}
}
