package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

const opsConfig = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[log]
format = "json"
level = "debug"
transfer_log = "{{dir}}/xferlog"
` + aliceBlock

const aliceBlock = `
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`

const bobBlock = `
[users.bob]
password = "{{hash}}"
[[users.bob.folders]]
mount = "/"
path = "{{dir}}/bob"
permissions = ["*"]
`

func TestMetricsLogsAndTransferLog(t *testing.T) {
	in := servertest.Start(t, opsConfig, "alice")
	resp, err := http.Get("http://" + in.Metrics + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	c := login(t, in.Addr, "alice", pass)
	if err := c.Stor("a file.txt", strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	r, err := c.Retr("a file.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(r)
	r.Close()
	bad := dialRaw(t, in.Addr)
	bad.read()
	bad.expect("USER alice", 331)
	bad.expect("PASS not-the-password", 530)

	servertest.WaitFor(t, 5*time.Second, "transfer metrics", func() bool {
		return metricValue(t, in.Metrics, `wharf_transfers_total{direction="download",result="complete"}`) == 1
	})
	for series, want := range map[string]float64{
		`wharf_logins_total{result="success"}`:                        1,
		`wharf_logins_total{result="failure"}`:                        1,
		`wharf_transfers_total{direction="upload",result="complete"}`: 1,
		`wharf_transfer_bytes_total{direction="upload"}`:              10,
		`wharf_transfer_bytes_total{direction="download"}`:            10,
		`wharf_connections_total{result="accepted"}`:                  2,
		`wharf_connections`:                                           1,
		`wharf_passive_ports_exhausted_total`:                         0,
		`wharf_bans`:                                                  0,
	} {
		if got := metricValue(t, in.Metrics, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	metricValue(t, in.Metrics, "go_goroutines")
	metricValue(t, in.Metrics, "process_resident_memory_bytes")

	// Every log line is one JSON object; the password never appears, PASS is masked.
	logs := in.Logs.String()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
	}
	if strings.Contains(logs, pass) || strings.Contains(logs, "not-the-password") {
		t.Fatal("a password reached the log")
	}
	if !regexp.MustCompile(`"msg":"Received line","component":"ftp","session":"[^"]+","remote":"127.0.0.1","user":"alice","line":"TYPE I"`).MatchString(logs) {
		t.Error("the library's command lines lack session, remote and user")
	}
	if !strings.Contains(logs, "PASS ****") {
		t.Error("debug log lacks the masked PASS command")
	}
	if !regexp.MustCompile(`"session":"[^"]+","remote":"127.0.0.1","user":"alice"`).MatchString(logs) {
		t.Error("session lines lack session, remote and user")
	}

	// The transfer log: xferlog's fields (the date takes 5), status c.
	servertest.WaitFor(t, 5*time.Second, "transfer log", func() bool {
		b, _ := os.ReadFile(filepath.Join(in.Dir, "xferlog"))
		return strings.Count(string(b), "\n") == 2
	})
	b, _ := os.ReadFile(filepath.Join(in.Dir, "xferlog"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	xfer := regexp.MustCompile(`^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} (\d+) (\S+) (\d+) (\S+) ([ab]) (\S) ([io]) ([arg]) (\S+) ftp ([01]) (\S+) ([ci])$`)
	for i, want := range []struct{ dir, status string }{{"i", "c"}, {"o", "c"}} {
		m := xfer.FindStringSubmatch(lines[i])
		if m == nil {
			t.Fatalf("xferlog line %q does not match the format", lines[i])
		}
		if m[2] != "127.0.0.1" || m[3] != "10" || m[4] != "/a_file.txt" || m[7] != want.dir || m[9] != "alice" || m[12] != want.status {
			t.Errorf("xferlog fields %q", m[1:])
		}
	}
}

func TestReloadKeepsSessionsAndRejectsBadFiles(t *testing.T) {
	in := servertest.Start(t, opsConfig, "alice", "bob")
	c := login(t, in.Addr, "alice", pass)

	// A bad file changes nothing.
	if err := in.Rewrite(t, opsConfig+"\n[server]\nbogus = 1\n"); err == nil {
		t.Fatal("a bad file was accepted")
	}
	if got := metricValue(t, in.Metrics, "wharf_config_last_reload_successful"); got != 0 {
		t.Fatalf("last reload successful = %v", got)
	}
	login(t, in.Addr, "alice", pass)

	// A new user appears; alice's session keeps working.
	withBob := opsConfig + bobBlock
	if err := in.Rewrite(t, withBob); err != nil {
		t.Fatal(err)
	}
	login(t, in.Addr, "bob", pass)
	if err := c.Stor("after-reload.txt", strings.NewReader("still here")); err != nil {
		t.Fatalf("alice's session after reload: %v", err)
	}
	// Removing alice refuses her next login; her open session goes on.
	if err := in.Rewrite(t, strings.Replace(withBob, aliceBlock, "", 1)); err != nil {
		t.Fatal(err)
	}
	d := dial(t, in.Addr)
	if err := d.Login("alice", pass); err == nil {
		t.Fatal("a removed user logged in")
	}
	if _, err := c.List("/"); err != nil {
		t.Fatalf("alice's open session after her removal: %v", err)
	}
}

// TestTransferLogReopensOnReload is logrotate's case: the file is moved away,
// SIGHUP (here: Reload) makes wharf write to a new file at the configured path.
func TestTransferLogReopensOnReload(t *testing.T) {
	in := servertest.Start(t, opsConfig, "alice")
	c := login(t, in.Addr, "alice", pass)
	logPath := filepath.Join(in.Dir, "xferlog")
	if err := c.Stor("one.txt", strings.NewReader("1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("two.txt", strings.NewReader("2")); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 5*time.Second, "a new transfer log", func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "/two.txt")
	})
	old, _ := os.ReadFile(logPath + ".1")
	if !strings.Contains(string(old), "/one.txt") || strings.Contains(string(old), "/two.txt") {
		t.Fatalf("rotated log: %q", old)
	}
}
