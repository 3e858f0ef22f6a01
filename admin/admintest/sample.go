package admintest

import (
	"net/netip"
	"time"

	"github.com/wharf-ftp/wharf/admin"
)

// Sample returns a Backend with a plausible server's state at now: a few
// sessions, two of them transferring, bans, and users with quotas.
func Sample(now time.Time) *Backend {
	b := New()
	now = now.UTC().Truncate(time.Second)
	b.status = admin.Status{Version: "1.4.0", Node: "ftp-1", PID: 41873, StartedAt: now.Add(-76 * time.Hour),
		ConfigLoadedAt: now.Add(-2*time.Hour - 14*time.Minute), ConfigOK: true}
	addr := netip.MustParseAddr
	b.sessions = []admin.Session{
		{ID: "c9f2a71e", Node: "ftp-1", User: "alice", Remote: addr("203.0.113.24"), Listener: "0.0.0.0:21", TLS: true,
			ConnectedAt: now.Add(-18 * time.Minute), IdleSeconds: 0,
			Transfer: &admin.Transfer{Direction: admin.Download, Path: "/releases/wharf-1.4.0-linux-amd64.tar.gz",
				Bytes: 412_000_000, Size: 1_004_000_000, BytesPerSecond: 8_200_000, StartedAt: now.Add(-50 * time.Second)}},
		{ID: "5d03be94", Node: "ftp-1", User: "backup-bot", Remote: addr("198.51.100.12"), Listener: "0.0.0.0:990", TLS: true,
			ConnectedAt: now.Add(-4 * time.Minute), IdleSeconds: 0,
			Transfer: &admin.Transfer{Direction: admin.Upload, Path: "/nightly/db-2025-06-14.sql.gz",
				Bytes: 1_310_000_000, Size: admin.Unknown, BytesPerSecond: 24_600_000, StartedAt: now.Add(-53 * time.Second)}},
		{ID: "a4417c02", Node: "ftp-1", User: "bob", Remote: addr("2001:db8:4::17"), Listener: "[::]:21", TLS: true,
			ConnectedAt: now.Add(-47 * time.Minute), IdleSeconds: 312},
		{ID: "e810f3d5", Node: "ftp-1", Remote: addr("192.0.2.99"), Listener: "0.0.0.0:21",
			ConnectedAt: now.Add(-6 * time.Second), IdleSeconds: 6},
	}
	b.bans = []admin.Ban{
		{Address: netip.MustParsePrefix("192.0.2.66/32"), Until: now.Add(41 * time.Minute), Reason: admin.ReasonAutoban, Failures: 5},
		{Address: netip.MustParsePrefix("2001:db8:bad::/64"), Until: now.Add(6 * 24 * time.Hour), Reason: admin.ReasonManual,
			Note: "credential stuffing from this range"},
	}
	b.users = []admin.User{
		{Name: "alice", Groups: []string{"staff"}, Sessions: 1, Folders: []admin.Folder{
			{Mount: "/", QuotaSize: 10_000_000_000, UsedSize: 3_120_000_000, UsedFiles: 1_482},
			{Mount: "/releases", UsedSize: 18_400_000_000, UsedFiles: 96}}},
		{Name: "backup-bot", Groups: []string{"services"}, Sessions: 1, Folders: []admin.Folder{
			{Mount: "/nightly", QuotaSize: 500_000_000_000, QuotaFiles: 10_000, UsedSize: 312_000_000_000, UsedFiles: 4_210}}},
		{Name: "bob", Groups: []string{"staff"}, Sessions: 1, Folders: []admin.Folder{
			{Mount: "/", QuotaSize: 10_000_000_000, UsedSize: 8_900_000_000, UsedFiles: 22_017}}},
		{Name: "carol", Groups: []string{"staff"}, Disabled: true, Folders: []admin.Folder{{Mount: "/"}}},
	}
	return b
}
