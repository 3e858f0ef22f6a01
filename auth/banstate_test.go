package auth

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAutobanSaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bans.json")
	clock := newFakeClock()
	p := testPolicy()
	p.IPv6Group = 64
	b := NewAutoban(p, clock.Now, nil)
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8:0:1::1")
	early := netip.MustParseAddr("198.51.100.1")
	for range 3 {
		b.Failure(early)
	}
	clock.Advance(30 * time.Minute)
	for range 3 {
		b.Failure(v4)
		b.Failure(v6)
	}
	b.Failure(netip.MustParseAddr("203.0.113.1")) // a counter: not saved
	if err := b.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v; want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{`"192.0.2.1/32"`, `"2001:db8:0:1::/64"`, `"198.51.100.1/32"`, `"version": 1`} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("state file lacks %s:\n%s", want, data)
		}
	}
	if strings.Contains(string(data), "203.0.113.1") {
		t.Fatalf("state file holds failure counters:\n%s", data)
	}

	// A new process, 20 minutes later: the early ban has 10 minutes left,
	// the others 40.
	clock.Advance(20 * time.Minute)
	b2 := NewAutoban(p, clock.Now, nil)
	if err := b2.Load(path); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{v4, netip.MustParseAddr("2001:db8:0:1::ffff"), early} {
		if !b2.Banned(a) {
			t.Fatalf("%s not banned after Load", a)
		}
	}
	clock.Advance(11 * time.Minute)
	if b2.Banned(early) || !b2.Banned(v4) || b2.Active() != 2 {
		t.Fatalf("loaded bans did not keep their end times (active %d)", b2.Active())
	}
	// Expired and exempt bans are not loaded.
	clock.Advance(time.Hour)
	b3 := NewAutoban(p, clock.Now, nil)
	if err := b3.Load(path); err != nil || b3.Active() != 0 {
		t.Fatalf("Load of expired bans: %v, active %d", err, b3.Active())
	}
}

func TestAutobanLoadFiles(t *testing.T) {
	const future = "2030-01-01T00:00:00Z"
	tests := []struct {
		name       string
		content    string // "" = no file
		wantErr    bool
		wantActive int
	}{
		{name: "missing file", content: ""},
		{name: "empty ban list", content: `{"version":1,"bans":[]}`},
		{name: "two bans", content: `{"version":1,"bans":[{"network":"192.0.2.1/32","until":"` + future + `"},{"network":"2001:db8::/64","until":"` + future + `"}]}`, wantActive: 2},
		{name: "exempt ban skipped", content: `{"version":1,"bans":[{"network":"127.0.0.1/32","until":"` + future + `"}]}`},
		{name: "mapped network", content: `{"version":1,"bans":[{"network":"::ffff:192.0.2.1/128","until":"` + future + `"}]}`, wantActive: 1},
		{name: "not JSON", content: `bans: 192.0.2.1`, wantErr: true},
		{name: "truncated", content: `{"version":1,"bans":[{"network":"192.0.2.1/32"`, wantErr: true},
		{name: "trailing data", content: `{"version":1,"bans":[]} {}`, wantErr: true},
		{name: "unknown field", content: `{"version":1,"bans":[],"extra":1}`, wantErr: true},
		{name: "wrong version", content: `{"version":2,"bans":[]}`, wantErr: true},
		{name: "bad network", content: `{"version":1,"bans":[{"network":"192.0.2.300/32","until":"` + future + `"}]}`, wantErr: true},
		{name: "bad time", content: `{"version":1,"bans":[{"network":"192.0.2.1/32","until":"tomorrow"}]}`, wantErr: true},
		{name: "missing time", content: `{"version":1,"bans":[{"network":"192.0.2.1/32"}]}`, wantErr: true},
		{name: "one bad entry loads nothing", content: `{"version":1,"bans":[{"network":"192.0.2.1/32","until":"` + future + `"},{"network":"x","until":"` + future + `"}]}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bans.json")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			p := testPolicy()
			p.Exempt = prefixes(t, "127.0.0.0/8")
			b := NewAutoban(p, newFakeClock().Now, nil)
			err := b.Load(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load = %v; want error %v", err, tt.wantErr)
			}
			if n := b.Active(); n != tt.wantActive {
				t.Fatalf("Active() = %d; want %d", n, tt.wantActive)
			}
		})
	}
}

func TestAutobanSaveErrors(t *testing.T) {
	b := NewAutoban(testPolicy(), newFakeClock().Now, nil)
	dir := t.TempDir()
	if err := b.Save(filepath.Join(dir, "missing", "bans.json")); err == nil {
		t.Fatal("Save into a missing directory succeeded")
	}
	// Saving over a directory fails and leaves no temporary file.
	target := filepath.Join(dir, "taken")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(target); err == nil {
		t.Fatal("Save over a directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}
