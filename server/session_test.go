package server_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/engine"
	"github.com/wharf-ftp/wharf/server/servertest"
)

const sessionConfig = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[users.alice]
password = "{{hash}}"
max_sessions = 1
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
[users.anonymous]
anonymous = true
max_sessions = 1
[[users.anonymous.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["list", "read"]
`

// TestSecondUserReleasesSlot: a USER on a logged-in session gives the first
// user's max_sessions slot back, so logging in twice on one connection never
// leaks a slot.
func TestSecondUserReleasesSlot(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, sessionConfig, "alice")
	for i := 0; i < 2; i++ {
		c := dialRaw(t, in.Addr)
		c.read()
		c.login("anonymous", "x")
		c.login("alice", pass)
		c.expect("QUIT", 221)
		servertest.WaitFor(t, 5e9, "no logged-in session left", func() bool {
			return metricValue(t, in.Metrics, "wharf_sessions") == 0
		})
	}
	for _, u := range []string{"anonymous", "alice"} {
		c := dialRaw(t, in.Addr)
		c.read()
		c.login(u, pass)
		c.expect("QUIT", 221)
	}
}

// TestFailedRNFRClearsPending: RNTO after a refused RNFR renames nothing, even
// with an earlier RNFR pending in the library.
func TestFailedRNFRClearsPending(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, sessionConfig, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice/keep1.txt"), "keep")
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("alice", pass)
	c.expect("RNFR /keep1.txt", 350)
	c.expect("RNTO /no/such/dir/keep1.txt", 550)
	c.expect("RNFR /no-such-file.txt", 550)
	if code, msg := c.cmd("RNTO /renamed.txt"); code < 500 {
		t.Fatalf("RNTO after a failed RNFR: %q", msg)
	}
	if readFile(t, filepath.Join(in.Dir, "alice/keep1.txt")) != "keep" {
		t.Fatal("keep1.txt was renamed")
	}
	c.expect("RNFR /keep1.txt", 350)
	c.expect("RNTO /renamed.txt", 250)
}

// TestShutdownSays421: sessions closed by a shutdown get a 421 first, in clear
// and over TLS.
func TestShutdownSays421(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, "", "")
	plain := dialRaw(t, s.Addr)
	plain.read()
	plain.login("alice", pass)
	secure := s.explicitRaw(t, s.goTLS(0))
	secure.login("alice", pass)
	implicit := s.implicitRaw(t, s.goTLS(0))
	implicit.login("alice", pass)
	s.Stop()
	for name, c := range map[string]*rawConn{"plain": plain, "explicit": secure, "implicit": implicit} {
		code, line, err := c.tryRead()
		if err != nil || code != 421 {
			t.Errorf("%s: got %q, %v; want a 421", name, line, err)
		}
	}
}

// TestListOptions: ls-style options in LIST and NLST are options, never a
// path (ncftpls sends NLST -CF), with ncftpls and the classic ftp client.
func TestListOptions(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, sessionConfig, "alice", "alice/sub")
	writeFile(t, filepath.Join(in.Dir, "alice/top.txt"), "x")
	writeFile(t, filepath.Join(in.Dir, "alice/sub/inner.txt"), "y")
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("alice", pass)
	for _, cmd := range []string{"NLST -CF", "NLST -1", "LIST -CF", "NLST -lR sub", "LIST -la /sub"} {
		data := c.epsv()
		c.send(cmd)
		if code, msg := c.read(); code != 150 {
			t.Fatalf("%s: %q", cmd, msg)
		}
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := data.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if code, msg := c.read(); code != 226 {
			t.Fatalf("%s: %q", cmd, msg)
		}
		want := "top.txt"
		if strings.Contains(cmd, "sub") {
			want = "inner.txt"
		}
		if !strings.Contains(b.String(), want) {
			t.Fatalf("%s listed %q", cmd, b.String())
		}
	}
	c.expect("QUIT", 221)
	servertest.WaitFor(t, 5e9, "the session to end", func() bool {
		return metricValue(t, in.Metrics, "wharf_sessions") == 0
	})
	host, port := hostPort(t, in.Addr)
	t.Run("ncftpls", func(t *testing.T) {
		bin := engine.Need(t, "ncftpls", "apt-get install ncftp")
		out, err := exec.Command(bin, "-u", "alice", "-p", pass, "-P", port, "ftp://"+host+"/").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "top.txt") || !strings.Contains(string(out), "sub") {
			t.Fatalf("ncftpls: %v\n%s", err, out)
		}
	})
	t.Run("tnftp", func(t *testing.T) {
		bin := engine.Need(t, "tnftp", "apt-get install tnftp")
		cmd := exec.Command(bin, "-n", "-p", host, port)
		cmd.Stdin = strings.NewReader(fmt.Sprintf("user alice %s\nls -CF\nnlist sub\nquit\n", pass))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "top.txt") || !strings.Contains(string(out), "inner.txt") {
			t.Fatalf("tnftp: %v\n%s", err, out)
		}
	})
}

// TestIPFilterDenyInsideAllow: a deny entry inside an allow network refuses
// that address with a 421 (the most specific entry decides).
func TestIPFilterDenyInsideAllow(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, `
[ipfilter]
allow = ["127.0.0.0/8"]
deny = ["127.0.0.66/32"]
`+sessionConfig, "alice")
	c, err := dialRawFrom(t, "127.0.0.66", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := c.read(); code != 421 {
		t.Fatalf("127.0.0.66 got %q", msg)
	}
	ok, err := dialRawFrom(t, "127.0.0.65", in.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := ok.read(); code != 220 {
		t.Fatalf("127.0.0.65 got %q", msg)
	}
}

// TestIdlePassivePortReleased: sessions that send EPSV and never connect give
// their passive ports back after data_timeout, so others can still transfer.
func TestIdlePassivePortReleased(t *testing.T) {
	t.Parallel()
	first := servertest.FreePortRange(t, 2)
	in := servertest.Start(t, strings.Replace(strings.Replace(sessionConfig, "{{ports}}", fmt.Sprintf("%d-%d", first, first+1), 1),
		"[server]\n", "[server]\ndata_timeout = \"1s\"\n", 1)+`
[users.bob]
password = "{{hash}}"
[[users.bob.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`, "alice")
	for _, u := range []string{"alice", "bob"} {
		c := dialRaw(t, in.Addr)
		c.read()
		c.login(u, pass)
		c.expect("EPSV", 229)
	}
	if v := metricValue(t, in.Metrics, "wharf_passive_ports_in_use"); v != 2 {
		t.Fatalf("%v passive ports in use, want 2", v)
	}
	servertest.WaitFor(t, 10e9, "idle passive ports released", func() bool {
		return metricValue(t, in.Metrics, "wharf_passive_ports_in_use") == 0
	})
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("anonymous", "x")
	c.expect("EPSV", 229)
}

// TestReloadComparesWithWhatRuns: a restart-only setting changed in the file is
// reported at every reload until the file holds the running value again.
func TestReloadComparesWithWhatRuns(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, sessionConfig, "alice")
	text, err := os.ReadFile(in.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	warnings := func() int { return strings.Count(in.Logs.String(), "needs a restart") }
	changed := strings.Replace(string(text), "[server]\n", "[server]\nidle_timeout = \"7m\"\n", 1)
	for i, step := range []struct {
		text string
		want int
	}{{changed, 1}, {changed, 2}, {string(text), 2}} {
		if err := in.Rewrite(t, step.text); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		if got := warnings(); got != step.want {
			t.Fatalf("after reload %d: %d restart warnings, want %d\n%s", i, got, step.want, in.Logs.String())
		}
	}
}

// TestRepliesReadWell: STAT names both ends; a refused upload says what was
// refused and which permission it needs, with the virtual path only.
func TestRepliesReadWell(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, sessionConfig, "alice")
	c := dialRaw(t, in.Addr)
	c.read()
	c.login("anonymous", "x")
	_, msg := c.cmd("STAT")
	if !strings.Contains(msg, "Connected to "+in.Addr+" from 127.0.0.1") {
		t.Fatalf("STAT: %q", msg)
	}
	c.epsv()
	code, msg := c.cmd("STOR /x.txt")
	if code != 550 || !strings.Contains(msg, `/x.txt: permission denied`) || strings.Contains(msg, in.Dir) {
		t.Fatalf("refused STOR: %d %q", code, msg)
	}
}

// TestLongLineGets500: a control line longer than the server reads gets a 500
// reply before the connection is closed.
func TestLongLineGets500(t *testing.T) {
	t.Parallel()
	in := servertest.Start(t, sessionConfig, "alice")
	c := dialRaw(t, in.Addr)
	c.read()
	c.expect("NOOP", 200)
	go func() { _, _ = c.conn.Write([]byte("NOOP " + strings.Repeat("x", 1<<20) + "\r\n")) }()
	code, line, err := c.tryRead()
	if err != nil || code != 500 {
		t.Fatalf("a 1 MB line got %q, %v", line, err)
	}
}

// TestActiveUseControlAddress: with [active] use_control_address, a PORT or
// EPRT naming a private address (a client behind NAT) connects to the control
// connection's address with that port; off, it is refused. A PORT naming
// another public address is still refused (no bounce).
func TestActiveUseControlAddress(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{true, false} {
		in := startNet(t, netConfig("127.0.0.1:0", `ports = "{{ports}}"`, fmt.Sprintf("use_control_address = %v", on)))
		c := loginFrom(t, "127.0.0.1", in.Addr)
		data := listenOn(t, "127.0.0.1")
		port := data.Addr().(*net.TCPAddr).Port
		for _, cmd := range []string{
			fmt.Sprintf("PORT 10,0,0,5,%d,%d", port>>8, port&0xff),
			fmt.Sprintf("EPRT |1|192.168.1.20|%d|", port),
		} {
			code, msg := c.cmd(cmd)
			if !on {
				if code < 500 {
					t.Fatalf("use_control_address off: %s got %q", cmd, msg)
				}
				continue
			}
			if code != 200 {
				t.Fatalf("%s: %q", cmd, msg)
			}
			c.send("RETR hello.txt")
			conn := acceptOne(data, 5*time.Second)
			if conn == nil {
				t.Fatalf("%s: no data connection to the control address", cmd)
			}
			got, _ := io.ReadAll(conn)
			conn.Close()
			if code, msg := c.read(); code != 150 || string(got) != "hello from wharf\n" {
				t.Fatalf("%s: %q, got %q", cmd, msg, got)
			}
			if code, msg := c.read(); code != 226 {
				t.Fatalf("%s: %q", cmd, msg)
			}
		}
		if code, msg := c.cmd("PORT 8,8,8,8,4,0"); code < 500 {
			t.Fatalf("a public foreign address: %q", msg)
		}
	}
}
