package s3

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/internal/s3test"
)

func newLogger(w *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// startUpload begins a multipart upload of key directly on the store, optionally sends one
// part, and leaves it incomplete, as a wharf killed mid-upload would.
func startUpload(t *testing.T, core minio.Core, bucket, key string, part bool) string {
	t.Helper()
	ctx := context.Background()
	id, err := core.NewMultipartUpload(ctx, bucket, key, minio.PutObjectOptions{})
	if err != nil {
		t.Fatalf("new multipart upload of %s: %v", key, err)
	}
	if part {
		data := bytes.Repeat([]byte("x"), 1<<20)
		if _, err := core.PutObjectPart(ctx, bucket, key, id, 1, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{}); err != nil {
			t.Fatalf("part of %s: %v", key, err)
		}
	}
	return id
}

// incomplete lists the bucket's incomplete uploads as "key upload-id", sorted.
func incomplete(t *testing.T, core minio.Core, bucket string) []string {
	t.Helper()
	res, err := core.ListMultipartUploads(context.Background(), bucket, "", "", "", "", 1000)
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

// TestAbortStale leaves incomplete multipart uploads in a real S3 server (versitygw), some of
// them made older than StaleUploadAge, and checks that a folder's sweep aborts exactly the old
// ones below its own prefix: not the young ones, not another prefix's, not one still receiving
// parts, not this process's own upload in progress.
func TestAbortStale(t *testing.T) {
	vg := s3test.Start(t, "media")
	logs := &bytes.Buffer{}
	st, err := New(Config{Endpoint: vg.Endpoint, Bucket: "media", Prefix: "ftp/", AccessKey: s3test.AccessKey,
		SecretKey: s3test.SecretKey, PathStyle: true, Timeout: 10 * time.Second, Logger: newLogger(logs)})
	if err != nil {
		t.Fatal(err)
	}
	core := st.core
	old := StaleUploadAge + time.Hour

	oldPart := startUpload(t, core, "media", "ftp/alice/old.bin", true)
	vg.AgeUpload("media", oldPart, old, true)
	oldEmpty := startUpload(t, core, "media", "ftp/alice/sub/empty.bin", false)
	vg.AgeUpload("media", oldEmpty, old, false)
	young := startUpload(t, core, "media", "ftp/alice/young.bin", true)
	// started long ago, but a part arrived a minute ago: a long upload still running
	running := startUpload(t, core, "media", "ftp/alice/long.bin", true)
	vg.AgeUpload("media", running, old, false)
	other := startUpload(t, core, "media", "ftp/alice2/old.bin", true) // "alice2/" is not below "alice/"
	vg.AgeUpload("media", other, old, true)
	outside := startUpload(t, core, "media", "elsewhere/old.bin", true)
	vg.AgeUpload("media", outside, old, true)

	// this process's own upload, in progress (its first part sent), made old
	f := st.Folder("alice/")
	sink, err := f.Create("mine.bin", fs.Write{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write(bytes.Repeat([]byte("y"), PartSize+1)); err != nil {
		t.Fatal(err)
	}
	mine := sink.(*upload).id
	sink.(*upload).wg.Wait()
	vg.AgeUpload("media", mine, old, true)

	// versitygw reports the initiation time the sweep relies on
	res, err := core.ListMultipartUploads(context.Background(), "media", "ftp/alice/old.bin", "", "", "", 10)
	if err != nil || len(res.Uploads) != 1 {
		t.Fatalf("listing: %v, %v", res.Uploads, err)
	}
	if age := time.Since(res.Uploads[0].Initiated); age < StaleUploadAge {
		t.Fatalf("versitygw reports the backdated upload as initiated %v ago", age)
	}

	aborted, err := f.AbortStale(context.Background(), StaleUploadAge)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, a := range aborted {
		keys = append(keys, a.Key)
		if a.Age < StaleUploadAge {
			t.Errorf("%s aborted at age %v", a.Key, a.Age)
		}
	}
	sort.Strings(keys)
	if want := []string{"ftp/alice/old.bin", "ftp/alice/sub/empty.bin"}; strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("aborted %v, want %v", keys, want)
	}
	want := []string{
		"elsewhere/old.bin " + outside, "ftp/alice/long.bin " + running, "ftp/alice/mine.bin " + mine,
		"ftp/alice/young.bin " + young, "ftp/alice2/old.bin " + other,
	}
	sort.Strings(want)
	if got := incomplete(t, core, "media"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("left:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, k := range []string{"key=ftp/alice/old.bin age=25h", "key=ftp/alice/sub/empty.bin age=25h"} {
		if !strings.Contains(logs.String(), k) {
			t.Errorf("log lacks %q:\n%s", k, logs)
		}
	}

	// the own upload completes normally; a second sweep finds nothing more
	if err := sink.Finish(true); err != nil {
		t.Fatal(err)
	}
	if aborted, err := f.AbortStale(context.Background(), StaleUploadAge); err != nil || len(aborted) != 0 {
		t.Errorf("second sweep: %v, %v", aborted, err)
	}
}
