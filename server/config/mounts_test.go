package config

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/wharf-ftp/wharf/fs"
)

// accountsDoc has overlapping mounts: alice's own "/" wins over both groups',
// ops (later in alice's list) wins over staff at "/shared".
const accountsDoc = `
[groups.staff]
permissions = ["list", "read", "write"]
limits = { download = "5MB/s", upload = "1MB/s" }
ipfilter = { allow = ["10.0.0.0/8"] }
[[groups.staff.folders]]
mount = "/shared"
path = "/srv/staff-shared"
[[groups.staff.folders]]
mount = "/"
path = "/srv/staff-root"
[[groups.staff.folders]]
mount = "/docs"
path = "/srv/docs"
permissions = ["list"]

[groups.ops]
limits = { upload = "2MB/s" }
[[groups.ops.folders]]
mount = "/shared/"
path = "/srv/ops-shared"

[users.alice]
password = "$2a$04$DH6EUUnJvezpFk5o7RaqOuJTund6E.ccBEzfadK9meIVN7DlNl/s."
groups = ["staff", "ops"]
limits = { download = "1MB/s" }
ipfilter = { deny = ["192.0.2.0/24"] }
[[users.alice.folders]]
mount = "/"
path = "/srv/alice"

[users.bob]
password = "$2a$04$DH6EUUnJvezpFk5o7RaqOuJTund6E.ccBEzfadK9meIVN7DlNl/s."
groups = ["ops", "staff"]

[users.carol]
password = "$2a$04$DH6EUUnJvezpFk5o7RaqOuJTund6E.ccBEzfadK9meIVN7DlNl/s."
[[users.carol.folders]]
mount = "/"
path = "/srv/carol"
`

func parseAccounts(t *testing.T) *Config {
	t.Helper()
	cfg, err := Parse("accounts.toml", []byte(accountsDoc), Options{SkipPathChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMounts(t *testing.T) {
	cfg := parseAccounts(t)
	const rw = fs.PermList | fs.PermRead | fs.PermWrite
	const lr = fs.PermList | fs.PermRead
	tests := []struct {
		user string
		want []fs.Mount
	}{
		{"alice", []fs.Mount{
			{Path: "/", Dir: "/srv/alice", Perm: lr},
			{Path: "/docs", Dir: "/srv/docs", Perm: fs.PermList},
			{Path: "/shared", Dir: "/srv/ops-shared", Perm: lr},
		}},
		{"bob", []fs.Mount{
			{Path: "/", Dir: "/srv/staff-root", Perm: rw},
			{Path: "/docs", Dir: "/srv/docs", Perm: fs.PermList},
			{Path: "/shared", Dir: "/srv/staff-shared", Perm: rw},
		}},
		{"carol", []fs.Mount{{Path: "/", Dir: "/srv/carol", Perm: lr}}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			if got := cfg.Mounts(cfg.Users[tt.user]); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Mounts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestUserLimits(t *testing.T) {
	cfg := parseAccounts(t)
	tests := []struct {
		user string
		want Limits
	}{
		{"alice", Limits{Download: 1_000_000, Upload: 1_000_000}}, // own download, staff's upload
		{"bob", Limits{Download: 5_000_000, Upload: 2_000_000}},   // ops first for upload
		{"carol", Limits{}},
	}
	for _, tt := range tests {
		if got := cfg.UserLimits(cfg.Users[tt.user]); got != tt.want {
			t.Errorf("UserLimits(%s) = %+v, want %+v", tt.user, got, tt.want)
		}
	}
}

func TestUserFilters(t *testing.T) {
	cfg := parseAccounts(t)
	own := IPFilter{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	staff := IPFilter{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		user string
		want []IPFilter
	}{
		{"alice", []IPFilter{own, staff}},
		{"bob", []IPFilter{staff}},
		{"carol", nil},
	}
	for _, tt := range tests {
		if got := cfg.UserFilters(cfg.Users[tt.user]); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("UserFilters(%s) = %+v, want %+v", tt.user, got, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name string
		cfg  func() *Config
		want string
	}{
		{"default", Default, "config ok: 0 users, 0 groups, 0 folders, listen 0.0.0.0:21, passive 50000-50099, no tls"},
		{"accounts", func() *Config { return parseAccounts(t) },
			"config ok: 3 users, 2 groups, 6 folders, listen 0.0.0.0:21, passive 50000-50099, no tls"},
		{"tls", func() *Config {
			c := Default()
			c.TLS.Certificate, c.TLS.Key, c.TLS.Require = "c", "k", requireAll
			c.TLS.ImplicitListen = []string{"0.0.0.0:990"}
			c.Users["u"] = &User{Name: "u"}
			c.Groups["g"] = &Group{Name: "g", Folders: []Folder{{Mount: "/"}}}
			return c
		}, "config ok: 1 user, 1 group, 1 folder, listen 0.0.0.0:21, implicit 0.0.0.0:990, passive 50000-50099, tls all"},
	}
	for _, tt := range tests {
		if got := tt.cfg().Summary(); got != tt.want {
			t.Errorf("%s: Summary() = %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
