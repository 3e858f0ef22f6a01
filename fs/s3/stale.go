package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
)

// StaleUploadAge is how old an incomplete multipart upload below a folder's prefix must be,
// and how long it must have gone without a new part, before AbortStale takes it for one left
// by a crash. It is far beyond any wait wharf allows an upload ([server] data_timeout bounds a
// stall, and a part of PartSize arrives at least once every few minutes on any usable link),
// so an upload another node is still sending is never aborted.
const StaleUploadAge = 24 * time.Hour

const (
	// maxStalePages bounds one sweep's listing: pages of up to 1,000 uploads.
	maxStalePages = 1000
	// maxPartPages bounds the listing of one upload's parts (1,000 a page, 10,000 at most).
	maxPartPages = maxParts/1000 + 1
)

// Stale is an incomplete multipart upload AbortStale aborted.
type Stale struct {
	Key       string
	UploadID  string
	Initiated time.Time
	Age       time.Duration
}

// ID names the folder wherever it is mounted: the store's endpoint, bucket and the folder's
// key prefix.
func (f *Folder) ID() string {
	return f.s.endpoint + "/" + f.s.bucket + "/" + f.prefix
}

// AbortStale aborts the incomplete multipart uploads whose keys are below the folder's prefix
// (nothing else in the bucket) that started more than age ago and received no part within age
// either, except this process's own uploads in progress, logging each with its key and age. It
// returns those it aborted; on an error, those aborted until then.
func (f *Folder) AbortStale(ctx context.Context, age time.Duration) ([]Stale, error) {
	now := time.Now()
	var old []minio.ObjectMultipartInfo
	keyMarker, idMarker := "", ""
	for page := 0; ; page++ {
		if page == maxStalePages {
			f.s.log.Warn("object store: too many incomplete uploads to look at; the rest waits for the next sweep",
				"bucket", f.s.bucket, "prefix", f.prefix, "seen", page*1000)
			break
		}
		c, cancel := context.WithTimeout(ctx, f.s.timeout)
		res, err := f.s.core.ListMultipartUploads(c, f.s.bucket, f.prefix, keyMarker, idMarker, "", 1000)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bucket %q: listing incomplete uploads below %q: %s", f.s.bucket, f.prefix, describe(err))
		}
		for _, u := range res.Uploads {
			if len(u.Key) < len(f.prefix) || u.Key[:len(f.prefix)] != f.prefix {
				continue // a server that ignores the prefix: never touch another's keys
			}
			if _, mine := inProgress.Load(u.UploadID); mine || u.Initiated.IsZero() || now.Sub(u.Initiated) < age {
				continue
			}
			old = append(old, u)
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	var out []Stale
	for _, u := range old {
		last, err := f.lastPart(ctx, u.Key, u.UploadID)
		switch {
		case isNoSuchUpload(err):
			continue // completed or aborted meanwhile
		case err != nil:
			return out, fmt.Errorf("bucket %q: listing the parts of an incomplete upload of %q: %s", f.s.bucket, u.Key, describe(err))
		case now.Sub(last) < age:
			continue // still receiving parts: a long upload in progress
		}
		c, cancel := context.WithTimeout(ctx, f.s.timeout)
		err = f.s.core.AbortMultipartUpload(c, f.s.bucket, u.Key, u.UploadID)
		cancel()
		if isNoSuchUpload(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("bucket %q: aborting an incomplete upload of %q: %s", f.s.bucket, u.Key, describe(err))
		}
		s := Stale{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated, Age: now.Sub(u.Initiated)}
		f.s.log.Info("object store: an abandoned incomplete upload aborted", "bucket", f.s.bucket, "key", s.Key,
			"age", s.Age.Round(time.Second).String(), "initiated", s.Initiated.UTC().Format(time.RFC3339), "upload_id", s.UploadID)
		out = append(out, s)
	}
	return out, nil
}

// lastPart returns when the upload last received a part (the zero time if it has none).
func (f *Folder) lastPart(ctx context.Context, key, id string) (time.Time, error) {
	var last time.Time
	marker := 0
	for range maxPartPages {
		c, cancel := context.WithTimeout(ctx, f.s.timeout)
		res, err := f.s.core.ListObjectParts(c, f.s.bucket, key, id, marker, 1000)
		cancel()
		if err != nil {
			return time.Time{}, err
		}
		for _, p := range res.ObjectParts {
			if p.LastModified.After(last) {
				last = p.LastModified
			}
		}
		if !res.IsTruncated || res.NextPartNumberMarker <= marker {
			break
		}
		marker = res.NextPartNumberMarker
	}
	return last, nil
}

func isNoSuchUpload(err error) bool {
	return err != nil && minio.ToErrorResponse(err).Code == "NoSuchUpload"
}
