package fs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadLocalDirLarge lists a directory big enough to be read in several batches and
// stat'ed by several goroutines: every entry once, sorted, described by lstat, without
// temporary upload files.
func TestReadLocalDirLarge(t *testing.T) {
	dir := t.TempDir()
	const n = 3*statChunk + 7
	var want []string
	for i := range n {
		name := fmt.Sprintf("f-%05d-%s.dat", (i*7919)%n, "long-enough-name-to-fill-batches")
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, i%5), 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%d", tempPrefix, i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	want = append(want, "link", "sub")
	slices.Sort(want)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, stat := range []bool{true, false} {
		fis, err := readLocalDir(root, ".", stat)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fi := range fis {
			got = append(got, fi.Name())
			if !stat {
				continue
			}
			lfi, err := os.Lstat(filepath.Join(dir, fi.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != lfi.Mode() || fi.Size() != lfi.Size() || !fi.ModTime().Equal(lfi.ModTime()) || fi.IsDir() != lfi.IsDir() {
				t.Fatalf("%s: mode %v size %d time %v; lstat says %v %d %v", fi.Name(), fi.Mode(), fi.Size(), fi.ModTime(), lfi.Mode(), lfi.Size(), lfi.ModTime())
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("stat %v: %d names, want %d (first %q, want %q)", stat, len(got), len(want), got[:3], want[:3])
		}
	}
}

// TestStatEntriesGone: an entry removed between reading the names and stat'ing it is left
// out.
func TestStatEntriesGone(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "c"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ab, c := "ab", "c"
	batches := [][]entry{{{names: &ab, off: 0, n: 1}, {names: &ab, off: 1, n: 1}}, {{names: &c, n: 1}}}
	if gone := statEntries(f, root, ".", batches, 3); gone != 1 {
		t.Fatalf("gone = %d, want 1", gone)
	}
	if batches[0][0].Name() != "a" || batches[0][1].n != 0 || batches[1][0].Name() != "c" || batches[1][0].size != 1 {
		t.Fatalf("batches = %+v", batches)
	}
}

// TestFindTemp finds the temporary upload files of a tree: regular files only, in directories
// at any depth (one named as a temporary file too), not through symbolic links.
func TestFindTemp(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, p := range []string{"a/b/c", tempPrefix + "dir/d", "big"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{tempPrefix + "1", "a/b/c/" + tempPrefix + "2", tempPrefix + "dir/d/" + tempPrefix + "3", "big/" + tempPrefix + "4"}
	for _, p := range append(slices.Clone(want), "a/plain", "big/x", "a/b/"+tempPrefix+"no/inner") {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3000 { // several getdents calls
		if err := os.WriteFile(filepath.Join(dir, "big", fmt.Sprintf("entry-%04d-with-a-longer-name", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, tempPrefix+"out"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, tempPrefix+"out"), filepath.Join(dir, tempPrefix+"link")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var got []string
	findTemp(root, ".", func(p string) { got = append(got, p) })
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("findTemp = %q, want %q", got, want)
	}
}
