package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/cluster/clustertest"
	"github.com/wharf-ftp/wharf/server/servertest"
)

const clusterConfig = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[admin.users.ops]
password = "{{hash}}"
role = "admin"
[autoban]
enabled = true
exempt = []
failures = 3
window = "1m"
ban = "1h"
[cluster]
redis = "%s"
node = "%s"
[users.alice]
password = "{{hash}}"
max_sessions = 1
[[users.alice.folders]]
mount = "/"
path = "%s"
permissions = ["*"]
`

// TestCluster runs two nodes on one real Redis: a ban made on one is refused
// by the other, max_sessions counts across nodes, autoban counts failures
// across nodes, either node lists and kicks the other's sessions, and a Redis
// outage leaves both serving with wharf_cluster_up 0 until it returns.
func TestCluster(t *testing.T) {
	t.Parallel()
	redis := clustertest.Start(t)
	shared := t.TempDir()
	node := func(name string) (*servertest.Instance, adminClient) {
		in := servertest.Start(t, fmt.Sprintf(clusterConfig, redis.TCPURL(), name, shared))
		return in, adminClient{t: t, base: "http://" + in.Srv.AdminAddr(), user: "ops"}
	}
	a, apiA := node("a")
	b, apiB := node("b")

	t.Run("ban", func(t *testing.T) {
		if code, body := apiA.do("POST", "/api/v1/bans", `{"address":"127.0.0.9","duration":"1h"}`); code != 201 {
			t.Fatalf("ban on a: %d %s", code, body)
		}
		servertest.WaitFor(t, 5*time.Second, "the ban to reach b", func() bool {
			c, err := dialRawFrom(t, "127.0.0.9", b.Addr)
			if err != nil {
				t.Fatal(err)
			}
			code, _, _ := c.tryRead()
			return code == 421
		})
		if _, body := apiB.do("GET", "/api/v1/bans", ""); !strings.Contains(string(body), "127.0.0.9/32") {
			t.Fatalf("bans on b: %s", body)
		}
		if code, _ := apiB.do("DELETE", "/api/v1/bans/127.0.0.9", ""); code != 204 {
			t.Fatalf("unban on b: %d", code)
		}
		servertest.WaitFor(t, 5*time.Second, "the unban to reach a", func() bool {
			c, err := dialRawFrom(t, "127.0.0.9", a.Addr)
			if err != nil {
				t.Fatal(err)
			}
			code, _, _ := c.tryRead()
			return code == 220
		})
	})

	t.Run("max_sessions and kick", func(t *testing.T) {
		onA := dialRaw(t, a.Addr)
		onA.read()
		onA.login("alice", pass)
		onB := dialRaw(t, b.Addr)
		onB.read()
		onB.expect("USER alice", 331)
		if code, msg := onB.cmd("PASS " + pass); code != 530 || !strings.Contains(msg, "max_sessions") {
			t.Fatalf("second session of alice on b: %q", msg)
		}
		var sessions []struct {
			ID   string `json:"id"`
			Node string `json:"node"`
			User string `json:"user"`
		}
		servertest.WaitFor(t, 10*time.Second, "a's session listed by b", func() bool {
			_, body := apiB.do("GET", "/api/v1/sessions", "")
			_ = json.Unmarshal(body, &sessions)
			for _, s := range sessions {
				if s.Node == "a" && s.User == "alice" {
					return true
				}
			}
			return false
		})
		for _, s := range sessions {
			if s.Node == "a" && s.User == "alice" {
				if code, body := apiB.do("DELETE", "/api/v1/sessions/"+s.ID, ""); code != 204 {
					t.Fatalf("kick from b: %d %s", code, body)
				}
			}
		}
		if code, line, err := onA.tryRead(); code != 421 {
			t.Fatalf("kicked session read %q %v", line, err)
		}
	})

	t.Run("autoban across nodes", func(t *testing.T) {
		fail := func(addr string) {
			c, err := dialRawFrom(t, "127.0.0.21", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.read()
			c.expect("USER alice", 331)
			c.expect("PASS wrong", 530)
		}
		fail(a.Addr)
		fail(b.Addr)
		fail(a.Addr)
		for _, in := range []*servertest.Instance{a, b} {
			servertest.WaitFor(t, 5*time.Second, "the autoban on every node", func() bool {
				c, err := dialRawFrom(t, "127.0.0.21", in.Addr)
				if err != nil {
					t.Fatal(err)
				}
				code, _, _ := c.tryRead()
				return code == 421
			})
		}
	})

	t.Run("redis down", func(t *testing.T) {
		redis.Stop()
		servertest.WaitFor(t, 10*time.Second, "wharf_cluster_up 0", func() bool {
			return metricValue(t, a.Metrics, "wharf_cluster_up") == 0
		})
		c := login(t, a.Addr, "alice", pass)
		if err := c.Stor("during-outage.txt", strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
		c.Quit()
		if _, err := os.Stat(filepath.Join(shared, "during-outage.txt")); err != nil {
			t.Fatal(err)
		}
		redis.Restart()
		servertest.WaitFor(t, 15*time.Second, "wharf_cluster_up 1", func() bool {
			return metricValue(t, a.Metrics, "wharf_cluster_up") == 1
		})
		if n := strings.Count(a.Logs.String(), "redis unreachable"); n != 1 {
			t.Errorf("%d outage lines", n)
		}
	})
}
