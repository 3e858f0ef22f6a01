package server_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"testing"
)

// TestJSONLogSchema: with format = "json" every line is one JSON object, every
// key has one JSON type on every line (the library's lines included), no value
// is null, and a ban is one line.
func TestJSONLogSchema(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, `
[log]
format = "json"
level = "debug"
[autoban]
enabled = true
exempt = []
failures = 2
window = "1m"
ban = "1h"
`, "")
	// A session with a transfer, over TLS, dropped without a TLS close.
	c := s.explicitRaw(t, s.goTLS(0))
	c.login("alice", pass)
	c.expect("PBSZ 0", 200)
	c.expect("PROT P", 200)
	c.tlsTransfer(s.goTLS(0), "STOR f.txt", []byte("data"))
	c.conn.(*tls.Conn).NetConn().Close()
	// Two failed logins: a ban.
	for i := 0; i < 2; i++ {
		r := dialRaw(t, s.Addr)
		r.read()
		r.expect("USER alice", 331)
		r.expect("PASS wrong", 530)
	}
	s.waitLog(t, "address banned")
	s.Stop()

	types := map[string]map[string]bool{}
	bans := 0
	for _, line := range bytes.Split(bytes.TrimSpace([]byte(s.Logs.String())), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not one JSON object: %s", line)
		}
		if m["msg"] == "address banned" {
			bans++
		}
		for k, v := range m {
			if v == nil {
				t.Errorf("%q is null in %s", k, line)
			}
			if types[k] == nil {
				types[k] = map[string]bool{}
			}
			types[k][fmt.Sprintf("%T", v)] = true
		}
	}
	for k, ts := range types {
		if len(ts) > 1 {
			t.Errorf("key %q has several types: %v", k, ts)
		}
	}
	if bans != 1 {
		t.Errorf("%d \"address banned\" lines for one ban", bans)
	}
}
