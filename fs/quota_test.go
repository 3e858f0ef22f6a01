package fs

import (
	"context"
	"testing"
)

// TestQuotaDeleteAndReplace: a deleted file, and a file a rename replaces, give their bytes
// and their place back to the folder's quota at once; a plain rename changes nothing.
func TestQuotaDeleteAndReplace(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "aaaa", "b": "bb", "c": "c", "d/": ""})
	q := NewQuota(100, 10)
	if err := q.CountDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	tr := newTree(t, []Mount{{Path: "/", Dir: dir, Perm: PermAll, Quota: q}}, Options{})
	want := func(step string, bytes, files int64) {
		t.Helper()
		if b, f := q.Usage(); b != bytes || f != files {
			t.Fatalf("%s: usage %d bytes, %d files; want %d, %d", step, b, f, bytes, files)
		}
	}
	want("counted", 7, 3)
	if err := tr.Remove("/a"); err != nil {
		t.Fatal(err)
	}
	want("after DELE a", 3, 2)
	if err := tr.Rename("/b", "/c"); err != nil {
		t.Fatal(err)
	}
	want("after b replaced c", 2, 1)
	if err := tr.Rename("/c", "/d/c"); err != nil {
		t.Fatal(err)
	}
	want("after a plain rename", 2, 1)
	if err := tr.Remove("/nothing"); err == nil {
		t.Fatal("DELE of a missing file succeeded")
	}
	if err := tr.Remove("/d"); err == nil {
		t.Fatal("DELE of a directory succeeded")
	}
	want("after refused deletions", 2, 1)
}
