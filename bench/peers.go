package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// server is one FTP server under test.
type server struct {
	name    string
	version string
	addr    string // control address
	metrics string // Prometheus listener ("" = none)
	user    string
	pass    string
	pid     int // root of the process tree whose memory is measured
	// listUser logs in for the listing scenario: for wharf a bcrypt account,
	// so that no argon2 arena freed just before the listing hides its heap
	// growth from the peak-memory probe.
	listUser, listPass string
	// fresh, when set, restarts the server so that a measurement starts from a
	// new process (the peers fork a new process for every session anyway).
	fresh func() error

	cmd     *exec.Cmd
	cpu     *cpuMeter // CPU time of the server and everything it forks
	logPath string
	exited  chan struct{}
	// skip is why the server is not measured ("" = it runs).
	skip string
}

// peerEnv is what the servers share: the data tree they serve, the TLS
// certificate, the local user the peers log in as, and port ranges.
type peerEnv struct {
	work     string // scratch directory (configs, logs, binaries)
	data     string // served tree, also the local user's home
	cert     string
	key      string
	certKey  string // certificate and key in one PEM file
	user     string // local user for the peers ("" = none could be made)
	userErr  string
	pass     string
	portBase int
}

// passiveRange returns the i-th server's passive range: 1000 ports each
// (pure-ftpd allows at most half as many clients as passive ports).
func (e *peerEnv) passiveRange(i int) (int, int) {
	first := e.portBase + 1000*i
	return first, first + 999
}

// peerPort gives a peer (which needs a local user) its control port and
// address; when it cannot run, it says why in s.skip and returns false.
func (e *peerEnv) peerPort(s *server) (int, bool) {
	if e.user == "" {
		s.skip = "no local user: " + e.userErr
		return 0, false
	}
	port, err := e.freePort()
	if err != nil {
		s.skip = err.Error()
		return 0, false
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	return port, true
}

// passiveServers is how many passive ranges freePort keeps clear of: one
// per server the bench knows.
const passiveServers = 3

// freePort asks the kernel for a free loopback port outside every server's
// passive range: the kernel's ephemeral range (32768-60999 on Linux) holds
// them, and a control port inside a range stops wharf at start ("passive
// ports overlap listener"). Ports it refuses stay held until it returns, so
// the kernel never offers the same one twice.
func (e *peerEnv) freePort() (int, error) {
	lo, hi := e.portBase, e.portBase+1000*passiveServers-1
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		held = append(held, l)
		if p := l.Addr().(*net.TCPAddr).Port; p < lo || p > hi {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port outside the passive ports %d-%d in 100 tries", lo, hi)
}

// start runs argv, with its stdout and stderr in a log file, and waits until
// the control address answers with a 220 greeting.
func (s *server) start(argv []string, dir string) error {
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.cpu == nil {
		s.cpu = newCPUMeter(s.name, func() int { return s.pid })
	}
	s.cpu.attach(s.cmd.SysProcAttr)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.pid = s.cmd.Process.Pid
	s.exited = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("exited at start: %s", s.logTail())
		default:
		}
		c, err := dial(s.addr, nil, 2*time.Second)
		if err == nil {
			c.close()
			return nil
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-s.exited:
		case <-t.C:
		}
		t.Stop()
	}
	s.stop()
	return fmt.Errorf("no greeting on %s within 15s: %s", s.addr, s.logTail())
}

// logTail returns the last lines of the server's log, on one line.
func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	b = bytes.TrimSpace(b)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	t := strings.Join(lines, " | ")
	if t == "" {
		t = "(no output)"
	}
	return t
}

// stop sends SIGTERM to the server's process group, then SIGKILL after 5 s.
func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	pids := procTree(s.pid)
	_ = syscall.Kill(-s.pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.pid, syscall.SIGKILL)
		<-s.exited
	}
	// Sessions forked into other process groups.
	for _, pid := range pids[1:] {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	s.cmd = nil
}

// startWharf writes a configuration for wharf and starts it, with a metrics
// listener when metrics is true.
func startWharf(ctx context.Context, env *peerEnv, name, bin string, idx int, metrics bool) *server {
	s := &server{name: name, user: "bench", pass: "bench-pw", listUser: "lister", listPass: "lister-pw",
		logPath: filepath.Join(env.work, name+".log")}
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		s.skip = "wharf version: " + err.Error()
		return s
	}
	s.version = strings.TrimSpace(string(out))
	hcmd := exec.CommandContext(ctx, bin, "hash")
	hcmd.Stdin = strings.NewReader(s.pass + "\n")
	h, err := hcmd.Output()
	if err != nil {
		s.skip = "wharf hash: " + err.Error()
		return s
	}
	lh, err := bcrypt.GenerateFromPassword([]byte(s.listPass), bcrypt.MinCost)
	if err != nil {
		s.skip = err.Error()
		return s
	}
	listHash := string(lh)
	port, err := env.freePort()
	if err != nil {
		s.skip = err.Error()
		return s
	}
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	if metrics {
		mport, err := env.freePort()
		if err != nil {
			s.skip = err.Error()
			return s
		}
		s.metrics = fmt.Sprintf("127.0.0.1:%d", mport)
	}
	lo, hi := env.passiveRange(idx)
	conf := wharfConfig(s.addr, s.metrics, lo, hi, env.cert, env.key, env.data, "info",
		wharfUser{s.user, strings.TrimSpace(string(h)), `"*"`},
		wharfUser{s.listUser, listHash, `"list", "read"`})
	path := filepath.Join(env.work, name+".toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		s.skip = err.Error()
		return s
	}
	argv := []string{bin, "serve", "--config", path}
	if err := s.start(argv, env.work); err != nil {
		s.skip = "start: " + err.Error()
	}
	s.fresh = func() error {
		s.stop()
		return s.start(argv, env.work)
	}
	return s
}

// startVsftpd runs Debian's vsftpd in the foreground with its own
// configuration, logging in as the bench user.
func startVsftpd(ctx context.Context, env *peerEnv, idx int) *server {
	s := &server{name: "vsftpd", user: env.user, pass: env.pass, listUser: env.user, listPass: env.pass, logPath: filepath.Join(env.work, "vsftpd.log")}
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/vsftpd"); serr != nil {
			s.skip = "not installed (apt-get install vsftpd)"
			return s
		}
		bin = "/usr/sbin/vsftpd"
	}
	s.version = "vsftpd " + debVersion(ctx, "vsftpd")
	port, ok := env.peerPort(s)
	if !ok {
		return s
	}
	lo, hi := env.passiveRange(idx)
	empty := filepath.Join(env.work, "vsftpd-empty")
	_ = os.MkdirAll(empty, 0o755)
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pasv_enable=YES
pasv_min_port=%d
pasv_max_port=%d
max_clients=0
max_per_ip=0
idle_session_timeout=600
data_connection_timeout=300
# The container's seccomp policy kills vsftpd's own sandbox at the first LIST.
seccomp_sandbox=NO
ssl_enable=YES
rsa_cert_file=%s
rsa_private_key_file=%s
force_local_data_ssl=NO
force_local_logins_ssl=NO
require_ssl_reuse=YES
ssl_ciphers=HIGH
pam_service_name=vsftpd
secure_chroot_dir=%s
`, port, lo, hi, env.cert, env.key, empty)
	path := filepath.Join(env.work, "vsftpd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		s.skip = err.Error()
		return s
	}
	if err := s.start([]string{bin, path}, env.work); err != nil {
		s.skip = "start: " + err.Error()
	}
	return s
}

// startPureFTPd runs pure-ftpd in the foreground, unpacking Debian's package
// into the scratch directory when it is not installed (it conflicts with
// vsftpd's package).
func startPureFTPd(ctx context.Context, env *peerEnv, bin string, idx int) *server {
	s := &server{name: "pure-ftpd", user: env.user, pass: env.pass, listUser: env.user, listPass: env.pass, logPath: filepath.Join(env.work, "pure-ftpd.log")}
	if bin == "" {
		var err error
		if bin, err = findPureFTPd(ctx, env.work); err != nil {
			s.skip = err.Error()
			return s
		}
	}
	help, _ := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
	s.version, _, _ = strings.Cut(string(help), "\n")
	s.version = strings.TrimSpace(s.version)
	port, ok := env.peerPort(s)
	if !ok {
		return s
	}
	lo, hi := env.passiveRange(idx)
	argv := []string{bin,
		"-S", fmt.Sprintf("127.0.0.1,%d", port),
		"-p", fmt.Sprintf("%d:%d", lo, hi),
		"-l", "unix", // the bench user from /etc/shadow
		"-H",                       // no reverse DNS
		"-c", "1000", "-C", "1000", // clients in all and per address
		"-L", "1000000:5", // list up to a million entries (default 10000)
		"-I", "10", // idle minutes
		"-Y", "1", // TLS accepted, not required
		"-2", env.certKey,
	}
	if err := s.start(argv, env.work); err != nil {
		s.skip = "start: " + err.Error()
	}
	return s
}

// findPureFTPd returns an installed pure-ftpd, or unpacks Debian's package.
func findPureFTPd(ctx context.Context, work string) (string, error) {
	for _, p := range []string{"pure-ftpd"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin, nil
		}
	}
	if _, err := os.Stat("/usr/sbin/pure-ftpd"); err == nil {
		return "/usr/sbin/pure-ftpd", nil
	}
	dir := filepath.Join(work, "pure-ftpd-pkg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dl := exec.CommandContext(ctx, "apt-get", "download", "pure-ftpd")
	dl.Dir = dir
	if out, err := dl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("not installed, and apt-get download pure-ftpd failed: %v: %s", err, lastLine(out))
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "pure-ftpd_*.deb"))
	if len(debs) == 0 {
		return "", errors.New("apt-get download pure-ftpd left no .deb")
	}
	root := filepath.Join(dir, "root")
	if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		return "", fmt.Errorf("dpkg-deb -x: %v: %s", err, lastLine(out))
	}
	bin := filepath.Join(root, "usr/sbin/pure-ftpd")
	if _, err := os.Stat(bin); err != nil {
		return "", err
	}
	return bin, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// debVersion returns an installed Debian package's version, or "?".
func debVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "?"
	}
	return string(out)
}

// wharfUser is one user of the benchmark's wharf configuration.
type wharfUser struct{ name, hash, perms string }

// wharfConfig is the configuration every benchmark run of wharf uses: limits
// and autoban off, one passive range, TLS, and users sharing the data folder;
// a metrics listener when metrics is not "".
func wharfConfig(listen, metrics string, lo, hi int, cert, key, data, level string, users ...wharfUser) string {
	var b strings.Builder
	fmt.Fprintf(&b, `[server]
listen = [%q]
max_connections = 0
max_connections_per_ip = 0

[passive]
ports = "%d-%d"

[tls]
certificate = %q
key = %q

[autoban]
enabled = false

[log]
level = %q
`, listen, lo, hi, cert, key, level)
	if metrics != "" {
		fmt.Fprintf(&b, "\n[metrics]\nlisten = %q\n", metrics)
	}
	for _, u := range users {
		fmt.Fprintf(&b, `
[users.%s]
password = %q

[[users.%s.folders]]
mount = "/"
path = %q
permissions = [%s]
`, u.name, u.hash, u.name, data, u.perms)
	}
	return b.String()
}
