package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/engine"
	"github.com/wharf-ftp/wharf/internal/testkit"
)

// lineServer serves a wrapped listener the way the FTP server would: a 220
// greeting, then one reply per line naming the client's address. It records
// every connection it accepts.
type lineServer struct {
	mu    sync.Mutex
	conns []seenConn
}

type seenConn struct {
	remote, balancer string
	health           bool
	local            string
}

func (s *lineServer) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		sc := seenConn{remote: c.RemoteAddr().String(), local: c.LocalAddr().String()}
		if pc, ok := From(c); ok {
			sc.balancer, sc.health = pc.Balancer().String(), pc.HealthCheck()
		}
		s.mu.Lock()
		s.conns = append(s.conns, sc)
		s.mu.Unlock()
		go func() {
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(waitDeadline))
			if _, err := io.WriteString(c, "220 ready\r\n"); err != nil {
				return
			}
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "200 %s from %s\r\n", strings.TrimSpace(line), c.RemoteAddr())
			}
		}()
	}
}

func (s *lineServer) seen() []seenConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenConn(nil), s.conns...)
}

// TestHAProxy puts a real HAProxy in front of a wrapped listener, with each
// way it sends the PROXY protocol and health checks, and checks that the
// listener sees the client's address, that bytes flow both ways, and that
// the health checks pass without a refusal or a warning.
func TestHAProxy(t *testing.T) {
	haproxy := engine.Need(t, "haproxy", "apt-get install haproxy")
	cases := []struct {
		name   string
		server string // the options of the backend's server line
		check  string // the backend's check options
		status string // check_status once the checks pass
		health bool   // the checks arrive with a LOCAL/UNKNOWN header
	}{
		{name: "send-proxy", server: "send-proxy check inter 100ms", status: "L4OK", health: true},
		{name: "send-proxy-v2", server: "send-proxy-v2 check inter 100ms", status: "L4OK", health: true},
		{name: "send-proxy-v2 tcp-check 220", server: "send-proxy-v2 check inter 100ms",
			check: "option tcp-check\n    tcp-check expect string 220", status: "L7OK", health: true},
		{name: "send-proxy check-send-proxy tcp-check 220", server: "send-proxy check check-send-proxy inter 100ms",
			check: "option tcp-check\n    tcp-check expect string 220", status: "L7OK", health: true},
		{name: "send-proxy-v2 plain check", server: "send-proxy-v2 check no-check-send-proxy inter 100ms", status: "L4OK"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var logs testkit.Buffer
			refused := newRefusals()
			l := Wrap(raw, Options{
				Trusted:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
				Timeout:   2 * time.Second,
				Logger:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				OnRefused: refused.record,
			})
			srv := &lineServer{}
			served := make(chan struct{})
			go func() { srv.serve(l); close(served) }()
			t.Cleanup(func() {
				_ = l.Close()
				<-served
			})

			dir := t.TempDir()
			front := testkit.FreePort(t)
			sock := filepath.Join(dir, "stats.sock")
			cfg := fmt.Sprintf(`global
    maxconn 64
    stats socket %s level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    %s
    server s1 %s %s
`, sock, front, tc.check, l.Addr(), tc.server)
			cfgPath := filepath.Join(dir, "haproxy.cfg")
			if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var out testkit.Buffer
			cmd := exec.Command(haproxy, "-f", cfgPath, "-db")
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
				if t.Failed() {
					t.Logf("haproxy.cfg:\n%s\nhaproxy output:\n%s\nlistener log:\n%s", cfg, out.String(), logs.String())
				}
			})

			// HAProxy is ready when a connection through its frontend gets
			// the greeting.
			frontAddr := fmt.Sprintf("127.0.0.1:%d", front)
			eventually(t, "haproxy's frontend", func() bool {
				select {
				case <-exited:
					t.Fatalf("haproxy exited:\n%s", out.String())
				default:
				}
				c, err := net.DialTimeout("tcp", frontAddr, time.Second)
				if err != nil {
					return false
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				return line == "220 ready\r\n"
			})

			// A client at 127.0.0.5 is seen as 127.0.0.5, the balancer
			// being 127.0.0.1; bytes flow both ways.
			client := dial(t, "127.0.0.5", frontAddr)
			_ = client.SetDeadline(time.Now().Add(waitDeadline))
			r := bufio.NewReader(client)
			if line, err := r.ReadString('\n'); err != nil || line != "220 ready\r\n" {
				t.Fatalf("greeting %q, %v", line, err)
			}
			for _, cmd := range []string{"USER alice", "NOOP"} {
				write(t, client, cmd+"\r\n")
				line, err := r.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("200 %s from 127.0.0.5:%d\r\n", cmd, client.LocalAddr().(*net.TCPAddr).Port)
				if line != want {
					t.Fatalf("reply %q, want %q", line, want)
				}
			}
			var mine *seenConn
			for _, sc := range srv.seen() {
				if strings.HasPrefix(sc.remote, "127.0.0.5:") {
					mine = &sc
				}
			}
			if mine == nil {
				t.Fatal("the client's connection was not seen")
			}
			if !strings.HasPrefix(mine.balancer, "127.0.0.1:") || mine.health || mine.local != l.Addr().String() {
				t.Errorf("client connection: %+v", *mine)
			}

			// Health checks: wait for a few to pass.
			eventually(t, "health checks to pass", func() bool {
				st := serverState(t, sock)
				return st["status"] == "UP" && st["check_status"] == tc.status && st["chkfail"] == "0"
			})
			if tc.health {
				eventually(t, "health checks with a PROXY header", func() bool {
					n := 0
					for _, sc := range srv.seen() {
						if sc.health {
							n++
						}
					}
					return n >= 3
				})
			}
			st := serverState(t, sock)
			if st["status"] != "UP" || st["chkfail"] != "0" {
				t.Errorf("server state %v", st)
			}
			if n := refused.count(); n != 0 {
				t.Errorf("%d refusals: %s", n, logs.String())
			}
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					t.Errorf("listener logged: %s", line)
				}
			}
			if o := out.String(); strings.Contains(o, "is DOWN") || strings.Contains(o, "ALERT") {
				t.Errorf("haproxy reported:\n%s", o)
			}
		})
	}
}

// serverState asks HAProxy's stats socket for the state of backend be's
// server s1, as a map of the columns of `show stat`.
func serverState(t *testing.T, sock string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil
	}
	b, _ := io.ReadAll(c)
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("# ")))).ReadAll()
	if err != nil || len(recs) < 2 {
		return nil
	}
	for _, rec := range recs[1:] {
		if len(rec) < 2 || rec[0] != "be" || rec[1] != "s1" {
			continue
		}
		m := make(map[string]string, len(rec))
		for i, name := range recs[0] {
			if i < len(rec) {
				m[name] = rec[i]
			}
		}
		return m
	}
	return nil
}
