// Package servertest starts a real wharf server for tests, from configuration
// text, on 127.0.0.1 with ports chosen by the kernel.
package servertest

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/internal/testkit"
	"github.com/wharf-ftp/wharf/server"
)

// Instance is a running server.
type Instance struct {
	Srv        *server.Server
	Addr       string // first control listener (plain FTP / explicit FTPS)
	Implicit   string // first implicit FTPS listener, if any
	Metrics    string // metrics listener, if any
	Dir        string // the temporary directory {{dir}} stood for
	ConfigPath string
	Logs       *Buffer
	stopped    bool
}

// Buffer is a goroutine-safe log buffer.
type Buffer = testkit.Buffer

// Password is the password of every user that Hash is used for in tests.
const Password = "s3cret-pass"

var (
	hashOnce sync.Once
	hashVal  string
)

// Hash returns a hash of Password, computed once per test binary.
func Hash() string {
	hashOnce.Do(func() {
		h, err := auth.HashPassword(Password)
		if err != nil {
			panic(err)
		}
		hashVal = h
	})
	return hashVal
}

// Expand replaces {{dir}} with dir, {{hash}} with Hash() and {{ports}} with a
// free passive port range of 20 ports.
func Expand(t testing.TB, text, dir string) string {
	t.Helper()
	text = strings.ReplaceAll(text, "{{dir}}", dir)
	text = strings.ReplaceAll(text, "{{hash}}", Hash())
	if strings.Contains(text, "{{ports}}") {
		first := FreePortRange(t, 20)
		text = strings.ReplaceAll(text, "{{ports}}", fmt.Sprintf("%d-%d", first, first+19))
	}
	return text
}

// Start writes the configuration text (after Expand) to a file in a new
// temporary directory, creates the directories mkdirs (relative to it), starts
// the server from it and stops it when the test ends.
func Start(t testing.TB, text string, mkdirs ...string) *Instance {
	t.Helper()
	dir := t.TempDir()
	for _, d := range mkdirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "wharf.toml")
	if err := os.WriteFile(path, []byte(Expand(t, text, dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return StartFile(t, path, dir)
}

// StartFile starts the server from an existing configuration file.
func StartFile(t testing.TB, path, dir string) *Instance {
	t.Helper()
	logs := &Buffer{}
	srv, err := server.New(server.Options{ConfigPath: path, Stdout: logs, Stderr: logs})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	in := &Instance{Srv: srv, Dir: dir, ConfigPath: path, Logs: logs, Metrics: srv.MetricsAddr()}
	if a := srv.ControlAddrs(); len(a) > 0 {
		in.Addr = a[0]
	}
	if a := srv.ImplicitAddrs(); len(a) > 0 {
		in.Implicit = a[0]
	}
	t.Cleanup(func() {
		in.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return in
}

// Stop shuts the server down at once (idempotent).
func (in *Instance) Stop() {
	if in.stopped {
		return
	}
	in.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in.Srv.Shutdown(ctx)
}

// Rewrite replaces the configuration file (after Expand) and reloads it.
func (in *Instance) Rewrite(t testing.TB, text string) error {
	t.Helper()
	if err := os.WriteFile(in.ConfigPath, []byte(Expand(t, text, in.Dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return in.Srv.Reload()
}

// Mkdir creates a directory under the instance directory and returns its path.
func (in *Instance) Mkdir(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(in.Dir, rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePortRange finds n consecutive TCP ports free on this machine now. It
// looks below the kernel's ephemeral range (ip_local_port_range), where
// outgoing connections of parallel tests do not compete for ports.
func FreePortRange(t testing.TB, n int) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil && v > 12000 {
				low = v
			}
		}
	}
	for attempt := 0; attempt < 500; attempt++ {
		first := 10000 + mrand.IntN(low-10000-n)
		ok := true
		var held []net.Listener
		for p := first; p < first+n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return first
		}
	}
	t.Fatal("no free port range found")
	return 0
}

// WaitFor polls cond every 10ms until it is true or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, timeout, what, cond)
}
