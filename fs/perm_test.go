package fs

import (
	"strings"
	"testing"
)

func TestParsePermissions(t *testing.T) {
	tests := []struct {
		names   []string
		want    Perm
		wantErr string
	}{
		{names: nil, want: 0},
		{names: []string{"list"}, want: PermList},
		{names: []string{"list", "read"}, want: PermList | PermRead},
		{names: []string{"write", "append", "delete", "rename", "mkdir", "rmdir"}, want: PermWrite | PermAppend | PermDelete | PermRename | PermMkdir | PermRmdir},
		{names: []string{"*"}, want: PermAll},
		{names: []string{"read", "*"}, want: PermAll},
		{names: []string{"read", "read"}, want: PermRead},
		{names: []string{"list", "execute"}, wantErr: `"execute"`},
		{names: []string{""}, wantErr: `""`},
		{names: []string{"Read"}, wantErr: `"Read"`},
		{names: []string{" list"}, wantErr: `" list"`},
	}
	for _, tt := range tests {
		got, err := ParsePermissions(tt.names)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParsePermissions(%q) error = %v, want one naming %s", tt.names, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePermissions(%q) = %v, %v; want %v", tt.names, got, err, tt.want)
		}
	}
}

func TestPermString(t *testing.T) {
	tests := []struct {
		p    Perm
		want string
	}{
		{0, "none"},
		{PermAll, "*"},
		{PermList | PermRead | PermWrite, "list,read,write"},
		{PermRmdir | PermList, "list,rmdir"},
		{PermAll &^ PermRmdir, "list,read,write,append,delete,rename,mkdir"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#x.String() = %q, want %q", uint16(tt.p), got, tt.want)
		}
	}
}

func TestPermHas(t *testing.T) {
	p := PermList | PermRead
	tests := []struct {
		q    Perm
		want bool
	}{
		{PermList, true},
		{PermList | PermRead, true},
		{PermWrite, false},
		{PermRead | PermWrite, false},
		{0, true},
	}
	for _, tt := range tests {
		if got := p.Has(tt.q); got != tt.want {
			t.Errorf("Has(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
}

func FuzzParsePermissions(f *testing.F) {
	for _, s := range []string{"list,read", "*", "", "write,append,bogus", "mkdir,rmdir,rename,delete"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names := strings.Split(s, ",")
		p, err := ParsePermissions(names)
		if err != nil {
			return
		}
		if p&^PermAll != 0 {
			t.Fatalf("ParsePermissions(%q) = %#x: bits outside PermAll", names, uint16(p))
		}
		str := p.String()
		if str == "none" {
			if p != 0 {
				t.Fatalf("%#x printed as none", uint16(p))
			}
			return
		}
		back, err := ParsePermissions(strings.Split(str, ","))
		if err != nil || back != p {
			t.Fatalf("round trip of %q: %v, %v; want %v", str, back, err, p)
		}
	})
}
