package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wharf-ftp/wharf/internal/s3test"
	"github.com/wharf-ftp/wharf/server/servertest"
)

const storeConfigText = `
[server]
listen = ["127.0.0.1:0"]
data_timeout = "3s"
[passive]
ports = "{{ports}}"
[stores.media]
type = "s3"
endpoint = "ENDPOINT"
bucket = "media"
access_key = "ACCESS"
secret_key_file = "{{dir}}/secret"
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
[[users.alice.folders]]
mount = "/media"
store = "media"
path = "alice/"
permissions = ["*"]
`

// startStore runs versitygw and wharf with alice's /media in its bucket "media".
func startStore(t *testing.T) (*s3test.Server, *servertest.Instance) {
	t.Helper()
	vg := s3test.Start(t, "media")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secret"), s3test.SecretKey+"\n")
	if err := os.MkdirAll(filepath.Join(dir, "alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("ENDPOINT", vg.Endpoint, "ACCESS", s3test.AccessKey).Replace(storeConfigText)
	path := filepath.Join(dir, "wharf.toml")
	writeFile(t, path, servertest.Expand(t, text, dir))
	return vg, servertest.StartFile(t, path, dir)
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func retr(t *testing.T, c *ftp.ServerConn, name string, offset uint64) []byte {
	t.Helper()
	r, err := c.RetrFrom(name, offset)
	if err != nil {
		t.Fatalf("RETR %s from %d: %v", name, offset, err)
	}
	b, err := io.ReadAll(r)
	_ = r.Close()
	if err != nil {
		t.Fatalf("RETR %s: %v", name, err)
	}
	return b
}

// TestStoreFolder drives a folder in a real S3 server (versitygw) through wharf with real
// clients: round trips, resume, directories, renames, listings, refusals, interrupted
// uploads, and the store going away and coming back.
func TestStoreFolder(t *testing.T) {
	vg, in := startStore(t)
	c := login(t, in.Addr, "alice", servertest.Password)
	object := func(key string) string { return filepath.Join(vg.Dir, "media", filepath.FromSlash(key)) }

	// 5 MB (one PUT) and 40 MB (a multipart upload) round trips
	for _, size := range []int{5_000_000, 40_000_000} {
		data := randomBytes(size, uint64(size))
		name := fmt.Sprintf("/media/f%d.bin", size)
		if err := c.Stor(name, bytes.NewReader(data)); err != nil {
			t.Fatalf("STOR %d bytes: %v", size, err)
		}
		if got := retr(t, c, name, 0); !bytes.Equal(got, data) {
			t.Fatalf("RETR %d bytes: got %d bytes, different", size, len(got))
		}
		if got := retr(t, c, name, uint64(size-12345)); !bytes.Equal(got, data[size-12345:]) {
			t.Fatalf("resumed RETR: %d bytes, different", len(got))
		}
		if n, err := c.FileSize(name); err != nil || n != int64(size) {
			t.Errorf("SIZE = %d, %v", n, err)
		}
		if st, err := os.Stat(object(fmt.Sprintf("alice/f%d.bin", size))); err != nil || st.Size() != int64(size) {
			t.Errorf("object: %v, %v", st, err)
		}
	}

	// HASH is computed from the bytes, even for a multipart object
	raw := dialRaw(t, in.Addr)
	raw.read()
	raw.login("alice", servertest.Password)
	sum := sha256.Sum256(randomBytes(40_000_000, 40_000_000))
	if _, msg := raw.cmd("HASH /media/f40000000.bin"); !strings.Contains(msg, hex.EncodeToString(sum[:])) {
		t.Errorf("HASH = %q", msg)
	}
	if _, msg := raw.cmd("MDTM /media/f5000000.bin"); !strings.HasPrefix(msg, "213 20") {
		t.Errorf("MDTM = %q", msg)
	}

	// what an object store cannot do: a 5xx that changes nothing
	if err := c.Stor("/media/small.txt", strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if code, msg := raw.cmd("MFMT 20200101000000 /media/small.txt"); code < 500 {
		t.Errorf("MFMT: %q", msg)
	}
	if err := c.Append("/media/small.txt", strings.NewReader(" world")); err == nil {
		t.Error("APPE to an object succeeded")
	}
	if err := c.StorFrom("/media/small.txt", strings.NewReader("J"), 1); err == nil {
		t.Error("REST+STOR of an object succeeded")
	}
	if got := readFile(t, object("alice/small.txt")); got != "hello" {
		t.Errorf("small.txt = %q after refused writes", got)
	}

	// directories and renames
	if err := c.MakeDir("/media/d"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(object("alice/d")); err != nil {
		t.Errorf("MKD made no marker: %v", err)
	}
	if err := c.Rename("/media/small.txt", "/media/d/moved.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Stor("/media/d/sub/x.txt", strings.NewReader("x")); err == nil {
		t.Error("STOR into a missing directory succeeded")
	}
	if err := c.Rename("/media/d", "/media/d2"); err != nil {
		t.Fatalf("directory rename: %v", err)
	}
	if got := retr(t, c, "/media/d2/moved.txt", 0); string(got) != "hello" {
		t.Errorf("after the directory rename: %q", got)
	}
	if err := c.RemoveDir("/media/d2"); err == nil {
		t.Error("RMD of a non-empty directory succeeded")
	}
	if err := c.Delete("/media/d2/moved.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveDir("/media/d2"); err != nil {
		t.Errorf("RMD of an empty directory: %v", err)
	}

	// 2,500 keys listed (paged by the store 1,000 at a time)
	many := object("alice/many")
	if err := os.MkdirAll(many, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 2500 {
		writeFile(t, filepath.Join(many, fmt.Sprintf("k%04d", i)), "")
	}
	names, err := c.NameList("/media/many")
	if err != nil || len(names) != 2500 {
		t.Errorf("NLST of 2,500 keys: %d names, %v", len(names), err)
	}

	// no name reaches a key outside the folder's prefix
	writeFile(t, object("other/secret.txt"), "not alice's")
	for _, p := range []string{"/media/../other/secret.txt", "/media/../../other/secret.txt", "/media/d/../../other/secret.txt"} {
		if r, err := c.Retr(p); err == nil {
			b, _ := io.ReadAll(r)
			_ = r.Close()
			t.Errorf("RETR %s gave %q", p, b)
		}
	}

	// an interrupted upload leaves the old object and no incomplete upload
	old := randomBytes(1000, 1)
	if err := c.Stor("/media/keep.bin", bytes.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	data := raw.epsv()
	raw.expect("TYPE I", 200)
	raw.send("STOR /media/keep.bin")
	if code, msg := raw.read(); code != 150 {
		t.Fatalf("STOR: %q", msg)
	}
	if _, err := data.Write(randomBytes(20_000_000, 2)); err != nil {
		t.Fatal(err)
	}
	_ = data.(interface{ SetLinger(int) error }).SetLinger(0)
	_ = data.Close()
	if code, msg := raw.read(); code == 226 {
		t.Errorf("a reset upload was acknowledged: %q", msg)
	}
	if got := retr(t, c, "/media/keep.bin", 0); !bytes.Equal(got, old) {
		t.Errorf("keep.bin changed by an interrupted upload: %d bytes", len(got))
	}
	mc, err := minio.NewCore(strings.TrimPrefix(vg.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 10*time.Second, "no incomplete multipart upload", func() bool {
		res, err := mc.ListMultipartUploads(context.Background(), "media", "", "", "", "", 100)
		return err == nil && len(res.Uploads) == 0
	})

	// curl, another real client, reads what jlaffaye wrote
	if curl, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command(curl, "-s", "--max-time", "20", "-u", "alice:"+servertest.Password,
			"ftp://"+in.Addr+"/media/f5000000.bin").Output()
		if err != nil || !bytes.Equal(out, randomBytes(5_000_000, 5_000_000)) {
			t.Errorf("curl RETR: %d bytes, %v", len(out), err)
		}
	}

	// the store goes away: commands fail within data_timeout, the session goes on
	vg.Stop()
	start := time.Now()
	if _, err := c.List("/media"); err == nil {
		t.Error("LIST of an unreachable store succeeded")
	}
	if err := c.Stor("/media/new.txt", strings.NewReader("x")); err == nil {
		t.Error("STOR to an unreachable store succeeded")
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("failures took %v", d)
	}
	if _, err := c.List("/"); err != nil {
		t.Errorf("the session stopped working: %v", err)
	}
	if strings.Contains(in.Logs.String(), s3test.SecretKey) {
		t.Error("the secret key reached the log")
	}
	vg.Restart()
	if got := retr(t, c, "/media/keep.bin", 0); !bytes.Equal(got, old) {
		t.Errorf("after the store came back: %d bytes", len(got))
	}
}
