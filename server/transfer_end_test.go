package server_test

import (
	"crypto/rand"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cutUpload starts an explicit-FTPS STOR of 50,000 bytes over name with PROT P
// and returns the control connection and the raw TCP socket under the TLS data
// connection, with the bytes sent and not closed.
func cutUpload(t *testing.T, s *tlsServer, name string) (*rawConn, *net.TCPConn) {
	t.Helper()
	cfg := s.goTLS(0)
	c := s.explicitRaw(t, cfg)
	c.login("alice", pass)
	c.expect("PBSZ 0", 200)
	c.expect("PROT P", 200)
	c.expect("TYPE I", 200)
	raw := c.epsv().(*net.TCPConn)
	c.send("STOR " + name)
	if code, msg := c.read(); code != 150 {
		t.Fatalf("STOR: %q", msg)
	}
	tc := tls.Client(raw, cfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	chunk := make([]byte, 50_000)
	_, _ = rand.Read(chunk)
	if _, err := tc.Write(chunk); err != nil {
		t.Fatalf("upload: %v", err)
	}
	return c, raw
}

// TestTLSUploadCutOff: a TLS upload that ends without close_notify — a TCP
// shutdown, or a reset of both connections — never replaces the file, with
// [tls] strict_upload_eof on (the default). Off, a shutdown is taken as the end.
func TestTLSUploadCutOff(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, "", "")
	old := strings.Repeat("old content\n", 100)
	target := func(name string) string { return filepath.Join(s.Dir, "alice", name) }
	for _, n := range []string{"shut.txt", "reset.txt", "lax.txt"} {
		writeFile(t, target(n), old)
	}
	keptOld := func(t *testing.T, name string) {
		t.Helper()
		if got := readFile(t, target(name)); got != old {
			t.Fatalf("%s was replaced by %d bytes", name, len(got))
		}
	}

	t.Run("shutdown", func(t *testing.T) {
		c, raw := cutUpload(t, s, "shut.txt")
		if err := raw.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		code, msg := c.read()
		if code == 226 {
			t.Fatalf("a TLS upload without close_notify got %q", msg)
		}
		keptOld(t, "shut.txt")
		s.waitLog(t, "file operation", "op=upload", "path=/shut.txt", "result=interrupted")
	})

	t.Run("reset", func(t *testing.T) {
		c, raw := cutUpload(t, s, "reset.txt")
		_ = raw.SetLinger(0)
		_ = raw.Close()
		if tc, ok := c.conn.(*tls.Conn); ok {
			if nc, ok := tc.NetConn().(*net.TCPConn); ok {
				_ = nc.SetLinger(0)
			}
		}
		_ = c.conn.Close()
		s.waitLog(t, "file operation", "op=upload", "path=/reset.txt", "result=interrupted")
		keptOld(t, "reset.txt")
	})

	t.Run("strict_off", func(t *testing.T) {
		if err := s.edit(t, "[tls]\n", "[tls]\nstrict_upload_eof = false\n"); err != nil {
			t.Fatal(err)
		}
		c, raw := cutUpload(t, s, "lax.txt")
		if err := raw.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if code, msg := c.read(); code != 226 {
			t.Fatalf("with strict_upload_eof = false: %q", msg)
		}
		if got := readFile(t, target("lax.txt")); len(got) != 50_000 {
			t.Fatalf("lax.txt holds %d bytes", len(got))
		}
	})
	if v := s.metric(t, `wharf_transfers_total{direction="upload",result="interrupted"}`); v < 2 {
		t.Fatalf("%v interrupted uploads counted, want 2", v)
	}
}
