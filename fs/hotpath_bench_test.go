package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLimiterUnset is the per-chunk cost of a transfer's limiters when no
// limit is set (the common case): it must be next to nothing.
func BenchmarkLimiterUnset(b *testing.B) {
	ls := []*Limiter{NewLimiter(0), NewLimiter(0), nil}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range ls {
			if err := l.waitN(ctx, 256<<10); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReadDir lists a directory of 10,000 files, as LIST and MLSD do,
// and with names only, as NLST does.
func BenchmarkReadDir(b *testing.B) {
	dir := b.TempDir()
	for i := range 10000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d.dat", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	tr := newTree(b, []Mount{{Path: "/", Dir: dir, Perm: PermAll}}, Options{})
	for _, bc := range []struct {
		name string
		read func(string) ([]os.FileInfo, error)
	}{{"stat", tr.ReadDir}, {"names", tr.ReadDirNames}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				fis, err := bc.read("/")
				if err != nil || len(fis) != 10000 {
					b.Fatal(len(fis), err)
				}
			}
		})
	}
}
