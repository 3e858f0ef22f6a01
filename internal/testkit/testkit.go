// Package testkit holds the small helpers every package's tests share: a log
// buffer safe for concurrent writers and a free loopback port. It sits below
// every other package, so any test may import it.
package testkit

import (
	"bytes"
	"net"
	"sync"
	"testing"
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
