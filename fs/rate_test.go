package fs

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		want    Rate
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "0B/s", want: 0},
		{in: "0MB/s", want: 0},
		{in: "1B/s", want: 1},
		{in: "512KB/s", want: 512_000},
		{in: "10MB/s", want: 10_000_000},
		{in: "1GB/s", want: 1_000_000_000},
		{in: "2MiB/s", want: 2 << 20},
		{in: "1KiB/s", want: 1024},
		{in: "3GiB/s", want: 3 << 30},
		{in: "1.5MB/s", want: 1_500_000},
		{in: "1.5MiB/s", want: 1_572_864},
		{in: "0.5KB/s", want: 500},
		{in: ".5KB/s", want: 500},
		{in: "10 MB/s", want: 10_000_000},
		{in: "10mb/s", want: 10_000_000},
		{in: "10kib/s", want: 10_240},
		{in: "1.0001B/s", want: 1}, // truncated to whole bytes
		{in: "9223372036854775807B/s", want: 9223372036854775807},
		{in: "", wantErr: true},
		{in: "10", wantErr: true},
		{in: "10MB", wantErr: true},
		{in: "-1MB/s", wantErr: true},
		{in: "-0", wantErr: true},
		{in: "MB/s", wantErr: true},
		{in: "1.MB/s", wantErr: true},
		{in: "1..5MB/s", wantErr: true},
		{in: "1.2.3MB/s", wantErr: true},
		{in: "1e3B/s", wantErr: true},
		{in: "1TB/s", wantErr: true},
		{in: "10Mb/s ", wantErr: true},
		{in: " 10MB/s", wantErr: true},
		{in: "10  MB/s", wantErr: true},
		{in: "10MB/h", wantErr: true},
		{in: "0.1B/s", wantErr: true}, // rounds to 0, which would mean unlimited
		{in: "9223372036854775808B/s", wantErr: true},
		{in: "10GiB/s/s", wantErr: true},
		{in: "NaNMB/s", wantErr: true},
		{in: "+1MB/s", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseRate(%q) = %v, want an error", tt.in, got)
			} else if !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
				t.Errorf("ParseRate(%q) error %q does not quote the value", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestRateString(t *testing.T) {
	tests := []struct {
		r    Rate
		want string
	}{
		{0, "0"},
		{1, "1B/s"},
		{1500, "1500B/s"},
		{512_000, "512KB/s"},
		{10_000_000, "10MB/s"},
		{2 << 20, "2MiB/s"},
		{1024, "1KiB/s"},
		{3 << 30, "3GiB/s"},
		{1_000_000_000, "1GB/s"},
		{2_048_000, "2048KB/s"},
		{1_572_864, "1536KiB/s"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Rate(%d).String() = %q, want %q", int64(tt.r), got, tt.want)
		}
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"0", "512KB/s", "10MB/s", "2MiB/s", "1.5MB/s", "-1B/s", "1e9B/s", "10 GiB/s", ".5KB/s", "99999999999999999999GB/s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error %q does not quote %q", err, s)
			}
			return
		}
		if r < 0 {
			t.Fatalf("ParseRate(%q) = %d < 0", s, r)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("round trip %q -> %d -> %q -> %d, %v", s, r, r.String(), back, err)
		}
	})
}
