package fs

import "testing"

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
		err  bool
	}{
		{in: "0", want: 0},
		{in: "500KB", want: 500e3},
		{in: "512MiB", want: 512 << 20},
		{in: "10GiB", want: 10 << 30},
		{in: "1.5GB", want: 1.5e9},
		{in: "2 tib", want: 2 << 40},
		{in: "7B", want: 7},
		{in: "", err: true},
		{in: "10", err: true},
		{in: "-1GB", err: true},
		{in: "0.1B", err: true},
		{in: "1.GB", err: true},
		{in: "1e3KB", err: true},
		{in: "10MB/s", err: true},
		{in: "99999999999TB", err: true},
	} {
		got, err := ParseSize(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("ParseSize(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "500KB", "512MiB", "1.5GB", "-1", "1e3B", "10 gib"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, err := ParseSize(s)
		if err != nil {
			return
		}
		if z < 0 {
			t.Fatalf("ParseSize(%q) = %d: negative", s, z)
		}
		back, err := ParseSize(z.String())
		if err != nil || back != z {
			t.Fatalf("ParseSize(%q) = %d, whose String %q parses as %d, %v", s, z, z.String(), back, err)
		}
	})
}
