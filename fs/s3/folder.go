package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wharf-ftp/wharf/fs"
)

// Folder is the fs.Backend of one folder: the keys below its prefix.
type Folder struct {
	s      *Store
	prefix string // "" or ending in "/"
}

var (
	_ fs.Backend = (*Folder)(nil)
	_ fs.Counter = (*Folder)(nil)
)

// key returns the object key of name ("." is the folder itself: its prefix).
func (f *Folder) key(name string) string {
	if name == "." || name == "" {
		return f.prefix
	}
	return f.prefix + name
}

// dirKey returns the prefix of the directory name ("" or ending in "/").
func (f *Folder) dirKey(name string) string {
	k := f.key(name)
	if k != "" && !strings.HasSuffix(k, "/") {
		k += "/"
	}
	return k
}

func (f *Folder) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), f.s.timeout)
}

// fail maps a store error: a missing key is os.ErrNotExist, a refusal os.ErrPermission, and a
// store that cannot be reached fs.ErrUnavailable (the detail is logged here, never shown).
func (f *Folder) fail(op, name string, err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	switch r.Code {
	case "NoSuchKey", "NotFound":
		return os.ErrNotExist
	case "AccessDenied":
		return os.ErrPermission
	case "EntityTooLarge":
		return syscall.EFBIG
	}
	if errors.Is(err, fs.ErrUnsupported) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrExist) {
		return err
	}
	f.s.log.Warn("object store error", "op", op, "bucket", f.s.bucket, "key", f.key(name), "err", describe(err))
	return fs.ErrUnavailable
}

// Close does nothing: the store is shared.
func (f *Folder) Close() error { return nil }

// Available cannot be told by an object store.
func (f *Folder) Available() (int64, error) { return 0, fs.ErrUnsupported }

// Chtimes is refused: an object's time is when it was written.
func (f *Folder) Chtimes(string, time.Time, time.Time) error { return fs.ErrUnsupported }

// info describes an object or a directory.
type info struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) ModTime() time.Time { return i.mtime }
func (i *info) IsDir() bool        { return i.dir }
func (i *info) Sys() any           { return nil }
func (i *info) Mode() os.FileMode {
	if i.dir {
		return os.ModeDir | 0o755
	}
	return 0o644
}

// Stat describes an object, or a directory: a prefix holding something, or a "dir/" marker.
func (f *Folder) Stat(name string) (os.FileInfo, error) {
	if name == "." {
		return &info{name: ".", dir: true}, nil
	}
	ctx, cancel := f.ctx()
	defer cancel()
	oi, err := f.s.core.Client.StatObject(ctx, f.s.bucket, f.key(name), minio.StatObjectOptions{})
	if err == nil {
		return &info{name: path.Base(name), size: oi.Size, mtime: oi.LastModified}, nil
	}
	if err = f.fail("stat", name, err); !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	found, mtime, err := f.dirExists(ctx, name)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, os.ErrNotExist
	}
	return &info{name: path.Base(name), dir: true, mtime: mtime}, nil
}

// dirExists reports whether the directory name exists: its marker, or any key below it.
func (f *Folder) dirExists(ctx context.Context, name string) (bool, time.Time, error) {
	for obj := range f.s.core.Client.ListObjects(ctx, f.s.bucket, minio.ListObjectsOptions{Prefix: f.dirKey(name), MaxKeys: 1}) {
		if obj.Err != nil {
			return false, time.Time{}, f.fail("list", name, obj.Err)
		}
		return true, obj.LastModified, nil
	}
	return false, time.Time{}, nil
}

// ReadDir lists a directory, paging through any number of keys. A failure is an error, never
// an empty listing.
func (f *Folder) ReadDir(name string, _ bool) ([]os.FileInfo, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dk := f.dirKey(name)
	var out []os.FileInfo
	seen := false
	for obj := range f.s.core.Client.ListObjects(ctx, f.s.bucket, minio.ListObjectsOptions{Prefix: dk}) {
		if obj.Err != nil {
			return nil, f.fail("list", name, obj.Err)
		}
		seen = true
		rest := strings.TrimPrefix(obj.Key, dk)
		switch {
		case rest == "":
			// the directory's own marker
		case strings.HasSuffix(rest, "/"):
			out = append(out, &info{name: strings.TrimSuffix(rest, "/"), dir: true, mtime: obj.LastModified})
		case strings.HasPrefix(rest, ".wharf-upload-"):
		default:
			out = append(out, &info{name: rest, size: obj.Size, mtime: obj.LastModified})
		}
	}
	if !seen && name != "." {
		// nothing below: an object of that name is not a directory, and no name is missing
		if fi, err := f.Stat(name); err != nil {
			return nil, err
		} else if !fi.IsDir() {
			return nil, syscall.ENOTDIR
		}
	}
	return out, nil
}

// Mkdir creates the directory's "dir/" marker.
func (f *Folder) Mkdir(name string, all bool) error {
	fi, err := f.Stat(name)
	switch {
	case err == nil && fi.IsDir() && all:
		return nil
	case err == nil:
		return os.ErrExist
	case !errors.Is(err, os.ErrNotExist):
		return err
	}
	if parent := path.Dir(name); parent != "." {
		pi, err := f.Stat(parent)
		switch {
		case err == nil && !pi.IsDir():
			return syscall.ENOTDIR
		case errors.Is(err, os.ErrNotExist) && all:
			if err := f.Mkdir(parent, true); err != nil {
				return err
			}
		case err != nil:
			return err
		}
	}
	ctx, cancel := f.ctx()
	defer cancel()
	return f.fail("mkdir", name, f.putMarker(ctx, f.dirKey(name)))
}

// emptySHA256 is the SHA-256 of nothing, in hex.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// putMarker creates the empty object key (a "dir/" marker) with one plainly signed request.
// Over http minio-go would otherwise send even an empty body as a signed aws-chunked stream,
// and versitygw answers such a PUT of a "dir/" key before reading that body and closes the
// connection: the client, still writing, sees a broken pipe though the marker was made.
func (f *Folder) putMarker(ctx context.Context, key string) error {
	_, err := f.s.core.PutObject(ctx, f.s.bucket, key, bytes.NewReader(nil), 0, "", emptySHA256, minio.PutObjectOptions{DisableContentSha256: true})
	return err
}

// Remove deletes an object; a directory is refused.
func (f *Folder) Remove(name string) error {
	fi, err := f.Stat(name)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	ctx, cancel := f.ctx()
	defer cancel()
	return f.fail("remove", name, f.s.core.Client.RemoveObject(ctx, f.s.bucket, f.key(name), minio.RemoveObjectOptions{}))
}

// RemoveDir deletes an empty directory: its marker, when nothing else is below it.
func (f *Folder) RemoveDir(name string) error {
	ctx, cancel := f.ctx()
	defer cancel()
	dk := f.dirKey(name)
	marker := false
	n := 0
	for obj := range f.s.core.Client.ListObjects(ctx, f.s.bucket, minio.ListObjectsOptions{Prefix: dk, MaxKeys: 2}) {
		if obj.Err != nil {
			return f.fail("list", name, obj.Err)
		}
		n++
		if obj.Key == dk {
			marker = true
			continue
		}
		return syscall.ENOTEMPTY
	}
	if n == 0 {
		if _, err := f.s.core.Client.StatObject(ctx, f.s.bucket, f.key(name), minio.StatObjectOptions{}); err == nil {
			return syscall.ENOTDIR
		}
		return os.ErrNotExist
	}
	if !marker {
		return os.ErrNotExist
	}
	return f.fail("rmdir", name, f.s.core.Client.RemoveObject(ctx, f.s.bucket, dk, minio.RemoveObjectOptions{}))
}

// Rename copies then deletes: one object, or every object of a directory. A directory's
// rename either moves everything or, on a failure, removes the copies made and moves nothing.
func (f *Folder) Rename(from, to string) error {
	fi, err := f.Stat(from)
	if err != nil {
		return err
	}
	if _, err := f.Stat(to); err == nil && fi.IsDir() {
		return os.ErrExist
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if strings.HasPrefix(to+"/", from+"/") {
		return syscall.EINVAL // into itself
	}
	if !fi.IsDir() {
		if err := f.copy(f.key(from), f.key(to), fi.Size()); err != nil {
			return f.fail("rename", from, err)
		}
		ctx, cancel := f.ctx()
		defer cancel()
		return f.fail("rename", from, f.s.core.Client.RemoveObject(ctx, f.s.bucket, f.key(from), minio.RemoveObjectOptions{}))
	}
	src, dst := f.dirKey(from), f.dirKey(to)
	var keys []minio.ObjectInfo
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for obj := range f.s.core.Client.ListObjects(ctx, f.s.bucket, minio.ListObjectsOptions{Prefix: src, Recursive: true}) {
		if obj.Err != nil {
			return f.fail("list", from, obj.Err)
		}
		if len(keys) == maxRenameKeys {
			return fmt.Errorf("%w: more than %d objects", fs.ErrUnsupported, maxRenameKeys)
		}
		keys = append(keys, obj)
	}
	var copied []string
	undo := func(err error) error {
		for _, k := range copied {
			c, cancel := f.ctx()
			_ = f.s.core.Client.RemoveObject(c, f.s.bucket, k, minio.RemoveObjectOptions{})
			cancel()
		}
		return f.fail("rename", from, err)
	}
	for _, obj := range keys {
		nk := dst + strings.TrimPrefix(obj.Key, src)
		if err := f.copy(obj.Key, nk, obj.Size); err != nil {
			return undo(err)
		}
		copied = append(copied, nk)
	}
	for _, obj := range keys {
		c, cancel := f.ctx()
		err := f.s.core.Client.RemoveObject(c, f.s.bucket, obj.Key, minio.RemoveObjectOptions{})
		cancel()
		if err != nil {
			// every object is at its new key; an old key left behind is a copy, not a loss
			f.s.log.Warn("object store: an old key stayed after a rename", "key", obj.Key, "err", describe(err))
		}
	}
	return nil
}

// copy copies an object server-side: one request up to 5 GiB, in parts above. A directory
// marker is made again, empty.
func (f *Folder) copy(src, dst string, size int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), f.s.timeout+time.Duration(size>>20)*time.Second/10)
	defer cancel()
	var err error
	switch {
	case strings.HasSuffix(src, "/"):
		err = f.putMarker(ctx, dst)
	case size <= 5<<30:
		_, err = f.s.core.CopyObject(ctx, f.s.bucket, src, f.s.bucket, dst, nil, minio.CopySrcOptions{}, minio.PutObjectOptions{})
	default:
		_, err = f.s.core.Client.ComposeObject(ctx,
			minio.CopyDestOptions{Bucket: f.s.bucket, Object: dst},
			minio.CopySrcOptions{Bucket: f.s.bucket, Object: src})
	}
	return err
}

// Usage counts the folder's objects and their bytes (markers are not files).
func (f *Folder) Usage(ctx context.Context) (bytes, files int64, err error) {
	for obj := range f.s.core.Client.ListObjects(ctx, f.s.bucket, minio.ListObjectsOptions{Prefix: f.prefix, Recursive: true}) {
		if obj.Err != nil {
			return 0, 0, f.fail("list", ".", obj.Err)
		}
		if strings.HasSuffix(obj.Key, "/") {
			continue
		}
		bytes += obj.Size
		files++
	}
	return bytes, files, nil
}

// Open reads an object from offset, with a ranged GET.
func (f *Folder) Open(name string, offset int64) (fs.Source, error) {
	fi, err := f.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, syscall.EISDIR
	}
	opts := minio.GetObjectOptions{}
	if offset > 0 {
		if offset >= fi.Size() {
			return &source{off: offset, r: io.NopCloser(bytes.NewReader(nil))}, nil
		}
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	body, _, _, err := f.s.core.GetObject(ctx, f.s.bucket, f.key(name), opts)
	if err != nil {
		cancel()
		return nil, f.fail("get", name, err)
	}
	return &source{off: offset, r: body, cancel: cancel}, nil
}

// source is an object being read.
type source struct {
	off    int64
	r      io.ReadCloser
	cancel context.CancelFunc
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.off += int64(n)
	return n, err
}

// Seek only confirms the position (the ranged GET started there).
func (s *source) Seek(offset int64, whence int) (int64, error) {
	if (whence == io.SeekStart && offset == s.off) || (whence == io.SeekCurrent && offset == 0) {
		return s.off, nil
	}
	return s.off, fs.ErrUnsupported
}

func (s *source) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	return s.r.Close()
}

// Create starts an upload. APPE to an existing object and REST+STOR are refused (an object
// cannot be written in place); APPE of a new name is a plain upload.
func (f *Folder) Create(name string, w fs.Write) (fs.Sink, error) {
	if w.Offset > 0 {
		return nil, fs.ErrUnsupported
	}
	fi, err := f.Stat(name)
	switch {
	case err == nil && fi.IsDir():
		return nil, syscall.EISDIR
	case err == nil && w.Flags&os.O_APPEND != 0 && fi.Size() > 0:
		return nil, fs.ErrUnsupported
	case err == nil && w.Flags&os.O_EXCL != 0:
		return nil, os.ErrExist
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if parent := path.Dir(name); parent != "." {
		if pi, err := f.Stat(parent); err != nil {
			return nil, err
		} else if !pi.IsDir() {
			return nil, syscall.ENOTDIR
		}
	}
	return &upload{f: f, name: name, key: f.key(name), free: make(chan []byte, Concurrency+1)}, nil
}

// upload streams an object as a multipart upload, part by part, with at most Concurrency parts
// in flight; a file smaller than a part is sent with one PUT when it ends.
type upload struct {
	f    *Folder
	name string
	key  string

	buf   []byte      // the part being filled
	free  chan []byte // part buffers to reuse
	nbufs int         // buffers made

	id    string // multipart upload ID, once started
	parts []minio.CompletePart
	wg    sync.WaitGroup
	sem   chan struct{}

	mu  sync.Mutex
	err error // the first failure of a part
}

func (u *upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *upload) setErr(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

func (u *upload) buffer() []byte {
	select {
	case b := <-u.free:
		return b[:0]
	default:
	}
	if u.nbufs < Concurrency+1 {
		u.nbufs++
		return make([]byte, 0, PartSize)
	}
	return (<-u.free)[:0]
}

func (u *upload) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if err := u.failed(); err != nil {
			return total, err
		}
		if u.buf == nil {
			u.buf = u.buffer()
		}
		n := copy(u.buf[len(u.buf):cap(u.buf)], p)
		u.buf = u.buf[:len(u.buf)+n]
		p = p[n:]
		total += n
		if len(u.buf) == cap(u.buf) {
			if err := u.sendPart(); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// Seek only confirms the start: an object cannot be written elsewhere.
func (u *upload) Seek(offset int64, whence int) (int64, error) {
	if offset == 0 && (whence == io.SeekStart || whence == io.SeekCurrent) && u.id == "" && len(u.buf) == 0 {
		return 0, nil
	}
	return 0, fs.ErrUnsupported
}

// sendPart sends the full buffer as the next part, in the background.
func (u *upload) sendPart() error {
	if u.id == "" {
		ctx, cancel := u.f.ctx()
		id, err := u.f.s.core.NewMultipartUpload(ctx, u.f.s.bucket, u.key, minio.PutObjectOptions{})
		cancel()
		if err != nil {
			return u.f.fail("upload", u.name, err)
		}
		u.id = id
		inProgress.Store(id, struct{}{})
		u.sem = make(chan struct{}, Concurrency)
	}
	u.mu.Lock()
	full := len(u.parts) == maxParts
	u.mu.Unlock()
	if full {
		return syscall.EFBIG
	}
	u.mu.Lock()
	num := len(u.parts) + 1
	u.parts = append(u.parts, minio.CompletePart{PartNumber: num})
	u.mu.Unlock()
	data := u.buf
	u.buf = nil
	u.sem <- struct{}{}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() { <-u.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), u.f.s.timeout+PartSize/(64<<10)*time.Second/16)
		defer cancel()
		p, err := u.f.s.core.PutObjectPart(ctx, u.f.s.bucket, u.key, u.id, num, bytes.NewReader(data), int64(len(data)), minio.PutObjectPartOptions{})
		u.free <- data
		if err != nil {
			u.setErr(u.f.fail("upload part", u.name, err))
			return
		}
		u.mu.Lock()
		u.parts[num-1].ETag = p.ETag
		u.mu.Unlock()
	}()
	return nil
}

// Finish completes the upload (the object appears) or aborts it (the old object stays).
func (u *upload) Finish(complete bool) error {
	if complete && u.id == "" {
		// one PUT: the object appears whole
		data := u.buf
		ctx, cancel := context.WithTimeout(context.Background(), u.f.s.timeout+time.Duration(len(data)>>20)*time.Second)
		defer cancel()
		_, err := u.f.s.core.Client.PutObject(ctx, u.f.s.bucket, u.key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
		return u.f.fail("upload", u.name, err)
	}
	if u.id == "" {
		return nil // nothing was sent
	}
	var err error
	if complete && len(u.buf) > 0 {
		err = u.sendPart()
	}
	u.wg.Wait()
	defer inProgress.Delete(u.id)
	if err == nil {
		err = u.failed()
	}
	if complete && err == nil {
		ctx, cancel := u.f.ctx()
		defer cancel()
		_, err = u.f.s.core.CompleteMultipartUpload(ctx, u.f.s.bucket, u.key, u.id, u.parts, minio.PutObjectOptions{})
		if err == nil {
			return nil
		}
		err = u.f.fail("complete upload", u.name, err)
	}
	ctx, cancel := u.f.ctx()
	defer cancel()
	if aerr := u.f.s.core.AbortMultipartUpload(ctx, u.f.s.bucket, u.key, u.id); aerr != nil {
		u.f.s.log.Warn("object store: cannot abort an upload", "key", u.key, "err", describe(aerr))
	}
	return err
}
