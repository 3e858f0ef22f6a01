package passive

import (
	"fmt"
	"strings"
	"testing"
)

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr string // substring; "" means no error
	}{
		{in: "50000-50099", want: PortRange{50000, 50099}},
		{in: "1-65535", want: PortRange{1, 65535}},
		{in: "2121-2121", want: PortRange{2121, 2121}},
		{in: " 50000 - 50099 ", want: PortRange{50000, 50099}},
		{in: "00080-00081", want: PortRange{80, 81}},
		{in: "", wantErr: `port range "": want FIRST-LAST`},
		{in: "50000", wantErr: `port range "50000": want FIRST-LAST`},
		{in: "-50000", wantErr: "first port: missing"},
		{in: "50000-", wantErr: "last port: missing"},
		{in: "0-10", wantErr: "first port: not a port number in 1..65535"},
		{in: "1-65536", wantErr: "last port: not a port number"},
		{in: "+1-2", wantErr: "first port: not a port number"},
		{in: "1--2", wantErr: "last port: not a port number"},
		{in: "1-2-3", wantErr: "last port: not a port number"},
		{in: "a-b", wantErr: "first port: not a port number"},
		{in: "1-99999999999999999999", wantErr: "last port: not a port number"},
		{in: "50099-50000", wantErr: `port range "50099-50000": first port 50099 is above last port 50000`},
		{in: "1_000-2000", wantErr: "first port: not a port number"},
		{in: "٣-4", wantErr: "first port: not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePortRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePortRange(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if got != (PortRange{}) {
					t.Errorf("ParsePortRange(%q) = %v with an error, want the zero value", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePortRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"50000-50099", "1-65535", "", "0-1", "65535-1", " 1 - 2", "1--2", "-", "99999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
				t.Fatalf("error %q does not quote the value %q", err, s)
			}
			return
		}
		if r.First < 1 || r.Last > 65535 || r.First > r.Last {
			t.Fatalf("ParsePortRange(%q) = %v: not a valid range", s, r)
		}
		if r.Len() != r.Last-r.First+1 || !r.Contains(r.First) || !r.Contains(r.Last) || !r.Overlaps(r) {
			t.Fatalf("ParsePortRange(%q) = %v: inconsistent methods", s, r)
		}
		again, err := ParsePortRange(r.String())
		if err != nil || again != r {
			t.Fatalf("round trip of %v through %q = %v, %v", r, r.String(), again, err)
		}
	})
}

func TestPortRangeMethods(t *testing.T) {
	tests := []struct {
		name     string
		r        PortRange
		wantLen  int
		contains map[int]bool
		wantStr  string
	}{
		{name: "range", r: PortRange{50000, 50099}, wantLen: 100,
			contains: map[int]bool{49999: false, 50000: true, 50050: true, 50099: true, 50100: false}, wantStr: "50000-50099"},
		{name: "one port", r: PortRange{21, 21}, wantLen: 1, contains: map[int]bool{20: false, 21: true, 22: false}, wantStr: "21-21"},
		{name: "zero", r: PortRange{}, wantLen: 0, contains: map[int]bool{0: false, 1: false}, wantStr: "0-0"},
		{name: "reversed", r: PortRange{10, 5}, wantLen: 0, contains: map[int]bool{5: false, 7: false, 10: false}, wantStr: "10-5"},
		{name: "out of bounds", r: PortRange{65535, 65536}, wantLen: 0, contains: map[int]bool{65535: false}, wantStr: "65535-65536"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Len(); got != tt.wantLen {
				t.Errorf("Len() = %d, want %d", got, tt.wantLen)
			}
			for port, want := range tt.contains {
				if got := tt.r.Contains(port); got != want {
					t.Errorf("Contains(%d) = %v, want %v", port, got, want)
				}
			}
			if got := tt.r.String(); got != tt.wantStr {
				t.Errorf("String() = %q, want %q", got, tt.wantStr)
			}
			if got := tt.r.IsZero(); got != (tt.r == PortRange{}) {
				t.Errorf("IsZero() = %v", got)
			}
		})
	}
}

func TestPortRangeOverlaps(t *testing.T) {
	tests := []struct {
		a, b PortRange
		want bool
	}{
		{PortRange{1, 10}, PortRange{10, 20}, true},
		{PortRange{1, 10}, PortRange{11, 20}, false},
		{PortRange{5, 6}, PortRange{1, 100}, true},
		{PortRange{1, 100}, PortRange{5, 6}, true},
		{PortRange{50, 60}, PortRange{1, 49}, false},
		{PortRange{7, 7}, PortRange{7, 7}, true},
		{PortRange{}, PortRange{1, 100}, false},
		{PortRange{1, 100}, PortRange{}, false},
		{PortRange{20, 10}, PortRange{1, 100}, false},
	}
	for _, tt := range tests {
		t.Run(tt.a.String()+"/"+tt.b.String(), func(t *testing.T) {
			if got := tt.a.Overlaps(tt.b); got != tt.want {
				t.Errorf("%v.Overlaps(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
