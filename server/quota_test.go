package server_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

const quotaConfig = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[groups.team]
[[groups.team.folders]]
mount = "/shared"
path = "{{dir}}/shared"
permissions = ["*"]
quota = { size = "1MB", files = 0 }
[users.alice]
password = "{{hash}}"
groups = ["team"]
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
quota = { size = "1MB", files = 3 }
[users.bob]
password = "{{hash}}"
groups = ["team"]
[[users.bob.folders]]
mount = "/"
path = "{{dir}}/bob"
permissions = ["*"]
`

// TestQuotas: an upload that would pass a folder's quota fails with 552 while it writes and
// the old file stays; a replacement counts its new size in place of the old one; AVBL tells
// what is left; files are counted; a group folder is counted once for all its users; usage
// is counted again at start.
func TestQuotas(t *testing.T) {
	in := servertest.Start(t, quotaConfig, "alice", "shared", "bob")
	alice := login(t, in.Addr, "alice", servertest.Password)
	bob := login(t, in.Addr, "bob", servertest.Password)
	kb := func(n int) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte("q"), n*1000)) }

	if err := alice.Stor("/a.bin", kb(600)); err != nil {
		t.Fatal(err)
	}
	err := alice.Stor("/b.bin", kb(600))
	if err == nil || !strings.HasPrefix(err.Error(), "552") {
		t.Fatalf("STOR past the quota: %v, want 552", err)
	}
	if _, err := os.Stat(filepath.Join(in.Dir, "alice", "b.bin")); !os.IsNotExist(err) {
		t.Errorf("a refused upload left b.bin: %v", err)
	}
	if err := alice.Stor("/a.bin", kb(900)); err != nil {
		t.Fatalf("a replacement within the quota: %v", err)
	}
	err = alice.Stor("/a.bin", kb(1200))
	if err == nil || !strings.HasPrefix(err.Error(), "552") {
		t.Fatalf("a replacement past the quota: %v, want 552", err)
	}
	if st, err := os.Stat(filepath.Join(in.Dir, "alice", "a.bin")); err != nil || st.Size() != 900_000 {
		t.Errorf("the old file after a refused replacement: %v, %v", st, err)
	}
	raw := dialRaw(t, in.Addr)
	raw.read()
	raw.login("alice", servertest.Password)
	if msg := raw.expect("AVBL /", 213); !strings.Contains(msg, "100000") {
		t.Errorf("AVBL = %q, want 100000", msg)
	}
	for i := range 2 {
		if err := alice.Stor("/s"+strconv.Itoa(i), kb(1)); err != nil {
			t.Fatalf("small file %d: %v", i, err)
		}
	}
	if err := alice.Stor("/s3", kb(0)); err == nil || !strings.HasPrefix(err.Error(), "552") {
		t.Errorf("a fourth file with files = 3: %v, want 552", err)
	}

	// a group folder, shared, is counted once
	if err := alice.Stor("/shared/x.bin", kb(600)); err != nil {
		t.Fatal(err)
	}
	if err := bob.Stor("/shared/y.bin", kb(600)); err == nil || !strings.HasPrefix(err.Error(), "552") {
		t.Errorf("bob past the shared quota: %v, want 552", err)
	}
	if v := metricValue(t, in.Metrics, "wharf_quota_refusals_total"); v < 4 {
		t.Errorf("wharf_quota_refusals_total = %v, want at least 4", v)
	}
	folders := in.Srv.UserFolders("alice")
	if len(folders) != 2 || folders[0].UsedSize != 902_000 || folders[0].UsedFiles != 3 || folders[1].UsedSize != 600_000 {
		t.Errorf("usage = %+v", folders)
	}

	// usage is counted again at start (here with a file written meanwhile outside wharf)
	in.Stop()
	writeFile(t, filepath.Join(in.Dir, "shared", "outside.bin"), strings.Repeat("o", 1000))
	in2 := servertest.StartFile(t, in.ConfigPath, in.Dir)
	servertest.WaitFor(t, 10*time.Second, "usage counted", func() bool {
		f := in2.Srv.UserFolders("bob")
		return len(f) == 2 && f[1].Mount == "/shared" && f[1].UsedSize == 601_000 && f[1].UsedFiles == 2
	})
	if f := in2.Srv.UserFolders("bob"); f[0].QuotaSize != 0 || f[1].QuotaSize != 1_000_000 {
		t.Errorf("bob's folders = %+v", f)
	}
}

// TestQuotaReplyWhileSending: a client that goes on sending past the quota (here 8 MB
// into a folder with 1 MB, written at once) can send it all and then reads the 552
// reply, instead of failing on a reset data connection.
func TestQuotaReplyWhileSending(t *testing.T) {
	in := servertest.Start(t, quotaConfig, "alice", "shared", "bob")
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("bob", servertest.Password)
	c.expect("TYPE I", 200)
	for round := range 2 {
		port := parseEPSV(t, c.expect("EPSV", 229))
		data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if code, msg := c.cmd("STOR /shared/big.bin"); code != 150 && code != 125 {
			t.Fatalf("STOR: %q", msg)
		}
		_ = data.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := data.Write(bytes.Repeat([]byte("b"), 8_000_000)); err != nil {
			t.Fatalf("round %d: sending past the quota failed before the reply: %v", round, err)
		}
		_ = data.Close()
		if code, msg := c.read(); code != 552 {
			t.Fatalf("round %d: after sending past the quota: %q, want 552", round, msg)
		}
	}
	c.expect("NOOP", 200)
	if _, err := os.Stat(filepath.Join(in.Dir, "shared", "big.bin")); !os.IsNotExist(err) {
		t.Errorf("a refused upload left big.bin: %v", err)
	}
}
