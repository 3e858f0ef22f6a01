// Package testkit holds the small helpers every package's tests share: a log
// buffer safe for concurrent writers, a free loopback port and an
// ftpserverlib server served for the length of a test.
package testkit

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// Buffer is a goroutine-safe buffer, for a logger's output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// FreePort returns a loopback port that was free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Serve listens and serves srv until the test ends, then stops it and waits
// (a bounded time) for Serve to return.
func Serve(t testing.TB, srv *ftpserver.FtpServer) {
	t.Helper()
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { _ = srv.Serve(); close(served) }()
	t.Cleanup(func() {
		_ = srv.Stop()
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Stop")
		}
	})
}

// WaitFor polls cond until it holds, failing the test after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
