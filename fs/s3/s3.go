// Package s3 is the fs.Backend of a folder in an S3-compatible object store (AWS S3, MinIO,
// Ceph RGW, versitygw, ...), over minio-go.
//
// A folder is a key prefix: a file is an object, a directory is a prefix, and MKD creates an
// empty "dir/" marker so that an empty directory exists. An upload streams as a multipart
// upload of fixed parts (PartSize, at most Concurrency parts in flight: memory is bounded
// whatever the file's size) and the object appears only when it completes; an interrupted
// upload is aborted and the old object stays; one left by a crash is found and aborted later
// (Folder.AbortStale). A file that fits in one part is one PUT. RETR
// with REST is a ranged GET. A rename is a server-side copy then a delete; a directory's rename
// moves every object or, on a failure, puts back what it had moved. Times cannot be set
// (MFMT), nor can an object be written in place (APPE to an existing object, REST+STOR): those
// are refused with fs.ErrUnsupported and change nothing.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	// PartSize is the size of an upload's parts: 8 MiB, so an object may have up to
	// 10,000 × 8 MiB (about 78 GiB).
	PartSize = 8 << 20
	// Concurrency is how many parts of one upload are sent at once; with the part being
	// filled, an upload holds at most Concurrency+1 parts in memory.
	Concurrency = 2
	// maxParts is S3's limit of parts per upload.
	maxParts = 10_000
	// maxRenameKeys bounds a directory rename: beyond it the rename is refused, nothing moved.
	maxRenameKeys = 10_000
)

// Config describes a store.
type Config struct {
	Endpoint  string // http(s)://host[:port]
	Region    string
	Bucket    string
	Prefix    string // key prefix inside the bucket: "" or ending in "/"
	AccessKey string
	SecretKey string
	PathStyle bool
	// Timeout bounds every request that does not stream a body, and the wait for a
	// connection and for a response's headers ([server] data_timeout).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Store is a connection to a bucket, shared by every folder in it.
type Store struct {
	core     minio.Core
	endpoint string
	bucket   string
	prefix   string
	timeout  time.Duration
	log      *slog.Logger
}

// inProgress holds the IDs of this process's multipart uploads in progress, whichever Store
// (a reload makes new ones) started them: AbortStale never aborts them.
var inProgress sync.Map

// New returns a store. It does not contact the server (see Check).
func New(cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    tr,
		MaxRetries:   1, // a store that is down fails within the timeout; the client retries
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s", safeText(err, cfg.SecretKey))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{core: minio.Core{Client: c}, endpoint: u.Scheme + "://" + u.Host, bucket: cfg.Bucket, prefix: cfg.Prefix, timeout: timeout, log: log}, nil
}

// Check reports whether the bucket answers (exists and the credentials may read it).
func (s *Store) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var err error
	for obj := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, MaxKeys: 1}) {
		err = obj.Err
		break
	}
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("bucket %q: no answer within %v", s.bucket, s.timeout)
	}
	return fmt.Errorf("bucket %q: %s", s.bucket, describe(err))
}

// Folder returns the backend of the folder at key prefix path inside the store ("" or ending
// in "/").
func (s *Store) Folder(path string) *Folder {
	return &Folder{s: s, prefix: s.prefix + path}
}

// describe is a short, secret-free text for a store error.
func describe(err error) string {
	if r := minio.ToErrorResponse(err); r.Code != "" {
		if r.Message != "" {
			return r.Code + ": " + r.Message
		}
		return r.Code
	}
	var ne net.Error
	if errors.As(err, &ne) {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			return "cannot reach the store: " + oe.Err.Error()
		}
		return "cannot reach the store"
	}
	return err.Error()
}

// safeText is err's text without secret.
func safeText(err error, secret string) string {
	t := err.Error()
	if secret != "" {
		t = strings.ReplaceAll(t, secret, "…")
	}
	return t
}
