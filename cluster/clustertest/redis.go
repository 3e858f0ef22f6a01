// Package clustertest runs a real redis-server for tests: in the
// foreground, on a unix socket in a temporary directory and on a free
// loopback port, without persistence, stopped when the test ends.
package clustertest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/engine"
)

// Redis is a redis-server run by a test.
type Redis struct {
	t      testing.TB
	prog   string
	dir    string
	socket string
	port   int

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
	out  *bytes.Buffer
}

// Start starts redis-server, or skips t (fails it under CI=true) when it is
// not installed. It is stopped when t ends.
func Start(t testing.TB) *Redis {
	t.Helper()
	prog := engine.Need(t, "redis-server", "Debian package redis-server")
	dir, err := os.MkdirTemp("", "redis")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &Redis{t: t, prog: prog, dir: dir, socket: filepath.Join(dir, "redis.sock")}
	t.Cleanup(r.Stop)
	var lastErr error
	for range 5 { // a free port may be taken between its choice and its use
		if r.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if lastErr = r.start(); lastErr == nil {
			return r
		}
	}
	t.Fatalf("redis-server: %v", lastErr)
	return nil
}

// URL is the unix socket's URL, "unix:///.../redis.sock".
func (r *Redis) URL() string { return "unix://" + r.socket }

// TCPURL is the loopback URL, "redis://127.0.0.1:PORT/0".
func (r *Redis) TCPURL() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

// Stop stops the server (SIGTERM, then SIGKILL) and waits for it to exit.
func (r *Redis) Stop() {
	r.mu.Lock()
	cmd, exit := r.cmd, r.exit
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exit
	}
}

// Restart starts the server again on the same socket and port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	var err error
	for range 50 { // the old listener's port may linger a moment
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	r.t.Fatalf("redis-server restart: %v", err)
}

// start runs redis-server and waits until it answers on its socket.
func (r *Redis) start() error {
	_ = os.Remove(r.socket)
	out := &bytes.Buffer{}
	cmd := exec.Command(r.prog,
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--unixsocket", r.socket, "--unixsocketperm", "700",
		"--dir", r.dir, "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exit)
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ping(r.socket) {
			r.mu.Lock()
			r.cmd, r.exit, r.out = cmd, exit, out
			r.mu.Unlock()
			return nil
		}
		select {
		case <-exit:
			return fmt.Errorf("exited at start: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exit
			return fmt.Errorf("no answer within 15s: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ping reports whether a Redis answers PING on the unix socket.
func ping(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
