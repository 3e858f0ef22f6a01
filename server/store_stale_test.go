package server_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wharf-ftp/wharf/fs/s3"
	"github.com/wharf-ftp/wharf/internal/s3test"
	"github.com/wharf-ftp/wharf/server/servertest"
)

// TestStoreAbandonedUploads leaves incomplete multipart uploads in a real S3 server
// (versitygw), as a wharf killed mid-upload would, and checks that wharf, when it starts,
// aborts those below its folder's prefix older than s3.StaleUploadAge, logs each with its key
// and age and counts them, and leaves young ones and other prefixes' alone.
func TestStoreAbandonedUploads(t *testing.T) {
	vg := s3test.Start(t, "media")
	mc, err := minio.NewCore(strings.TrimPrefix(vg.Endpoint, "http://"), &minio.Options{Creds: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	begin := func(key string) string {
		id, err := mc.NewMultipartUpload(ctx, "media", key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	old := s3.StaleUploadAge + 2*time.Hour
	crashed := begin("alice/crashed.bin")
	vg.AgeUpload("media", crashed, old, false)
	young := begin("alice/young.bin")
	others := begin("bob/crashed.bin") // not a folder of this server
	vg.AgeUpload("media", others, old, false)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secret"), s3test.SecretKey+"\n")
	if err := os.MkdirAll(filepath.Join(dir, "alice"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("ENDPOINT", vg.Endpoint, "ACCESS", s3test.AccessKey).Replace(storeConfigText) +
		"[metrics]\nlisten = \"127.0.0.1:0\"\n"
	path := filepath.Join(dir, "wharf.toml")
	writeFile(t, path, servertest.Expand(t, text, dir))
	in := servertest.StartFile(t, path, dir)

	left := func() []string {
		res, err := mc.ListMultipartUploads(ctx, "media", "", "", "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range res.Uploads {
			out = append(out, u.Key+" "+u.UploadID)
		}
		sort.Strings(out)
		return out
	}
	want := strings.Join([]string{"alice/young.bin " + young, "bob/crashed.bin " + others}, "\n")
	servertest.WaitFor(t, 20*time.Second, "the abandoned upload aborted", func() bool {
		return strings.Join(left(), "\n") == want
	})
	servertest.WaitFor(t, 10*time.Second, "the abort counted", func() bool {
		return metricValue(t, in.Metrics, "wharf_store_abandoned_uploads_aborted_total") == 1
	})
	logs := in.Logs.String()
	if !strings.Contains(logs, "key=alice/crashed.bin age=26h") || !strings.Contains(logs, "upload_id="+crashed) {
		t.Errorf("the abort is not logged with its key and age:\n%s", logs)
	}

	// a reload that adds a folder sweeps it; the young upload stays
	expanded, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(expanded)+"[[users.alice.folders]]\nmount = \"/bob\"\nstore = \"media\"\npath = \"bob/\"\npermissions = [\"list\"]\n")
	if err := in.Srv.Reload(); err != nil {
		t.Fatal(err)
	}
	servertest.WaitFor(t, 20*time.Second, "the new folder's abandoned upload aborted", func() bool {
		return strings.Join(left(), "\n") == "alice/young.bin "+young
	})
	servertest.WaitFor(t, 10*time.Second, "the abort counted", func() bool {
		return metricValue(t, in.Metrics, "wharf_store_abandoned_uploads_aborted_total") == 2
	})
}
