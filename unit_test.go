package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// unitLines returns the values of key= in systemd/wharf.service, in order.
func unitLines(t *testing.T, key string) []string {
	t.Helper()
	data, err := os.ReadFile("systemd/wharf.service")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestUnitReload runs the unit's ExecReload commands as systemd would, against
// a running wharf: a good file is reloaded; a rejected file makes the first
// command fail (so `systemctl reload` fails and shows why) and the server is
// never signalled.
func TestUnitReload(t *testing.T) {
	reload := unitLines(t, "ExecReload")
	if len(reload) != 2 || !strings.Contains(reload[0], " check --config ") || !strings.HasPrefix(reload[1], "/bin/kill -HUP $MAINPID") {
		t.Fatalf("ExecReload lines: %q", reload)
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	cfg := writeConfig(t, dir, signalConfig)
	d := startDaemon(t, cfg)

	// run runs one ExecReload line: the unit's paths replaced by the test's.
	run := func(line string) (string, error) {
		line = strings.ReplaceAll(line, "/etc/wharf/wharf.toml", cfg)
		line = strings.ReplaceAll(line, "$MAINPID", fmt.Sprint(d.cmd.Process.Pid))
		args := strings.Fields(line)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var cmd *exec.Cmd
		if args[0] == "/usr/local/bin/wharf" {
			cmd = wharfCmd(ctx, dir, args[1:]...)
		} else {
			cmd = exec.CommandContext(ctx, args[0], args[1:]...)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	systemctlReload := func() (string, error) {
		var all string
		for _, l := range reload {
			out, err := run(l)
			all += out
			if err != nil {
				return all, err // systemd stops at the first failing command
			}
		}
		return all, nil
	}

	writeConfig(t, dir, signalConfig+bobUser)
	if out, err := systemctlReload(); err != nil {
		t.Fatalf("reload of a good file failed: %v\n%s", err, out)
	}
	servertest.WaitFor(t, 10*time.Second, "reload", func() bool {
		return strings.Contains(d.stderr.String(), "configuration reloaded")
	})

	os.WriteFile(cfg, []byte("[server]\nlisten = [\"127.0.0.1:0\"]\nbogus = true\n"), 0o600)
	before := strings.Count(d.stderr.String(), "reloading configuration")
	out, err := systemctlReload()
	if err == nil || !strings.Contains(out, cfg+":3: unknown key") {
		t.Fatalf("reload of a bad file: %v\n%s", err, out)
	}
	if n := strings.Count(d.stderr.String(), "reloading configuration"); n != before {
		t.Error("the server was signalled although the file was rejected")
	}
	d.signal(t, syscall.SIGTERM)
	<-d.done
}

// TestUnitPIDFile: the unit's PIDFile= is the file ExecStart gives wharf with
// --pid-file, in the unit's RuntimeDirectory, so that systemd follows the new
// process of an upgrade.
func TestUnitPIDFile(t *testing.T) {
	start := unitLines(t, "ExecStart")
	pid := unitLines(t, "PIDFile")
	runtime := unitLines(t, "RuntimeDirectory")
	if len(start) != 1 || len(pid) != 1 || len(runtime) != 1 {
		t.Fatalf("ExecStart %q, PIDFile %q, RuntimeDirectory %q", start, pid, runtime)
	}
	words := strings.Fields(start[0])
	i := slices.Index(words, "--pid-file")
	if i < 0 || i+1 >= len(words) || words[i+1] != pid[0] {
		t.Fatalf("ExecStart %q does not write PIDFile=%s", start[0], pid[0])
	}
	if filepath.Dir(pid[0]) != "/run/"+runtime[0] {
		t.Errorf("PIDFile=%s is not in RuntimeDirectory=%s", pid[0], runtime[0])
	}
}
