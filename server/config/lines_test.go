package config

import "testing"

func TestLineIndex(t *testing.T) {
	doc := `# comment
top = 1
[server]
listen = [
  "a:1",   # first
  "b:2",
]
banner = """
x = 1
[fake]
"""
"quoted.key" = 'v'
a.b.c = true
lit = '''
''' 
[[users.alice.folders]]
mount = "/"
[[users.alice.folders]]
  mount = "/two"
  limits = { download = "1", up.x = 2,
    "q k" = 3 }
[users.alice]
overrides = [
  { address = "x" },
  { address = "y" }, # comment ]
]
next = "}]#"
`
	tests := []struct {
		at   loc
		want int
	}{
		{at("top"), 2},
		{at("server"), 3},
		{at("server", "listen"), 4},
		{at("server", "listen").index(0), 5},
		{at("server", "listen").index(1), 6},
		{at("server", "banner"), 8},
		{at("fake"), 0},
		{at("server", "quoted.key"), 12},
		{at("server", "a", "b", "c"), 13},
		{at("server", "a"), 13},
		{at("server", "lit"), 14},
		{at("users", "alice", "folders"), 16},
		{at("users", "alice", "folders").index(0), 16},
		{at("users", "alice", "folders").index(0).key("mount"), 17},
		{at("users", "alice", "folders").index(1), 18},
		{at("users", "alice", "folders").index(1).key("mount"), 19},
		{at("users", "alice", "folders").index(1).key("limits").key("up").key("x"), 20},
		{at("users", "alice", "folders").index(1).key("limits").key("q k"), 21},
		{at("users", "alice"), 22},
		{at("users", "alice", "overrides").index(1).key("address"), 25},
		{at("users", "alice", "next"), 27},
		{at("users", "alice", "nope"), 22}, // falls back to the table
		{at("nope"), 0},
	}
	idx := indexLines([]byte(doc))
	for _, tt := range tests {
		if got := idx.line(tt.at); got != tt.want {
			t.Errorf("line(%s %s) = %d, want %d", tt.at, tt.at.id(), got, tt.want)
		}
	}
}

func TestLocString(t *testing.T) {
	tests := []struct {
		at   loc
		want string
	}{
		{at("server", "listen"), "server.listen"},
		{at("users", "alice", "folders").index(2).key("mount"), "users.alice.folders.mount"},
		{at("users", "a b", ""), `users."a b".""`},
	}
	for _, tt := range tests {
		if got := tt.at.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestLineIndexBOMAndCRLF(t *testing.T) {
	doc := "\uFEFF[server]\r\nbanner = \"x\"\r\n\r\n[log]\r\nlevel = 'info'\r\n"
	idx := indexLines([]byte(doc))
	for _, tt := range []struct {
		at   loc
		want int
	}{
		{at("server"), 1},
		{at("server", "banner"), 2},
		{at("log", "level"), 5},
	} {
		if got := idx.line(tt.at); got != tt.want {
			t.Errorf("line(%s) = %d, want %d", tt.at, got, tt.want)
		}
	}
}
