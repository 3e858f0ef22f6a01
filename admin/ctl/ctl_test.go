package ctl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/admin/admintest"
	"github.com/wharf-ftp/wharf/admin/ctl"
)

// server is a real admin server with an in-memory backend.
type server struct {
	backend *admintest.Backend
	tcp     string // host:port
	sock    string // unix socket path
}

func start(t *testing.T) *server {
	t.Helper()
	b := admintest.New()
	b.AddSession(admin.Session{ID: "7f3a", Node: "n1", User: "alice", Remote: netip.MustParseAddr("192.0.2.10"),
		Listener: "0.0.0.0:21", TLS: true, ConnectedAt: time.Now().Add(-5 * time.Minute), IdleSeconds: 3,
		Transfer: &admin.Transfer{Direction: admin.Download, Path: "/iso/debian.iso", Bytes: 250_000_000, Size: 1_000_000_000,
			BytesPerSecond: 12_500_000, StartedAt: time.Now().Add(-20 * time.Second)}})
	b.AddSession(admin.Session{ID: "91c0", Node: "n1", Remote: netip.MustParseAddr("2001:db8::7"), Listener: "0.0.0.0:21",
		ConnectedAt: time.Now().Add(-3 * time.Second)})
	b.SetUsers([]admin.User{{Name: "alice", Groups: []string{"staff"}, Sessions: 1,
		Folders: []admin.Folder{{Mount: "/", QuotaSize: 10_000_000_000, UsedSize: 1_200_000_000, UsedFiles: 12}}}})
	s := &server{backend: b}
	users := func(u, p string) (string, bool) {
		switch {
		case u == "ops" && p == "s3cret":
			return admin.RoleAdmin, true
		case u == "watch" && p == "look":
			return admin.RoleViewer, true
		}
		return "", false
	}
	tcpL, err := admin.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.tcp = tcpL.Addr().String()
	s.sock = filepath.Join(t.TempDir(), "admin.sock")
	unixL, err := admin.Listen("unix:"+s.sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		l    net.Listener
		unix bool
	}{{tcpL, false}, {unixL, true}} {
		srv := admin.New(admin.Options{Backend: b, Users: users, Unix: x.unix})
		done := make(chan error, 1)
		go func() { done <- srv.Serve(x.l) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		})
	}
	return s
}

// run runs ctl with args; resolve answers with addr for any file.
func run(t *testing.T, addr string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	resolve := func(path string) (string, error) {
		if path == "/missing.toml" {
			return "", fmt.Errorf("%s: no such file", path)
		}
		return addr, nil
	}
	code = ctl.Run(args, strings.NewReader(""), &out, &errb, resolve)
	return code, out.String(), errb.String()
}

func TestOverUnixSocket(t *testing.T) {
	s := start(t)
	addr := "unix:" + s.sock

	code, out, errs := run(t, addr, "status")
	if code != 0 || !strings.Contains(out, "sessions       2") || !strings.Contains(out, "configuration  ok") {
		t.Fatalf("status: %d\n%s%s", code, out, errs)
	}
	code, out, _ = run(t, addr, "sessions")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") ||
		!strings.Contains(lines[1], "download /iso/debian.iso 250.0 MB of 1.0 GB (25%) at 12.5 MB/s") ||
		!strings.Contains(lines[2], "(login)") {
		t.Fatalf("sessions: %d\n%s", code, out)
	}
	// Columns line up.
	if strings.Index(lines[0], "USER") != strings.Index(lines[1], "alice") {
		t.Errorf("columns not aligned:\n%s", out)
	}
	code, out, _ = run(t, addr, "--json", "sessions")
	var ss []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &ss) != nil || len(ss) != 2 || ss[0]["id"] != "7f3a" {
		t.Fatalf("sessions --json: %d %s", code, out)
	}
	code, out, _ = run(t, addr, "users")
	if code != 0 || !strings.Contains(out, "/ 1.2 GB of 10.0 GB 12 files") {
		t.Errorf("users: %d\n%s", code, out)
	}

	if code, out, _ = run(t, addr, "kick", "7f3a"); code != 0 || out != "session 7f3a closed\n" {
		t.Errorf("kick: %d %q", code, out)
	}
	if code, _, errs = run(t, addr, "kick", "7f3a"); code != 1 || !strings.Contains(errs, "no session") {
		t.Errorf("kick of a gone session: %d %q", code, errs)
	}

	code, out, _ = run(t, addr, "ban", "203.0.113.9", "--for", "2h", "--note", "port scan")
	if code != 0 || !strings.HasPrefix(out, "203.0.113.9/32 banned until ") {
		t.Errorf("ban: %d %q", code, out)
	}
	code, out, _ = run(t, addr, "bans")
	if code != 0 || !strings.Contains(out, "203.0.113.9/32") || !strings.Contains(out, "port scan") || !strings.Contains(out, "manual") {
		t.Errorf("bans: %d\n%s", code, out)
	}
	if code, _, errs = run(t, addr, "ban", "203.0.113.9", "--for", "forever"); code != 1 || !strings.Contains(errs, "not a positive Go duration") {
		t.Errorf("ban with a bad duration: %d %q", code, errs)
	}
	if code, _, _ = run(t, addr, "ban", "2001:db8::/48"); code != 0 {
		t.Errorf("ban of a prefix: %d", code)
	}
	if code, out, _ = run(t, addr, "unban", "2001:db8::/48"); code != 0 || out != "ban on 2001:db8::/48 lifted\n" {
		t.Errorf("unban of a prefix: %d %q", code, out)
	}
	if code, _, _ = run(t, addr, "unban", "203.0.113.9"); code != 0 {
		t.Errorf("unban: %d", code)
	}
	if code, _, errs = run(t, addr, "unban", "203.0.113.9"); code != 1 || !strings.Contains(errs, "no ban for 203.0.113.9/32") {
		t.Errorf("unban of no ban: %d %q", code, errs)
	}
	if code, out, _ = run(t, addr, "--json", "bans"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("bans --json: %d %q", code, out)
	}

	if code, out, _ = run(t, addr, "reload"); code != 0 || out != "configuration reloaded\n" {
		t.Errorf("reload: %d %q", code, out)
	}
	lines = []string{"/etc/wharf/wharf.toml:4: unknown key \"listn\"", "/etc/wharf/wharf.toml:9: bad CIDR \"10.0.0.0/33\""}
	s.backend.RejectReloads(lines)
	code, out, errs = run(t, addr, "reload")
	if code != 1 || out != "" || !strings.Contains(errs, lines[0]+"\n"+lines[1]+"\n") {
		t.Errorf("rejected reload: %d %q %q", code, out, errs)
	}
	code, out, _ = run(t, addr, "--json", "reload")
	if code != 1 || !strings.Contains(out, `"errors":[`) {
		t.Errorf("rejected reload --json: %d %q", code, out)
	}
	code, out, _ = run(t, addr, "status")
	if code != 0 || !strings.Contains(out, "last reload rejected") || !strings.Contains(out, lines[1]) {
		t.Errorf("status after a rejected reload: %d\n%s", code, out)
	}

	if code, _, errs = run(t, addr, "upgrade"); code != 1 || !strings.Contains(errs, "HTTP 501") {
		t.Errorf("upgrade: %d %q", code, errs)
	}
	s.backend.SetUpgradeError(nil)
	if code, out, _ = run(t, addr, "upgrade"); code != 0 || out != "upgrade started\n" {
		t.Errorf("upgrade: %d %q", code, out)
	}
}

func TestOverTCP(t *testing.T) {
	s := start(t)
	t.Setenv(ctl.PasswordEnv, "s3cret")
	for _, addr := range []string{s.tcp, "http://" + s.tcp} {
		if code, out, errs := run(t, addr, "--user", "ops", "status"); code != 0 || !strings.Contains(out, "pid") {
			t.Errorf("status at %s: %d %s%s", addr, code, out, errs)
		}
	}
	// --admin instead of --config.
	var out, errb bytes.Buffer
	if code := ctl.Run([]string{"--admin", s.tcp, "--user=ops", "bans"}, nil, &out, &errb, nil); code != 0 || out.String() != "no bans\n" {
		t.Errorf("--admin: %d %q %q", code, out.String(), errb.String())
	}
	// A wildcard listener address means this machine.
	_, port, _ := net.SplitHostPort(s.tcp)
	if code, _, errs := run(t, "0.0.0.0:"+port, "--user", "ops", "status"); code != 0 {
		t.Errorf("wildcard address: %d %s", code, errs)
	}

	t.Setenv(ctl.PasswordEnv, "wrong")
	if code, _, errs := run(t, s.tcp, "--user", "ops", "status"); code != 1 || !strings.Contains(errs, "wrong user name or password") {
		t.Errorf("wrong password: %d %q", code, errs)
	}
	t.Setenv(ctl.PasswordEnv, "look")
	if code, _, _ := run(t, s.tcp, "--user", "watch", "sessions"); code != 0 {
		t.Errorf("viewer sessions: %d", code)
	}
	if code, _, errs := run(t, s.tcp, "--user", "watch", "kick", "7f3a"); code != 1 || !strings.Contains(errs, "refused") {
		t.Errorf("viewer kick: %d %q", code, errs)
	}
}

func TestNoPassword(t *testing.T) {
	s := start(t)
	// t.Setenv then unset, so the test restores the variable.
	t.Setenv(ctl.PasswordEnv, "")
	unsetenv(t, ctl.PasswordEnv)
	code, _, errs := run(t, s.tcp, "status")
	if code != 1 || !strings.Contains(errs, ctl.PasswordEnv) {
		t.Errorf("no password: %d %q", code, errs)
	}
}

func TestUsage(t *testing.T) {
	cases := [][]string{
		{},
		{"frobnicate"},
		{"kick"},
		{"kick", "a", "b"},
		{"status", "extra"},
		{"--bogus", "status"},
		{"--config"},
		{"status", "--for", "1h"},
		{"--config", "a.toml", "--admin", "unix:/x", "status"},
		{"--json=yes", "status"},
	}
	for _, args := range cases {
		code, out, errs := run(t, "unix:/nonexistent", args...)
		if code != 2 || out != "" || !strings.Contains(errs, "usage: wharf ctl") {
			t.Errorf("%q: %d %q %q", args, code, out, errs)
		}
	}
	if code, _, errs := run(t, "", "--admin", "ftp://host:21", "status"); code != 2 || !strings.Contains(errs, "want unix:PATH") {
		t.Errorf("bad --admin: %d %q", code, errs)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"ban", "--help"}} {
		code, out, _ := run(t, "unix:/nonexistent", args...)
		if code != 0 || !strings.HasPrefix(out, "usage: wharf ctl") {
			t.Errorf("%q: %d %q", args, code, out)
		}
	}
}

func TestFailures(t *testing.T) {
	// The server is not running.
	code, _, errs := run(t, "unix:"+filepath.Join(t.TempDir(), "gone.sock"), "status")
	if code != 1 || !strings.Contains(errs, "cannot reach the admin API") {
		t.Errorf("no server: %d %q", code, errs)
	}
	// The file cannot be read, or has the admin API off.
	if code, _, errs = run(t, "", "--config", "/missing.toml", "status"); code != 1 || !strings.Contains(errs, "/missing.toml: no such file") {
		t.Errorf("bad config: %d %q", code, errs)
	}
	if code, _, errs = run(t, "", "--config", "/etc/x.toml", "status"); code != 1 || !strings.Contains(errs, "admin API is off in /etc/x.toml") {
		t.Errorf("admin off: %d %q", code, errs)
	}
}
