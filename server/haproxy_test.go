package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/engine"
	"github.com/wharf-ftp/wharf/server/servertest"
)

// startHAProxy runs haproxy in the foreground with cfg until the test ends,
// and waits until frontAddr answers a greeting through it.
func startHAProxy(t *testing.T, cfg, frontAddr string) {
	t.Helper()
	bin := engine.Need(t, "haproxy", "apt-get install haproxy")
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out := &servertest.Buffer{}
	cmd := exec.Command(bin, "-f", path, "-db")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("haproxy.cfg:\n%s\nhaproxy output:\n%s", cfg, out.String())
		}
	})
	servertest.WaitFor(t, 10*time.Second, "haproxy's frontend", func() bool {
		select {
		case <-exited:
			t.Fatalf("haproxy exited:\n%s", out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", frontAddr, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		line, _ := bufio.NewReader(c).ReadString('\n')
		return strings.HasPrefix(line, "220 ")
	})
}

// TestBehindHAProxy serves through a real HAProxy sending PROXY v2 on the
// control port and on the passive range: the client at 127.0.0.5 is seen as
// 127.0.0.5 (logs, bans, the data-peer check), transfers flow through the
// balancer, a ban of the client's address refuses it through the balancer,
// and a PROXY line from an untrusted address is an unknown command.
func TestBehindHAProxy(t *testing.T) {
	t.Parallel()
	const n = 5
	listened := servertest.FreePortRange(t, n)
	front := servertest.FreePortRange(t, n+1) // control, then the passive range
	in := servertest.Start(t, fmt.Sprintf(`
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "%d-%d"
announced_ports = "%d-%d"
external_address = "127.0.0.2"
local_networks = []
[proxy_protocol]
trusted = ["127.0.0.1/32"]
timeout = "2s"
[metrics]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[admin.users.ops]
password = "{{hash}}"
role = "admin"
`, listened, listened+n-1, front+1, front+n)+aliceBlock, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice/hello.txt"), "hello through the balancer\n")
	_, ctlPort := hostPort(t, in.Addr)
	offset := listened - (front + 1)
	sign := "+"
	if offset < 0 {
		sign = "-"
		offset = -offset
	}
	frontAddr := "127.0.0.2:" + strconv.Itoa(front)
	startHAProxy(t, fmt.Sprintf(`global
    maxconn 64
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend control
    bind %s
    default_backend wharf_control
backend wharf_control
    server w1 127.0.0.1:%s send-proxy-v2
frontend passive
    bind 127.0.0.2:%d-%d
    default_backend wharf_passive
backend wharf_passive
    server w1 127.0.0.1:%s%d send-proxy-v2
`, frontAddr, ctlPort, front+1, front+n, sign, offset), frontAddr)

	c, err := dialRawFrom(t, "127.0.0.5", frontAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.read()
	c.login("alice", pass)
	for _, mode := range []string{"PASV", "EPSV"} {
		msg := c.expect(mode, map[string]int{"PASV": 227, "EPSV": 229}[mode])
		var port int
		if mode == "PASV" {
			host, p := parsePASV(t, msg)
			if host != "127.0.0.2" {
				t.Fatalf("PASV announced %s, want the balancer 127.0.0.2", host)
			}
			port = p
		} else {
			port, _ = strconv.Atoi(epsvRe.FindStringSubmatch(msg)[1])
		}
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}
		data, err := d.Dial("tcp", "127.0.0.2:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		c.send("RETR hello.txt")
		got, _ := io.ReadAll(data)
		data.Close()
		if code, msg := c.read(); code != 150 {
			t.Fatalf("%s RETR: %q", mode, msg)
		}
		if code, msg := c.read(); code != 226 || string(got) != "hello through the balancer\n" {
			t.Fatalf("%s RETR: %q, got %q", mode, msg, got)
		}
	}
	if !strings.Contains(in.Logs.String(), "remote=127.0.0.5 user=alice") {
		t.Fatalf("the log does not name the client's address:\n%s", in.Logs.String())
	}

	// A ban of the client's own address holds through the balancer.
	api := adminClient{t: t, base: "http://" + in.Srv.AdminAddr(), user: "ops"}
	if code, body := api.do("POST", "/api/v1/bans", `{"address":"127.0.0.5"}`); code != 201 {
		t.Fatalf("ban: %d %s", code, body)
	}
	if code, line, _ := c.tryRead(); code != 421 {
		t.Fatalf("banned session read %q", line)
	}
	again, err := dialRawFrom(t, "127.0.0.5", frontAddr)
	if err != nil {
		t.Fatal(err)
	}
	if code, line, _ := again.tryRead(); code != 421 {
		t.Fatalf("a banned client through the balancer got %q", line)
	}
	other, err := dialRawFrom(t, "127.0.0.6", frontAddr)
	if err != nil {
		t.Fatal(err)
	}
	if code, line, _ := other.tryRead(); code != 220 {
		t.Fatalf("another client through the balancer got %q", line)
	}

	// Untrusted: a PROXY line is an unknown command.
	direct, err := dialRawFrom(t, "127.0.0.7", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	direct.read()
	if code, msg := direct.cmd("PROXY TCP4 1.2.3.4 127.0.0.1 1111 21"); code != 500 {
		t.Fatalf("a PROXY line from an untrusted address: %q", msg)
	}
}
