package config

import "testing"

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"with line", Error{File: "a.toml", Line: 3, Msg: "bad"}, "a.toml:3: bad"},
		{"without line", Error{File: "a.toml", Msg: "bad"}, "a.toml: bad"},
		{"several", Errors{{File: "a.toml", Msg: "x"}, {File: "a.toml", Line: 2, Msg: "y"}}, "a.toml: x\na.toml:2: y"},
		{"none", Errors{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorsSorted(t *testing.T) {
	in := Errors{
		{File: "f", Line: 9, Msg: "late"},
		{File: "f", Line: 2, Msg: "b"},
		{File: "f", Line: 0, Msg: "file"},
		{File: "f", Line: 2, Msg: "a"},
		{File: "f", Line: 9, Msg: "late"},
	}
	want := "f: file\nf:2: b\nf:2: a\nf:9: late"
	if got := in.sorted().Error(); got != want {
		t.Errorf("sorted() = %q, want %q", got, want)
	}
}
