// Package s3test runs a real S3 server for tests: versitygw with its posix backend in a
// temporary directory, on a free loopback port.
package s3test

import (
	"bytes"
	"fmt"
	iofs "io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/engine"
)

// Install is how to install the server the tests need.
const Install = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// Credentials of the test server.
const (
	AccessKey = "wharftest"
	SecretKey = "wharf-test-secret-key-0123"
)

// Server is a running versitygw.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT
	Dir      string // its posix root: one directory per bucket
	bin      string
	addr     string
	t        testing.TB

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  bytes.Buffer
}

// Start runs versitygw with the buckets named (created as directories) and stops it when
// the test ends; a missing versitygw skips the test (fails it under CI=true).
func Start(t testing.TB, buckets ...string) *Server {
	t.Helper()
	bin := engine.Need(t, "versitygw", Install)
	dir := t.TempDir()
	for _, b := range buckets {
		if err := os.MkdirAll(filepath.Join(dir, b), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s := &Server{Endpoint: "http://" + addr, Dir: dir, bin: bin, addr: addr, t: t}
	s.Restart()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			s.mu.Lock()
			t.Logf("versitygw output:\n%s", s.out.String())
			s.mu.Unlock()
		}
	})
	return s
}

// Restart starts the server (again, on the same port) and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	cmd := exec.Command(s.bin, "--access", AccessKey, "--secret", SecretKey, "--port", s.addr, "posix", s.Dir)
	cmd.Stdout, cmd.Stderr = &lockedWriter{s}, &lockedWriter{s}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			_ = resp.Body.Close()
			return
		}
		select {
		case <-done:
			s.t.Fatalf("versitygw exited: %s", s.output())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("versitygw does not answer on %s: %v", s.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the server (idempotent).
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.t.Errorf("versitygw did not stop")
	}
}

func (s *Server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

type lockedWriter struct{ s *Server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.out.Len() > 1<<20 {
		return len(p), nil
	}
	return w.s.out.Write(p)
}

// AgeUpload makes the incomplete multipart upload id in bucket look started ago in the past:
// versitygw reports as its initiation time the modification time of the upload's directory in
// its posix root, and as each part's time that of the part's file (with parts, those too).
func (s *Server) AgeUpload(bucket, id string, ago time.Duration, parts bool) {
	s.t.Helper()
	when := time.Now().Add(-ago)
	found := false
	root := filepath.Join(s.Dir, bucket, ".sgwtmp", "multipart")
	err := filepath.WalkDir(root, func(p string, d iofs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() != id {
			return err
		}
		found = true
		if parts {
			entries, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := os.Chtimes(filepath.Join(p, e.Name()), when, when); err != nil {
					return err
				}
			}
		}
		return os.Chtimes(p, when, when)
	})
	if err != nil || !found {
		s.t.Fatalf("upload %s in %s: found %v, %v", id, root, found, err)
	}
}

// String describes the server.
func (s *Server) String() string { return fmt.Sprintf("versitygw at %s", s.Endpoint) }
