package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server"
	"github.com/wharf-ftp/wharf/server/servertest"
)

// netUser is alice, with every permission on {{dir}}/alice.
const netUser = `
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
`

// netConfig is a server on listen with metrics on 127.0.0.1, the given lines
// in [passive] and [active], and alice.
func netConfig(listen, passiveLines, activeLines string) string {
	return fmt.Sprintf(`
[server]
listen = [%q]
data_timeout = "10s"
[passive]
%s
[active]
%s
[metrics]
listen = "127.0.0.1:0"
`, listen, passiveLines, activeLines) + netUser
}

// freePorts returns a range of n ports free now, as "FIRST-LAST", and its ends.
func freePorts(t *testing.T, n int) (text string, first, last int) {
	t.Helper()
	first = servertest.FreePortRange(t, n)
	last = first + n - 1
	return fmt.Sprintf("%d-%d", first, last), first, last
}

// startNet starts a server from text with alice's folder holding hello.txt.
func startNet(t *testing.T, text string) *servertest.Instance {
	t.Helper()
	in := servertest.Start(t, text, "alice")
	writeFile(t, filepath.Join(in.Dir, "alice", "hello.txt"), "hello from wharf\n")
	return in
}

var pasvRe = regexp.MustCompile(`\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)`)

// parsePASV returns the address and port of a 227 reply.
func parsePASV(t *testing.T, msg string) (string, int) {
	t.Helper()
	m := pasvRe.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not a 227 reply: %q", msg)
	}
	hi, _ := strconv.Atoi(m[5])
	lo, _ := strconv.Atoi(m[6])
	return strings.Join(m[1:5], "."), hi*256 + lo
}

// parseEPSV returns the port of a 229 reply.
func parseEPSV(t *testing.T, msg string) int {
	t.Helper()
	m := epsvRe.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not a 229 reply: %q", msg)
	}
	port, _ := strconv.Atoi(m[1])
	return port
}

// passivePort sends PASV or EPSV and returns the announced address ("" for
// EPSV) and port.
func passivePort(t *testing.T, c *rawConn, cmd string) (string, int) {
	t.Helper()
	if cmd == "EPSV" {
		return "", parseEPSV(t, c.expect("EPSV", 229))
	}
	return parsePASV(t, c.expect("PASV", 227))
}

// dialFrom opens a TCP connection to addr from the local IP from ("" = any).
func dialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	return d.Dial("tcp", addr)
}

// mustDialFrom is dialFrom that fails the test and closes the connection at its end.
func mustDialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	c, err := dialFrom(from, addr)
	if err != nil {
		t.Fatalf("data connection to %s from %q: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads data until EOF, within a deadline.
func readAll(t *testing.T, data net.Conn) string {
	t.Helper()
	_ = data.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(data)
	if err != nil {
		t.Fatalf("reading the data connection: %v", err)
	}
	return string(b)
}

// retrOver sends RETR name once the data connection is open and returns the
// bytes received; the transfer must complete with 226.
func retrOver(t *testing.T, c *rawConn, data net.Conn, name string) string {
	t.Helper()
	if code, msg := c.cmd("RETR " + name); code != 150 && code != 125 {
		t.Fatalf("RETR %s: %q", name, msg)
	}
	got := readAll(t, data)
	if code, msg := c.read(); code != 226 {
		t.Fatalf("RETR %s: end of transfer %q", name, msg)
	}
	return got
}

// loginFrom logs alice in over a raw control connection from the local IP from.
func loginFrom(t *testing.T, from, addr string) *rawConn {
	t.Helper()
	c, err := dialRawFrom(t, from, addr)
	if err != nil {
		t.Fatalf("control connection from %s: %v", from, err)
	}
	if code, msg := c.read(); code != 220 {
		t.Fatalf("greeting %q", msg)
	}
	c.login("alice", pass)
	return c
}

// quit ends a raw session.
func quit(c *rawConn) {
	c.expect("QUIT", 221)
	c.conn.Close()
}

// TestPassivePortsInRange checks that PASV and EPSV only announce and listen on
// ports of passive.ports, across sessions, and that transfers work on them.
func TestPassivePortsInRange(t *testing.T) {
	ports, first, last := freePorts(t, 4)
	in := startNet(t, netConfig("127.0.0.1:0", fmt.Sprintf("ports = %q", ports), ""))
	seen := map[int]bool{}
	for range 2 {
		c := loginFrom(t, "127.0.0.1", in.Addr)
		for i := range 6 {
			cmd := []string{"PASV", "EPSV"}[i%2]
			host, port := passivePort(t, c, cmd)
			if port < first || port > last {
				t.Fatalf("%s announced port %d, outside passive.ports %s", cmd, port, ports)
			}
			if cmd == "PASV" && host != "127.0.0.1" {
				t.Fatalf("PASV announced %s to a local client, want 127.0.0.1", host)
			}
			seen[port] = true
			if i >= 4 { // a transfer on the last two: the announced port is the listened one
				data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
				if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
					t.Fatalf("RETR over %s port %d: %q", cmd, port, got)
				}
			}
		}
		quit(c)
	}
	t.Logf("ports used: %v", seen)
}

// TestPassivePortsTwoListeners: sequential transfers on one control listener
// reuse its passive ports instead of binding the whole range, so another
// listener (an implicit FTPS one, or a second address) still finds ports: the
// range bounds simultaneous transfers, not the transfers made so far.
func TestPassivePortsTwoListeners(t *testing.T) {
	ports, _, _ := freePorts(t, 4)
	text := strings.Replace(netConfig("127.0.0.1:0", fmt.Sprintf("ports = %q", ports), ""),
		`listen = ["127.0.0.1:0"]`, `listen = ["127.0.0.1:0", "127.0.0.1:0"]`, 1)
	in := startNet(t, text)
	addrs := in.Srv.ControlAddrs()
	if len(addrs) != 2 {
		t.Fatalf("control listeners %v, want 2", addrs)
	}
	for i, addr := range []string{addrs[0], addrs[0], addrs[1], addrs[1], addrs[0]} {
		c := loginFrom(t, "127.0.0.1", addr)
		for j := range 6 {
			cmd := []string{"PASV", "EPSV"}[j%2]
			code, msg := c.cmd(cmd)
			if code != 227 && code != 229 {
				t.Fatalf("session %d on %s, transfer %d: %s answered %q with no transfer running", i, addr, j, cmd, msg)
			}
			var port int
			if code == 229 {
				port = parseEPSV(t, msg)
			} else {
				_, port = parsePASV(t, msg)
			}
			data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
				t.Fatalf("RETR over port %d: %q", port, got)
			}
		}
		quit(c)
	}
}

// TestPassivePortExhaustion fills a two-port range: the third session's PASV
// and EPSV get a 4xx at once, the event is counted, and the session succeeds
// once a port is free again.
func TestPassivePortExhaustion(t *testing.T) {
	ports, first, last := freePorts(t, 2)
	text := strings.Replace(netConfig("127.0.0.1:0", fmt.Sprintf("ports = %q", ports), ""),
		`data_timeout = "10s"`, `data_timeout = "30s"`, 1)
	in := startNet(t, text)

	a := loginFrom(t, "127.0.0.1", in.Addr)
	b := loginFrom(t, "127.0.0.1", in.Addr)
	_, pa := passivePort(t, a, "PASV")
	_, pb := passivePort(t, b, "EPSV")
	if pa == pb || min(pa, pb) < first || max(pa, pb) > last {
		t.Fatalf("two sessions got ports %d and %d, want both of %s", pa, pb, ports)
	}
	if v := metricValue(t, in.Metrics, "wharf_passive_ports_in_use"); v != 2 {
		t.Fatalf("wharf_passive_ports_in_use = %v, want 2", v)
	}

	c := loginFrom(t, "127.0.0.1", in.Addr)
	for i, cmd := range []string{"PASV", "EPSV"} {
		start := time.Now()
		code, msg := c.cmd(cmd)
		took := time.Since(start)
		if code < 400 || code > 499 {
			t.Fatalf("%s with every port in use: %q, want a 4xx reply", cmd, msg)
		}
		if took > 5*time.Second {
			t.Fatalf("%s with every port in use took %s to answer (data_timeout is 30s)", cmd, took)
		}
		if v := metricValue(t, in.Metrics, "wharf_passive_ports_exhausted_total"); v != float64(i+1) {
			t.Fatalf("after %d refused attempts wharf_passive_ports_exhausted_total = %v", i+1, v)
		}
		t.Logf("%s refused in %s: %s", cmd, took.Round(time.Millisecond), msg)
	}
	if v := metricValue(t, in.Metrics, "wharf_passive_ports_in_use"); v != 2 {
		t.Fatalf("wharf_passive_ports_in_use = %v after the refusals, want 2", v)
	}
	if !strings.Contains(in.Logs.String(), "every passive port is in use") {
		t.Fatalf("the exhaustion was not logged:\n%s", in.Logs.String())
	}
	c.expect("NOOP", 200) // the session goes on

	quit(a)
	servertest.WaitFor(t, 5*time.Second, "a port freed by the session that quit", func() bool {
		return metricValue(t, in.Metrics, "wharf_passive_ports_in_use") == 1
	})
	_, pc := passivePort(t, c, "PASV")
	if pc != pa {
		t.Fatalf("the third session got port %d, want the freed port %d", pc, pa)
	}
	data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(pc)))
	if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
		t.Fatalf("RETR after recovery: %q", got)
	}
	quit(b)
	quit(c)
}

// listenRange binds n consecutive ports on 127.0.0.1 and returns the
// listeners, closed when the test ends.
func listenRange(t *testing.T, n int) []net.Listener {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first := servertest.FreePortRange(t, n)
		var ls []net.Listener
		for port := first; port < first+n; port++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == n {
			t.Cleanup(func() {
				for _, l := range ls {
					l.Close()
				}
			})
			return ls
		}
		for _, l := range ls { // lost a race for one of the ports: try another range
			l.Close()
		}
	}
	t.Fatalf("could not bind %d consecutive ports", n)
	return nil
}

// portOf returns the port of a listener.
func portOf(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

// forwarder stands in for a router forwarding outside ports to inside ports:
// the connections of each listener go to 127.0.0.1:target at the same index.
type forwarder struct {
	wg        sync.WaitGroup
	listeners []net.Listener
	mu        sync.Mutex
	conns     []net.Conn
	forwarded int
}

// startForwarder forwards the connections of each of listeners to the port at
// the same offset from inside, on 127.0.0.1, until the test ends.
func startForwarder(t *testing.T, listeners []net.Listener, inside int) *forwarder {
	t.Helper()
	f := &forwarder{listeners: listeners}
	t.Cleanup(f.close)
	for i, l := range listeners {
		f.wg.Add(1)
		go f.serve(l, net.JoinHostPort("127.0.0.1", strconv.Itoa(inside+i)))
	}
	return f
}

// serve accepts on l until it is closed and pipes each connection to target.
func (f *forwarder) serve(l net.Listener, target string) {
	defer f.wg.Done()
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, in, out)
		f.forwarded++
		f.mu.Unlock()
		f.wg.Add(2)
		go f.pipe(out, in)
		go f.pipe(in, out)
	}
}

// pipe copies src to dst, then half-closes dst as a router passes a FIN on.
func (f *forwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// count returns how many connections were forwarded.
func (f *forwarder) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.forwarded
}

// close stops accepting, closes every forwarded connection and waits for the goroutines.
func (f *forwarder) close() {
	for _, l := range f.listeners {
		l.Close()
	}
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// TestAnnouncedPorts maps passive.ports onto announced_ports: PASV and EPSV
// announce the mapped port, and transfers work through a forwarder standing in
// for the router (announced port i → listened port i).
func TestAnnouncedPorts(t *testing.T) {
	const n = 3
	outside := listenRange(t, n) // held by the "router" before the inside range is chosen
	announced := fmt.Sprintf("%d-%d", portOf(outside[0]), portOf(outside[n-1]))
	listened, inside, _ := freePorts(t, n)
	f := startForwarder(t, outside, inside)
	in := startNet(t, netConfig("127.0.0.1:0",
		fmt.Sprintf("ports = %q\nannounced_ports = %q", listened, announced), ""))

	c := loginFrom(t, "127.0.0.1", in.Addr)
	for _, cmd := range []string{"PASV", "EPSV", "PASV"} {
		_, port := passivePort(t, c, cmd)
		offset := port - portOf(outside[0])
		if offset < 0 || offset >= n {
			t.Fatalf("%s announced port %d, want one of announced_ports %s (listening on %s)", cmd, port, announced, listened)
		}
		data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
			t.Fatalf("RETR through the mapped port %d: %q", port, got)
		}
	}
	quit(c)

	// jlaffaye/ftp (EPSV) uploads and downloads through the mapping.
	body := strings.Repeat("mapped port ", 50000)
	ftpc := login(t, in.Addr, "alice", pass)
	if err := ftpc.Stor("up.txt", strings.NewReader(body)); err != nil {
		t.Fatalf("STOR through the mapped ports: %v", err)
	}
	r, err := ftpc.Retr("up.txt")
	if err != nil {
		t.Fatalf("RETR through the mapped ports: %v", err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(got) != body {
		t.Fatalf("RETR through the mapped ports: %d bytes, %v", len(got), err)
	}
	if f.count() != 5 {
		t.Fatalf("the forwarder carried %d data connections, want 5", f.count())
	}
}

// curlArgs are the options every curl run of these tests shares.
func curlArgs(args ...string) []string {
	return append([]string{"-sS", "-v", "--max-time", "20", "-u", "alice:" + pass}, args...)
}

// TestActiveModeCurl uploads and downloads in active mode (EPRT, then PORT)
// with curl --ftp-port.
func TestActiveModeCurl(t *testing.T) {
	needTool(t, "curl", "curl")
	in := startNet(t, netConfig("127.0.0.1:0", `ports = "{{ports}}"`, "enabled = true"))
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 1<<20)
	for _, tc := range []struct {
		name, command string
		extra         []string
	}{
		{"EPRT", "EPRT |1|127.0.0.1|", nil},
		{"PORT", "PORT 127,0,0,1,", []string{"--disable-eprt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "ftp://" + in.Addr + "/" + tc.name + ".bin"
			args := append(curlArgs("--ftp-port", "127.0.0.1", "-T", filepath.Join(local, "up.bin"), url), tc.extra...)
			out, err := runTool(t, "curl", args...)
			if err != nil {
				t.Fatalf("active upload: %v\n%s", err, out)
			}
			if !strings.Contains(out, "> "+tc.command) {
				t.Fatalf("curl did not use %s:\n%s", tc.name, out)
			}
			if got := readFile(t, filepath.Join(in.Dir, "alice", tc.name+".bin")); got != string(data) {
				t.Fatal("active upload differs")
			}
			down := filepath.Join(local, tc.name+".down")
			args = append(curlArgs("--ftp-port", "127.0.0.1", "-o", down, url), tc.extra...)
			if out, err := runTool(t, "curl", args...); err != nil || !strings.Contains(out, "> "+tc.command) {
				t.Fatalf("active download: %v\n%s", err, out)
			}
			if got := readFile(t, down); got != string(data) {
				t.Fatal("active download differs")
			}
		})
	}
}

// TestActiveModeDisabled refuses PORT and EPRT with a reply saying so.
func TestActiveModeDisabled(t *testing.T) {
	in := startNet(t, netConfig("127.0.0.1:0", `ports = "{{ports}}"`, "enabled = false"))
	target := listenRange(t, 1)[0]
	hi, lo := portOf(target)/256, portOf(target)%256
	c := loginFrom(t, "127.0.0.1", in.Addr)
	for _, cmd := range []string{
		fmt.Sprintf("PORT 127,0,0,1,%d,%d", hi, lo),
		fmt.Sprintf("EPRT |1|127.0.0.1|%d|", portOf(target)),
	} {
		code, msg := c.cmd(cmd)
		if code < 400 || !strings.Contains(strings.ToLower(msg), "disabled") {
			t.Fatalf("%s with active mode disabled: %q, want a refusal saying it is disabled", cmd, msg)
		}
	}
	_, port := passivePort(t, c, "EPSV") // passive mode still works
	data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
		t.Fatalf("RETR: %q", got)
	}
	quit(c)
	if _, err := exec.LookPath("curl"); err == nil {
		out, err := runTool(t, "curl", curlArgs("--ftp-port", "127.0.0.1", "ftp://"+in.Addr+"/hello.txt")...)
		if err == nil {
			t.Fatalf("curl --ftp-port succeeded with active mode disabled:\n%s", out)
		}
	}
}

// acceptOne accepts one connection on l within the given time, or returns nil.
func acceptOne(l net.Listener, within time.Duration) net.Conn {
	type deadliner interface{ SetDeadline(time.Time) error }
	_ = l.(deadliner).SetDeadline(time.Now().Add(within))
	c, err := l.Accept()
	if err != nil {
		return nil
	}
	return c
}

// listenOn listens on host:0 and closes the listener when the test ends.
func listenOn(t *testing.T, host string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// portCommand returns the PORT command for the TCP address of l.
func portCommand(l net.Listener) string {
	a := l.Addr().(*net.TCPAddr)
	return fmt.Sprintf("PORT %s,%d,%d", strings.ReplaceAll(a.IP.String(), ".", ","), a.Port/256, a.Port%256)
}

// eprtCommand returns the EPRT command for the TCP address of l.
func eprtCommand(l net.Listener) string {
	a := l.Addr().(*net.TCPAddr)
	family := 1
	if a.IP.To4() == nil {
		family = 2
	}
	return fmt.Sprintf("EPRT |%d|%s|%d|", family, a.IP, a.Port)
}

// TestForeignDataConnections: with allow_foreign = false, PORT and EPRT to an
// address other than the client's are refused and no connection is made, and
// a passive data connection from another address than the control
// connection's is refused; with allow_foreign = true both are accepted.
func TestForeignDataConnections(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		in := startNet(t, netConfig("127.0.0.1:0", `ports = "{{ports}}"`, "allow_foreign = false"))
		foreign := listenOn(t, "127.0.0.2")
		c := loginFrom(t, "127.0.0.1", in.Addr)
		for _, cmd := range []string{portCommand(foreign), eprtCommand(foreign)} {
			code, msg := c.cmd(cmd)
			if code < 500 || code > 504 {
				t.Fatalf("%s from 127.0.0.1: %q, want a 5xx refusal", cmd, msg)
			}
			if !explainsForeign(msg) {
				// ftpserverlib's fixed text; wharf cannot change it (see the report).
				t.Logf("%s refused without saying why: %q", cmd, msg)
			}
		}
		if code, _ := c.cmd("LIST"); code < 400 {
			t.Fatalf("LIST after refused PORT/EPRT: %d, want an error", code)
		}
		if conn := acceptOne(foreign, 200*time.Millisecond); conn != nil {
			conn.Close()
			t.Fatal("the server connected to the foreign address")
		}
		if !strings.Contains(in.Logs.String(), "does not match control connection") {
			t.Errorf("the server log does not explain the refusal:\n%s", in.Logs.String())
		}

		quit(c)
	})

	// A connection from 127.0.0.2 to the passive port of a session whose
	// control connection comes from 127.0.0.1 (the "data connection theft" of
	// RFC 2577) never gets the data: not when it arrives first, not when the
	// client retries the transfer over the same PASV.
	t.Run("passive from another address", func(t *testing.T) {
		in := startNet(t, netConfig("127.0.0.1:0", `ports = "{{ports}}"`, "allow_foreign = false"))
		c := loginFrom(t, "127.0.0.1", in.Addr)
		_, port := passivePort(t, c, "PASV")
		dataAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		thief := mustDialFrom(t, "127.0.0.2", dataAddr)
		client := mustDialFrom(t, "127.0.0.1", dataAddr)
		for attempt := 1; attempt <= 2; attempt++ {
			code, msg := c.cmd("RETR hello.txt")
			if code == 150 || code == 125 { // must be over the client's own connection
				noTheft(t, thief)
				if got := readAll(t, client); got != "hello from wharf\n" {
					t.Fatalf("RETR: the client's data connection got %q", got)
				}
				if code, msg := c.read(); code != 226 {
					t.Fatalf("RETR: end of transfer %q", msg)
				}
				break
			}
			if code != 425 {
				t.Fatalf("RETR with a data connection from 127.0.0.2 waiting: %q, want 425 or a transfer to the client", msg)
			}
			t.Logf("attempt %d: %s", attempt, msg)
		}
		noTheft(t, thief)
		quit(c)
	})

	t.Run("allowed", func(t *testing.T) {
		in := startNet(t, netConfig("127.0.0.1:0", `ports = "{{ports}}"`, "allow_foreign = true"))
		c := loginFrom(t, "127.0.0.1", in.Addr)
		for _, mk := range []func(net.Listener) string{portCommand, eprtCommand} {
			foreign := listenOn(t, "127.0.0.2")
			c.expect(mk(foreign), 200)
			if got := activeRetr(t, c, foreign, "hello.txt"); got != "hello from wharf\n" {
				t.Fatalf("foreign active RETR: %q", got)
			}
		}
		_, port := passivePort(t, c, "PASV")
		data := mustDialFrom(t, "127.0.0.2", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
			t.Fatalf("passive RETR from another address: %q", got)
		}
		quit(c)
	})
}

// noTheft fails the test if the server sent anything over the data
// connection thief, which came from another address than the client's.
func noTheft(t *testing.T, thief net.Conn) {
	t.Helper()
	_ = thief.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, _ := io.ReadAll(thief); len(b) > 0 {
		t.Fatalf("the data connection from 127.0.0.2 received %q: data connection theft", b)
	}
}

// explainsForeign reports whether a refusal of PORT/EPRT tells the client
// the target address is not its own.
func explainsForeign(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "address") && (strings.Contains(m, "your") || strings.Contains(m, "client") || strings.Contains(m, "control"))
}

// TestIPv6 serves on [::1]: EPSV and EPRT work (raw, jlaffaye/ftp, lftp), PASV
// is refused with a text pointing at EPSV.
func TestIPv6(t *testing.T) {
	probe, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback (::1) here: %v", err)
	}
	probe.Close()
	in := startNet(t, netConfig("[::1]:0", `ports = "{{ports}}"`, ""))

	c := loginFrom(t, "::1", in.Addr)
	code, msg := c.cmd("PASV")
	if code < 400 || code > 499 || !strings.Contains(msg, "EPSV") {
		t.Fatalf("PASV over IPv6: %q, want a 4xx telling to use EPSV", msg)
	}
	_, port := passivePort(t, c, "EPSV")
	data := mustDialFrom(t, "", net.JoinHostPort("::1", strconv.Itoa(port)))
	if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
		t.Fatalf("RETR over EPSV on ::1: %q", got)
	}
	back := listenOn(t, "::1")
	c.expect(eprtCommand(back), 200)
	if got := activeRetr(t, c, back, "hello.txt"); got != "hello from wharf\n" {
		t.Fatalf("RETR over EPRT: %q", got)
	}
	quit(c)

	ftpc := login(t, in.Addr, "alice", pass)
	if err := ftpc.Stor("v6.txt", strings.NewReader("over IPv6\n")); err != nil {
		t.Fatalf("jlaffaye STOR over ::1: %v", err)
	}
	names, err := ftpc.NameList("/")
	if err != nil || !strings.Contains(strings.Join(names, " "), "v6.txt") {
		t.Fatalf("jlaffaye NLST over ::1: %v %v", names, err)
	}

	if _, err := exec.LookPath("lftp"); err != nil {
		t.Logf("lftp not installed (Debian package lftp): its part is skipped")
		return
	}
	_, p := hostPort(t, in.Addr)
	local := t.TempDir()
	script := fmt.Sprintf("set net:max-retries 1; set net:timeout 15; set ftp:ssl-allow false; set cmd:fail-exit true; "+
		"debug -o %s 5; open -u alice,%s ftp://[::1]:%s; put %s -o lftp.txt; get v6.txt -o %s",
		filepath.Join(local, "debug.log"), pass, p, filepath.Join(in.Dir, "alice", "hello.txt"), filepath.Join(local, "v6.txt"))
	if out, err := runTool(t, "lftp", "-c", script); err != nil {
		t.Fatalf("lftp over ::1: %v\n%s", err, out)
	}
	if got := readFile(t, filepath.Join(local, "v6.txt")); got != "over IPv6\n" {
		t.Fatalf("lftp get over ::1: %q", got)
	}
	if got := readFile(t, filepath.Join(in.Dir, "alice", "lftp.txt")); got != "hello from wharf\n" {
		t.Fatalf("lftp put over ::1: %q", got)
	}
	if transcript := readFile(t, filepath.Join(local, "debug.log")); !strings.Contains(transcript, "EPSV") {
		t.Fatalf("lftp did not use EPSV:\n%s", transcript)
	}
}

// TestExternalAddress checks what each client is told in 227 replies: the
// local address to local_networks, external_address to the others, an
// override before both; a reload changes it for new PASV commands.
func TestExternalAddress(t *testing.T) {
	ports, _, _ := freePorts(t, 10)
	passiveLines := fmt.Sprintf(`ports = %q
local_networks = ["127.0.0.1/32"]
external_address = "127.0.0.3"
[[passive.overrides]]
networks = ["127.0.0.4/32"]
address = "127.0.0.5"`, ports)
	in := startNet(t, netConfig("127.0.0.1:0", passiveLines, ""))

	announced := func(from string) string {
		c := loginFrom(t, from, in.Addr)
		defer quit(c)
		host, _ := passivePort(t, c, "PASV")
		return host
	}
	for _, tc := range []struct{ from, want string }{
		{"127.0.0.1", "127.0.0.1"}, // local network: the control connection's local address
		{"127.0.0.2", "127.0.0.3"}, // elsewhere: external_address
		{"127.0.0.4", "127.0.0.5"}, // override
	} {
		if got := announced(tc.from); got != tc.want {
			t.Errorf("PASV from %s announced %s, want %s", tc.from, got, tc.want)
		}
	}

	// The client from 127.0.0.2 transfers through the announced 127.0.0.3
	// (loopback reaches the server there too; the data connection comes from
	// the control connection's address).
	c := loginFrom(t, "127.0.0.2", in.Addr)
	host, port := passivePort(t, c, "PASV")
	data := mustDialFrom(t, "127.0.0.2", net.JoinHostPort(host, strconv.Itoa(port)))
	if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
		t.Fatalf("RETR through the external address: %q", got)
	}
	quit(c)

	// An override network wins over local_networks and external_address.
	reloaded := strings.Replace(passiveLines, `networks = ["127.0.0.4/32"]`, `networks = ["127.0.0.0/8"]`, 1)
	reloaded = strings.Replace(reloaded, `address = "127.0.0.5"`, `address = "127.0.0.6"`, 1)
	if err := in.Rewrite(t, netConfig("127.0.0.1:0", reloaded, "")); err != nil {
		t.Fatalf("reload: %v", err)
	}
	for _, from := range []string{"127.0.0.1", "127.0.0.2"} {
		if got := announced(from); got != "127.0.0.6" {
			t.Errorf("after the reload PASV from %s announced %s, want the override 127.0.0.6", from, got)
		}
	}
}

// TestCheckClientDNSName: `wharf check --client` with a DNS name as
// external_address prints the address the name resolves to.
func TestCheckClientDNSName(t *testing.T) {
	if addrs, err := net.LookupIP("localhost"); err != nil || !containsIP(addrs, "127.0.0.1") {
		t.Skipf("localhost does not resolve to 127.0.0.1 here: %v %v", addrs, err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alice", "keep"), "")
	path := filepath.Join(dir, "wharf.toml")
	writeFile(t, path, servertest.Expand(t, `
[server]
listen = ["127.0.0.9:2121"]
[passive]
ports = "{{ports}}"
external_address = "localhost"
local_networks = ["10.0.0.0/8"]
`+netUser, dir))
	for _, tc := range []struct{ client, want string }{
		{"198.51.100.20", "PASV to 198.51.100.20 announces 127.0.0.1"}, // the resolved name
		{"10.1.2.3", "PASV to 10.1.2.3 announces 127.0.0.9"},           // local: the listener's address
	} {
		var out bytes.Buffer
		if err := server.Check(server.CheckOptions{ConfigPath: path, Client: tc.client}, &out); err != nil {
			t.Fatalf("check: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Fatalf("check --client %s: want %q in:\n%s", tc.client, tc.want, out.String())
		}
		if !strings.Contains(out.String(), "announcing 127.0.0.1 (from localhost") {
			t.Fatalf("check does not show the resolved external address:\n%s", out.String())
		}
	}
}

func containsIP(ips []net.IP, want string) bool {
	for _, ip := range ips {
		if ip.String() == want {
			return true
		}
	}
	return false
}

// The NAT test builds this network out of namespaces it creates itself (the
// addresses exist only inside them):
//
//	lan 10.77.0.3 ─┐
//	               ├─ br0 10.77.0.1 [router] 198.51.100.1 ── 198.51.100.2 client
//	srv 10.77.0.2 ─┘       DNAT 198.51.100.1:{control, passive} → 10.77.0.2
//
// wharf runs in srv (the test binary run again, see TestMain)
// with external_address = the router's outside address.
const (
	natPrivateNet  = "10.77.0.0/24"
	natRouterIn    = "10.77.0.1"
	natServer      = "10.77.0.2"
	natLAN         = "10.77.0.3"
	natRouterOut   = "198.51.100.1"
	natOutside     = "198.51.100.2"
	natControlPort = "2121"        // inside a namespace of its own: nothing else listens there
	natPorts       = "40000-40009" // idem
	natServerEnv   = "WHARF_NETNS_SERVER_CONFIG"
)

// TestMain lets TestNAT run this test binary again inside a network namespace
// as a wharf server: with WHARF_NETNS_SERVER_CONFIG naming a configuration
// file, it serves that file until stdin closes, instead of running tests.
func TestMain(m *testing.M) {
	if path := os.Getenv(natServerEnv); path != "" {
		os.Exit(netnsServerProcess(path))
	}
	os.Exit(m.Run())
}

func netnsServerProcess(path string) int {
	logs := &servertest.Buffer{}
	srv, err := server.New(server.Options{ConfigPath: path, Stdout: logs, Stderr: logs})
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "wharf: %v\n", err)
		return 1
	}
	fmt.Printf("wharf-listening %s\n", srv.ControlAddrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin) // until TestNAT closes it
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	fmt.Fprintf(os.Stderr, "server log:\n%s", logs.String())
	return 0
}

// netns runs commands for the NAT test.
type netns struct {
	t      *testing.T
	prefix string
}

// run runs a command with a deadline and returns its combined output.
func (n *netns) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// must runs a command and fails the test when it fails.
func (n *netns) must(name string, args ...string) string {
	n.t.Helper()
	out, err := n.run(name, args...)
	if err != nil {
		n.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// add creates the namespace prefix-role, deleted when the test ends.
func (n *netns) add(role string) string {
	n.t.Helper()
	name := n.prefix + role
	if out, err := n.run("ip", "netns", "add", name); err != nil {
		n.t.Skipf("cannot create network namespaces here (ip netns add: %v: %s)", err, strings.TrimSpace(out))
	}
	n.t.Cleanup(func() {
		if out, err := n.run("ip", "netns", "del", name); err != nil {
			n.t.Errorf("ip netns del %s: %v\n%s", name, err, out)
		}
	})
	n.must("ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// ip runs `ip -n ns args...`.
func (n *netns) ip(ns string, args ...string) {
	n.t.Helper()
	n.must("ip", append([]string{"-n", ns}, args...)...)
}

// exec runs a command inside ns and returns its combined output.
func (n *netns) exec(ns, name string, args ...string) (string, error) {
	return n.run("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// TestNAT runs wharf behind a real NAT router made of network namespaces: a
// client outside reaches it through the router's address and is told that
// address in the 227 reply; a client on the private network is told the
// private address; both transfer files in passive mode.
func TestNAT(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the NAT test needs root to create network namespaces (ip netns)")
	}
	for _, tool := range [][2]string{{"ip", "iproute2"}, {"nft", "nftables"}, {"curl", "curl"}} {
		needTool(t, tool[0], tool[1])
	}
	n := &netns{t: t, prefix: fmt.Sprintf("wharf-%d-", os.Getpid())}
	router, srv, lan, outside := n.add("router"), n.add("srv"), n.add("lan"), n.add("outside")

	n.ip(router, "link", "add", "br0", "type", "bridge")
	for _, link := range [][2]string{{"to-srv", srv}, {"to-lan", lan}} {
		n.ip(router, "link", "add", link[0], "type", "veth", "peer", "name", "eth0", "netns", link[1])
		n.ip(router, "link", "set", link[0], "master", "br0")
		n.ip(router, "link", "set", link[0], "up")
	}
	n.ip(router, "link", "add", "to-outside", "type", "veth", "peer", "name", "eth0", "netns", outside)
	n.ip(router, "addr", "add", natRouterIn+"/24", "dev", "br0")
	n.ip(router, "addr", "add", natRouterOut+"/24", "dev", "to-outside")
	n.ip(router, "link", "set", "br0", "up")
	n.ip(router, "link", "set", "to-outside", "up")
	for _, host := range [][2]string{{srv, natServer + "/24"}, {lan, natLAN + "/24"}, {outside, natOutside + "/24"}} {
		n.ip(host[0], "addr", "add", host[1], "dev", "eth0")
		n.ip(host[0], "link", "set", "eth0", "up")
	}
	n.ip(srv, "route", "add", "default", "via", natRouterIn)
	n.ip(lan, "route", "add", "default", "via", natRouterIn)
	if out, err := n.exec(router, "sysctl", "-qw", "net.ipv4.ip_forward=1"); err != nil {
		t.Fatalf("enabling forwarding in the router: %v\n%s", err, out)
	}
	rules := fmt.Sprintf(`table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "to-outside" tcp dport { %s, %s } dnat to %s
	}
}
`, natControlPort, natPorts, natServer)
	cmd := exec.Command("ip", "netns", "exec", router, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot set up DNAT with nftables here: %v\n%s", err, out)
	}

	dir := startNetnsServer(t, srv)

	// The private address is unreachable from outside: only the router's works.
	if out, err := n.exec(outside, "curl", "-sS", "--max-time", "3", "ftp://"+natServer+":"+natControlPort+"/"); err == nil {
		t.Fatalf("the outside client reached the private address directly:\n%s", out)
	}

	for _, tc := range []struct {
		name, ns, host, announced string
	}{
		{"outside", outside, natRouterOut, natRouterOut},
		{"lan", lan, natServer, natServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := "ftp://" + tc.host + ":" + natControlPort + "/"
			local := t.TempDir()
			up := filepath.Join(local, "up.txt")
			writeFile(t, up, "uploaded from "+tc.name+"\n")
			// PASV, and the address from the 227 reply really used (curl ignores it by default).
			pasv := []string{"--disable-epsv", "--no-ftp-skip-pasv-ip"}
			out, err := n.exec(tc.ns, "curl", curlArgs(append(pasv, "-o", filepath.Join(local, "hello.txt"), url+"hello.txt")...)...)
			if err != nil {
				t.Fatalf("PASV download from %s: %v\n%s", tc.name, err, out)
			}
			want := "227 Entering Passive Mode (" + strings.ReplaceAll(tc.announced, ".", ",") + ","
			if !strings.Contains(out, want) {
				t.Fatalf("the %s client was not told %s:\n%s", tc.name, tc.announced, out)
			}
			if got := readFile(t, filepath.Join(local, "hello.txt")); got != "hello from wharf\n" {
				t.Fatalf("PASV download from %s: %q", tc.name, got)
			}
			out, err = n.exec(tc.ns, "curl", curlArgs(append(pasv, "-T", up, url+tc.name+".txt")...)...)
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("PASV upload from %s: %v\n%s", tc.name, err, out)
			}
			if got := readFile(t, filepath.Join(dir, "alice", tc.name+".txt")); got != "uploaded from "+tc.name+"\n" {
				t.Fatalf("PASV upload from %s: %q", tc.name, got)
			}
			// EPSV (curl's default) needs no address at all.
			out, err = n.exec(tc.ns, "curl", curlArgs("-o", filepath.Join(local, "epsv.txt"), url+"hello.txt")...)
			if err != nil || !strings.Contains(out, "229 ") {
				t.Fatalf("EPSV download from %s: %v\n%s", tc.name, err, out)
			}
		})
	}
}

// startNetnsServer writes the NAT test's configuration and runs wharf in the
// namespace ns until the test ends. It returns the directory of {{dir}}.
func startNetnsServer(t *testing.T, ns string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alice", "hello.txt"), "hello from wharf\n")
	config := filepath.Join(dir, "wharf.toml")
	writeFile(t, config, servertest.Expand(t, fmt.Sprintf(`
[server]
listen = ["0.0.0.0:%s"]
[passive]
ports = %q
external_address = %q
local_networks = [%q]
`, natControlPort, natPorts, natRouterOut, natPrivateNet)+netUser, dir))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, self)
	cmd.Env = append(os.Environ(), natServerEnv+"="+config)
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines servertest.Buffer // stdout up to the listening line
	t.Cleanup(func() {
		stdin.Close() // the server stops
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(15 * time.Second):
			cancel()
			err = <-done
		}
		cancel()
		if err != nil || t.Failed() {
			t.Logf("server process (%v):\n%s%s", err, lines.String(), stderr.String())
		}
		if err != nil {
			t.Errorf("the server process failed: %v", err)
		}
	})

	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(&lines, sc.Text())
			if strings.HasPrefix(sc.Text(), "wharf-listening ") {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- errors.New("the server process ended before listening")
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server process did not start listening within 30s")
	}
	return dir
}

// TestCheckExternalURLRedacted: a bad external_address_url is reported
// without the password it carries.
func TestCheckExternalURLRedacted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alice", "keep"), "")
	path := filepath.Join(dir, "wharf.toml")
	writeFile(t, path, servertest.Expand(t, `
[passive]
ports = "{{ports}}"
external_address_url = "ftp://robot:hunter2@ip.example.com/"
`+netUser, dir))
	var out bytes.Buffer
	err := server.Check(server.CheckOptions{ConfigPath: path}, &out)
	if err == nil || !strings.Contains(err.Error(), "external_address_url") {
		t.Fatalf("check accepted an ftp:// external_address_url: %v\n%s", err, out.String())
	}
	if strings.Contains(err.Error()+out.String(), "hunter2") {
		t.Fatalf("check printed the URL's password: %v", err)
	}
}

// activeRetr sends RETR name after a PORT/EPRT pointing at l, accepts the
// server's data connection, and returns what arrived on it.
func activeRetr(t *testing.T, c *rawConn, l net.Listener, name string) string {
	t.Helper()
	c.send("RETR " + name)
	conn := acceptOne(l, 5*time.Second)
	if conn == nil {
		t.Fatal("the server did not connect to the PORT/EPRT address")
	}
	if code, msg := c.read(); code != 150 && code != 125 {
		t.Fatalf("RETR in active mode: %q", msg)
	}
	got := readAll(t, conn)
	conn.Close()
	if code, msg := c.read(); code != 226 {
		t.Fatalf("RETR in active mode: end of transfer %q", msg)
	}
	return got
}

// TestPROTLevels: on a clear control connection, PROT with a level other than
// C or P is refused (536 for S and E, 504 for anything else), the session goes
// on and data connections stay as they were.
func TestPROTLevels(t *testing.T) {
	ports, _, _ := freePorts(t, 2)
	in := startNet(t, netConfig("127.0.0.1:0", fmt.Sprintf("ports = %q", ports), ""))
	c := loginFrom(t, "127.0.0.1", in.Addr)
	for _, tc := range []struct {
		cmd  string
		code int
	}{{"PROT S", 536}, {"PROT E", 536}, {"PROT X", 504}, {"PROT", 504}, {"prot q", 504}} {
		c.expect(tc.cmd, tc.code)
	}
	// Sent together, the replies come in order.
	if _, err := c.conn.Write([]byte("NOOP\r\nPROT E\r\nPBSZ 0\r\nPROT X\r\nNOOP\r\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int{200, 536, 200, 504, 200} {
		if code, msg := c.read(); code != want {
			t.Fatalf("pipelined commands: got %q, want %d", msg, want)
		}
	}
	c.expect("PROT C", 200)
	_, port := passivePort(t, c, "PASV")
	data := mustDialFrom(t, "", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if got := retrOver(t, c, data, "hello.txt"); got != "hello from wharf\n" {
		t.Fatalf("RETR after the refused PROT levels: %q", got)
	}
	quit(c)
}
