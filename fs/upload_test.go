package fs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder collects the transfers reported by a tree.
type recorder struct {
	mu sync.Mutex
	ts []Transfer
}

func (r *recorder) add(tr Transfer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ts = append(r.ts, tr)
}

func (r *recorder) all() []Transfer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ts)
}

const (
	storFlags   = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	appeFlags   = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	resumeFlags = os.O_WRONLY | os.O_CREATE
)

func TestUploads(t *testing.T) {
	tests := []struct {
		name        string
		atomic      bool
		target      string // "" = no file before
		flags       int
		offset      int64
		data        string
		interrupt   bool
		want        string // content after Close
		wantVisible string // content of the target while the upload runs
		complete    bool
	}{
		{name: "atomic complete", atomic: true, target: "old content", flags: storFlags, data: "new", want: "new", wantVisible: "old content", complete: true},
		{name: "atomic interrupted", atomic: true, target: "old content", flags: storFlags, data: "ne", interrupt: true, want: "old content", wantVisible: "old content"},
		{name: "atomic new interrupted", atomic: true, flags: storFlags, data: "ne", interrupt: true, want: "<missing>", wantVisible: "<missing>"},
		{name: "atomic new complete", atomic: true, flags: storFlags, data: "new", want: "new", wantVisible: "<missing>", complete: true},
		{name: "atomic resume", atomic: true, target: "hello", flags: resumeFlags, offset: 5, data: " world", want: "hello world", wantVisible: "hello world", complete: true},
		{name: "atomic resume interrupted", atomic: true, target: "hello", flags: resumeFlags, offset: 5, data: " wo", interrupt: true, want: "hello wo", wantVisible: "hello wo"},
		{name: "atomic append", atomic: true, target: "hello", flags: appeFlags, data: "!!", want: "hello!!", wantVisible: "hello!!", complete: true},
		{name: "in place", target: "old content", flags: storFlags, data: "new", want: "new", wantVisible: "new", complete: true},
		{name: "in place interrupted", target: "old content", flags: storFlags, data: "ne", interrupt: true, want: "ne", wantVisible: "ne"},
		{name: "in place resume", target: "hello", flags: resumeFlags, offset: 5, data: " world", want: "hello world", wantVisible: "hello world", complete: true},
		{name: "in place append", target: "hello", flags: appeFlags, data: "!!", want: "hello!!", wantVisible: "hello!!", complete: true},
		{name: "resume within", target: "hello world", flags: resumeFlags, offset: 6, data: "W", want: "hello World", wantVisible: "hello World", complete: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.target != "" {
				writeFiles(t, dir, map[string]string{"sub/f.txt": tt.target})
			} else {
				writeFiles(t, dir, map[string]string{"sub/": ""})
			}
			var rec recorder
			tr := newTree(t, []Mount{{Path: "/up", Dir: dir, Perm: PermAll}}, Options{AtomicUploads: tt.atomic, OnTransfer: rec.add})
			h, err := tr.GetHandle("/up/sub/f.txt", tt.flags, tt.offset)
			if err != nil {
				t.Fatal(err)
			}
			if tt.offset > 0 { // as ftpserverlib does after REST
				if _, err := h.Seek(tt.offset, 0); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := h.(*handle).ReadFrom(strings.NewReader(tt.data)); err != nil || n != int64(len(tt.data)) {
				t.Fatalf("ReadFrom = %d, %v", n, err)
			}
			target := filepath.Join(dir, "sub", "f.txt")
			if got := readFile(t, target); got != tt.wantVisible {
				t.Errorf("during the upload the target holds %q, want %q", got, tt.wantVisible)
			}
			entries, err := tr.ReadDir("/up/sub")
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), tempPrefix) {
					t.Errorf("listing shows %q", e.Name())
				}
			}
			if tt.interrupt {
				h.(interface{ TransferError(error) }).TransferError(errors.New("connection reset"))
			}
			if err := h.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := h.Close(); err != nil { // a second Close does nothing
				t.Fatalf("second Close: %v", err)
			}
			if got := readFile(t, target); got != tt.want {
				t.Errorf("after Close the target holds %q, want %q", got, tt.want)
			}
			if left := tempFiles(t, dir); len(left) != 0 {
				t.Errorf("temporary files left: %q", left)
			}
			ts := rec.all()
			if len(ts) != 1 {
				t.Fatalf("%d transfers reported, want 1", len(ts))
			}
			want := Transfer{Direction: Upload, Path: "/up/sub/f.txt", Bytes: int64(len(tt.data)), Complete: tt.complete}
			got := ts[0]
			if got.Direction != want.Direction || got.Path != want.Path || got.Bytes != want.Bytes || got.Complete != want.Complete || got.Start.IsZero() || got.Duration < 0 {
				t.Errorf("transfer = %+v, want %+v", got, want)
			}
		})
	}
}

func TestUploadErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"d/x": "x"})
	for _, atomic := range []bool{false, true} {
		tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{AtomicUploads: atomic})
		_, err := tr.GetHandle("/d", storFlags, 0)
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("atomic=%v: STOR over a directory: %v", atomic, err)
		}
		_, err = tr.GetHandle("/missing/f", storFlags, 0)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("atomic=%v: STOR into a missing directory: %v", atomic, err)
		}
		checkSafe(t, err, dir)
		_, err = tr.GetHandle("/d", os.O_RDONLY, 0)
		if err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Errorf("RETR of a directory: %v", err)
		}
		_, err = tr.GetHandle("/nope", os.O_RDONLY, 0)
		if err == nil || err.Error() != "/nope: no such file or directory" || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("RETR of a missing file: %v", err)
		}
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

// TestTreeCloseWaitsForHandles: an upload still open when the session's tree is closed can still
// finish (or clean up) its temporary file.
func TestTreeCloseWaitsForHandles(t *testing.T) {
	dir := t.TempDir()
	tr, err := NewTree([]Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{AtomicUploads: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := tr.GetHandle("/f", storFlags, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.GetHandle("/g", storFlags, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("GetHandle after Close: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "f")); got != "data" {
		t.Errorf("f = %q", got)
	}
	if _, err := tr.Stat("/f"); err == nil {
		t.Error("Stat after the tree and its last handle closed succeeded")
	}
	_ = tr.Close()
}
