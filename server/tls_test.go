package server_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// ---- a throw-away PKI ----

// tlsPKI is a certificate authority writing PEM files into dir.
type tlsPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
}

func newTLSPKI(t testing.TB, dir, name string) *tlsPKI {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key := tlsKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          tlsSerial(t),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &tlsPKI{dir: dir, ca: ca, caKey: key, caFile: filepath.Join(dir, name+"-ca.pem"), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	tlsWriteFile(t, p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return p
}

func tlsKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func tlsSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tlsWriteFile replaces a file at once (write then rename), as a certificate
// renewal should.
func tlsWriteFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// issue signs a certificate named name and writes name.pem and name.key. A
// server certificate is valid for 127.0.0.1 and localhost; a client
// certificate has name as its CN and emails as its e-mail SANs.
func (p *tlsPKI) issue(t testing.TB, name string, server bool, emails ...string) *x509.Certificate {
	t.Helper()
	key := tlsKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:   tlsSerial(t),
		Subject:        pkix.Name{CommonName: name},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		EmailAddresses: emails,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tlsWriteFile(t, p.certFile(name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	tlsWriteFile(t, p.keyFile(name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func (p *tlsPKI) certFile(name string) string { return filepath.Join(p.dir, name+".pem") }
func (p *tlsPKI) keyFile(name string) string  { return filepath.Join(p.dir, name+".key") }

// pair loads a certificate written by issue.
func (p *tlsPKI) pair(t testing.TB, name string) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(p.certFile(name), p.keyFile(name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ---- a server with explicit and implicit FTPS ----

// tlsConfigText has explicit and implicit FTPS, metrics, alice (password, every
// permission) and anonymous (read-only). %[1]s are [tls] lines, %[2]s lines of
// [users.alice].
const tlsConfigText = `
[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[metrics]
listen = "127.0.0.1:0"
[tls]
certificate = "{{dir}}/pki/server.pem"
key = "{{dir}}/pki/server.key"
implicit_listen = ["127.0.0.1:0"]
%[1]s
[users.alice]
password = "{{hash}}"
%[2]s
[[users.alice.folders]]
mount = "/"
path = "{{dir}}/alice"
permissions = ["*"]
[users.anonymous]
anonymous = true
[[users.anonymous.folders]]
mount = "/"
path = "{{dir}}/pub"
permissions = ["list", "read"]
`

// tlsServer is a running server with its certificate authority.
type tlsServer struct {
	*servertest.Instance
	pki        *tlsPKI
	serverCert *x509.Certificate
}

// startTLS makes a CA and a server certificate in {{dir}}/pki, then starts a
// server from tlsConfigText.
func startTLSServer(t testing.TB, tlsLines, aliceLines string) *tlsServer {
	t.Helper()
	dir := t.TempDir()
	pki := newTLSPKI(t, filepath.Join(dir, "pki"), "test")
	cert := pki.issue(t, "server", true)
	for _, d := range []string{"alice", "pub"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "pub/readme.txt"), "public\n")
	path := filepath.Join(dir, "wharf.toml")
	text := servertest.Expand(t, fmt.Sprintf(tlsConfigText, tlsLines, aliceLines), dir)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tlsServer{Instance: servertest.StartFile(t, path, dir), pki: pki, serverCert: cert}
}

// goTLS trusts the test CA and caches sessions under ServerName, so that data
// connections resume the control connection's session (Go's cache key is
// ServerName, or else the address and port, which differ on data connections).
func (s *tlsServer) goTLS(maxVersion uint16) *tls.Config {
	return &tls.Config{
		RootCAs:            s.pki.pool,
		ServerName:         "127.0.0.1",
		MaxVersion:         maxVersion,
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
}

// metric returns the value of one series of /metrics.
func (s *tlsServer) metric(t testing.TB, series string) float64 {
	t.Helper()
	return metricValue(t, s.Metrics, series)
}

func tlsSeries(mode, result string) string {
	return fmt.Sprintf(`wharf_tls_handshakes_total{mode=%q,result=%q}`, mode, result)
}

// waitLog waits until the server log contains every one of parts on one line.
func (s *tlsServer) waitLog(t testing.TB, parts ...string) {
	t.Helper()
	servertest.WaitFor(t, 10*time.Second, fmt.Sprintf("a log line with %q", parts), func() bool {
		for _, line := range strings.Split(s.Logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		return false
	})
}

// edit replaces old by new in the configuration file and reloads it.
func (s *tlsServer) edit(t testing.TB, old, new string) error {
	t.Helper()
	b, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%q not in the configuration", old)
	}
	if err := os.WriteFile(s.ConfigPath, bytes.ReplaceAll(b, []byte(old), []byte(new)), 0o600); err != nil {
		t.Fatal(err)
	}
	return s.Srv.Reload()
}

// haveTool reports whether a client program is installed, logging the Debian
// package to install when it is not.
func haveTool(t testing.TB, name, pkg string) bool {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Logf("part skipped: %s not installed (Debian package %s)", name, pkg)
		return false
	}
	return true
}

// ---- raw transcripts over TLS ----

// explicitRaw connects, reads the greeting and performs AUTH TLS with cfg.
func (s *tlsServer) explicitRaw(t testing.TB, cfg *tls.Config) *rawConn {
	t.Helper()
	c := dialRaw(t, s.Addr)
	c.read()
	c.upgradeTLS(cfg)
	return c
}

// implicitRaw connects to the implicit listener and reads the greeting.
func (s *tlsServer) implicitRaw(t testing.TB, cfg *tls.Config) *rawConn {
	t.Helper()
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Implicit, cfg)
	if err != nil {
		t.Fatalf("implicit handshake: %v", err)
	}
	t.Cleanup(func() { tc.Close() })
	c := &rawConn{t: t, conn: tc, r: bufio.NewReader(tc)}
	if code, msg := c.read(); code != 220 {
		t.Fatalf("greeting: %q", msg)
	}
	return c
}

// tlsTransfer sends cmd (RETR or STOR) over a passive data connection, in TLS
// with cfg when it is not nil, and returns the final reply and the bytes read.
func (c *rawConn) tlsTransfer(cfg *tls.Config, cmd string, upload []byte) (int, string, []byte) {
	c.t.Helper()
	var data net.Conn = c.epsv()
	c.send(cmd)
	if code, msg := c.read(); code != 150 {
		return code, msg, nil
	}
	if cfg != nil {
		data = tls.Client(data, cfg)
	}
	_ = data.SetDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	if upload != nil {
		_, _ = data.Write(upload)
	} else {
		got, _ = io.ReadAll(data)
	}
	data.Close()
	code, msg := c.read()
	return code, msg, got
}

// ---- policies ----

// TestTLSPolicies drives each [tls] require value and require_tls with raw
// transcripts, for alice and for anonymous, in clear and in TLS.
func TestTLSPolicies(t *testing.T) {
	t.Parallel()
	type step struct {
		user     string
		tls      bool
		wantUSER int    // reply to USER
		wantText string // in the USER refusal
		protC    int    // reply ending a PROT C download after login (421 is ftpserverlib's refusal)
	}
	for _, tc := range []struct {
		name, tlsLines, aliceLines string
		steps                      []step
	}{
		{"none", `require = "none"`, "", []step{
			{user: "alice", wantUSER: 331, protC: 226},
			{user: "alice", tls: true, wantUSER: 331, protC: 226},
			{user: "anonymous", wantUSER: 331, protC: 226},
		}},
		{"login", `require = "login"`, "", []step{
			{user: "alice", wantUSER: 530, wantText: "TLS is required"},
			{user: "anonymous", wantUSER: 530, wantText: "TLS is required"},
			{user: "ftp", wantUSER: 530, wantText: "TLS is required"},
			{user: "nobody", wantUSER: 530, wantText: "TLS is required"},
			{user: "alice", tls: true, wantUSER: 331, protC: 226},
			{user: "anonymous", tls: true, wantUSER: 331, protC: 226},
		}},
		{"all", `require = "all"`, "", []step{
			{user: "alice", wantUSER: 530, wantText: "TLS is required"},
			{user: "anonymous", wantUSER: 530, wantText: "TLS is required"},
			{user: "alice", tls: true, wantUSER: 331, protC: 421},
			{user: "anonymous", tls: true, wantUSER: 331, protC: 421},
		}},
		{"require_tls", `require = "none"`, "require_tls = true", []step{
			{user: "alice", wantUSER: 530, wantText: "must log in over TLS"},
			{user: "alice", tls: true, wantUSER: 331, protC: 226},
			{user: "anonymous", wantUSER: 331, protC: 226},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTLSServer(t, tc.tlsLines, tc.aliceLines)
			writeFile(t, filepath.Join(s.Dir, "alice/readme.txt"), "public\n")
			for _, st := range tc.steps {
				var c *rawConn
				cfg := s.goTLS(0)
				if st.tls {
					c = s.explicitRaw(t, cfg)
				} else {
					c = dialRaw(t, s.Addr)
					c.read()
				}
				code, msg := c.cmd("USER " + st.user)
				if code != st.wantUSER || !strings.Contains(msg, st.wantText) {
					t.Fatalf("%+v: USER: %q", st, msg)
				}
				if code == 530 {
					// Refused before any password: the server closes at once.
					if _, _, err := c.tryRead(); err == nil {
						t.Fatalf("%+v: connection still open after the refusal", st)
					}
					continue
				}
				c.expect("PASS "+pass, 230)
				if st.tls {
					c.expect("PBSZ 0", 200)
					c.expect("PROT P", 200)
					if code, msg, got := c.tlsTransfer(cfg, "RETR readme.txt", nil); code != 226 || string(got) != "public\n" {
						t.Fatalf("%+v: PROT P download: %q %q", st, msg, got)
					}
					c.expect("PROT C", 200)
				}
				code, msg, _ = c.tlsTransfer(nil, "RETR readme.txt", nil)
				if code != st.protC {
					t.Fatalf("%+v: PROT C download: %q, want %d", st, msg, st.protC)
				}
				if code == 421 && !strings.Contains(msg, "TLS is required") {
					t.Fatalf("%+v: PROT C refusal says %q", st, msg)
				}
				c.cmd("QUIT")
			}
			// A PASS before any USER, in clear, is refused without a check.
			if tc.name == "login" {
				c := dialRaw(t, s.Addr)
				c.read()
				if code, msg := c.cmd("PASS " + pass); code != 530 || !strings.Contains(msg, "TLS is required") {
					t.Fatalf("PASS in clear: %q", msg)
				}
			}
			if strings.Contains(s.Logs.String(), `msg="login failed"`) {
				t.Fatalf("a password was checked in clear:\n%s", s.Logs.String())
			}
		})
	}
}

// ---- real clients, explicit and implicit, TLS 1.2 and 1.3 ----

// pyFTPS is Python's ftplib driven the way a careful script would: FTP_TLS,
// with implicit TLS by a subclass, and session reuse on data connections by a
// subclass that hands the control connection's session to wrap_socket.
const pyFTPS = `
import ftplib, socket, ssl, sys
mode, host, port, cafile, user, pw, reuse, maxver, src, name, dst = sys.argv[1:12]
ctx = ssl.create_default_context(cafile=cafile)
if maxver == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2

class Reuse(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.sock.session if reuse == "yes" else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size

class Implicit(Reuse):
    def connect(self, host, port, timeout=30):
        self.host, self.port = host, port
        sock = socket.create_connection((host, port), timeout)
        self.af = sock.family
        self.sock = self.context.wrap_socket(sock, server_hostname=host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

ftp = (Implicit if mode == "implicit" else Reuse)(context=ctx, timeout=30)
ftp.connect(host, int(port))
ftp.login(user, pw)
ftp.prot_p()
try:
    with open(src, "rb") as f:
        ftp.storbinary("STOR " + name, f)
    with open(dst, "wb") as f:
        ftp.retrbinary("RETR " + name, f.write)
    print("ok", ftp.sock.version())
except OSError as e:
    print("data connection failed:", e)
    try:
        print("reply:", ftp.getresp())
    except ftplib.Error as e:
        print("reply:", e)
    sys.exit(3)
`

// runPython runs pyFTPS and returns its output.
func (s *tlsServer) runPython(t *testing.T, mode, reuse, maxVer, src, name, dst string) (string, error) {
	t.Helper()
	needTool(t, "python3", "python3")
	script := filepath.Join(t.TempDir(), "ftps.py")
	if err := os.WriteFile(script, []byte(pyFTPS), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr
	if mode == "implicit" {
		addr = s.Implicit
	}
	host, port := hostPort(t, addr)
	return runTool(t, "python3", script, mode, host, port, s.pki.caFile, "alice", pass, reuse, maxVer, src, name, dst)
}

// curlArgs are curl's arguments for an FTPS URL of path in mode (explicit or
// implicit) with TLS at most maxVer ("" = curl's best).
func (s *tlsServer) curlArgs(mode, maxVer, path string, extra ...string) []string {
	args := []string{"-sS", "--max-time", "60", "--cacert", s.pki.caFile, "-u", "alice:" + pass}
	if maxVer != "" {
		args = append(args, "--tls-max", maxVer)
	}
	url := "ftp://" + s.Addr + "/" + path
	if mode == "implicit" {
		url = "ftps://" + s.Implicit + "/" + path
	} else {
		args = append(args, "--ssl-reqd")
	}
	return append(append(args, extra...), url)
}

// lftpArgs run script in lftp over FTPS in mode with TLS at most maxVer.
func (s *tlsServer) lftpArgs(t *testing.T, mode, maxVer, script string) []string {
	t.Helper()
	settings := "set net:max-retries 1; set net:timeout 15; set net:reconnect-interval-base 1; set cmd:fail-exit true; " +
		"set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file " + s.pki.caFile + "; "
	if maxVer == "1.2" {
		settings += `set ssl:priority "NORMAL:-VERS-TLS1.3"; `
	}
	host, port := hostPort(t, s.Addr)
	open := fmt.Sprintf("open -u alice,%s -p %s %s; ", pass, port, host)
	if mode == "implicit" {
		open = fmt.Sprintf("open -u alice,%s ftps://%s; ", pass, s.Implicit)
	}
	return []string{"-c", settings + open + script}
}

// TestTLSClients has curl, lftp, Go (jlaffaye/ftp) and Python's ftplib upload
// and download over explicit and implicit FTPS, TLS 1.2 and 1.3, with
// session_reuse = "required": every data connection resumed its session.
func TestTLSClients(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, `session_reuse = "required"`, "")
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "up.bin"), 300<<10)
	refusedData := 0 // data connections refused for want of session reuse
	check := func(t *testing.T, name string) {
		t.Helper()
		if got, err := os.ReadFile(filepath.Join(s.Dir, "alice", name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("uploaded %s differs (%v)", name, err)
		}
		if got, err := os.ReadFile(filepath.Join(local, name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("downloaded %s differs (%v)", name, err)
		}
	}
	for _, mode := range []string{"explicit", "implicit"} {
		for _, ver := range []string{"1.2", "1.3"} {
			name := func(client string) string { return client + "-" + mode + "-" + ver + ".bin" }
			t.Run("curl/"+mode+"/"+ver, func(t *testing.T) {
				needTool(t, "curl", "curl")
				n := name("curl")
				if ver == "1.2" {
					// curl's OpenSSL backend turns session tickets off in TLS 1.2
					// and offers session IDs, which Go's TLS server does not
					// resume: its data connections are refused, with the reason
					// in the log. TLS 1.3 (curl's default) resumes.
					out, err := runTool(t, "curl", s.curlArgs(mode, ver, n, "-T", filepath.Join(local, "up.bin"))...)
					if err == nil {
						t.Fatalf("curl --tls-max 1.2 resumed its session?\n%s", out)
					}
					refusedData++
					return
				}
				if out, err := runTool(t, "curl", s.curlArgs(mode, "", n, "-T", filepath.Join(local, "up.bin"))...); err != nil {
					t.Fatalf("curl upload: %v\n%s", err, out)
				}
				if out, err := runTool(t, "curl", s.curlArgs(mode, "", n, "-o", filepath.Join(local, n))...); err != nil {
					t.Fatalf("curl download: %v\n%s", err, out)
				}
				check(t, n)
			})
			t.Run("lftp/"+mode+"/"+ver, func(t *testing.T) {
				needTool(t, "lftp", "lftp")
				n := name("lftp")
				script := fmt.Sprintf("put %s -o %s; get %s -o %s", filepath.Join(local, "up.bin"), n, n, filepath.Join(local, n))
				if out, err := runTool(t, "lftp", s.lftpArgs(t, mode, ver, script)...); err != nil {
					t.Fatalf("lftp: %v\n%s", err, out)
				}
				check(t, n)
			})
			t.Run("go/"+mode+"/"+ver, func(t *testing.T) {
				n := name("go")
				maxVersion := uint16(tls.VersionTLS12)
				if ver == "1.3" {
					maxVersion = tls.VersionTLS13
				}
				opt, addr := ftp.DialWithExplicitTLS(s.goTLS(maxVersion)), s.Addr
				if mode == "implicit" {
					opt, addr = ftp.DialWithTLS(s.goTLS(maxVersion)), s.Implicit
				}
				c := login(t, addr, "alice", pass, opt)
				if err := c.Stor(n, bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
				r, err := c.Retr(n)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(local, n), string(got))
				check(t, n)
			})
			t.Run("python/"+mode+"/"+ver, func(t *testing.T) {
				n := name("python")
				out, err := s.runPython(t, mode, "yes", ver, filepath.Join(local, "up.bin"), n, filepath.Join(local, n))
				if err != nil || !strings.HasPrefix(out, "ok TLSv"+ver) {
					t.Fatalf("python: %v\n%s", err, out)
				}
				check(t, n)
			})
		}
	}
	if v := s.metric(t, tlsSeries("data", "failed")); v != float64(refusedData) {
		t.Fatalf("%v data handshakes failed, want %d", v, refusedData)
	}
	if refusedData > 0 {
		s.waitLog(t, "tls handshake refused", "tls_mode=data", "no session resumption")
	}
}

// ---- session reuse ----

// TestTLSSessionReuse checks that session_reuse = "required" refuses data
// connections that open a new TLS session, with a reason in the reply and in
// the log, and that "none" accepts them.
func TestTLSSessionReuse(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, `session_reuse = "required"`, "")
	local := t.TempDir()
	randomFile(t, filepath.Join(local, "up.bin"), 10<<10)
	writeFile(t, filepath.Join(s.Dir, "alice/readme.txt"), "hello\n")

	// A Go client whose data connections do not resume: no session cache.
	for _, ver := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := s.goTLS(ver)
		c := s.explicitRaw(t, cfg)
		c.login("alice", pass)
		c.expect("PBSZ 0", 200)
		c.expect("PROT P", 200)
		if code, msg, got := c.tlsTransfer(cfg, "RETR readme.txt", nil); code != 226 || string(got) != "hello\n" {
			t.Fatalf("resumed data connection: %q %q", msg, got)
		}
		fresh := s.goTLS(ver)
		fresh.ClientSessionCache = nil
		code, msg, got := c.tlsTransfer(fresh, "RETR readme.txt", nil)
		if code < 400 || !strings.Contains(msg, "TLS session reuse required") || len(got) != 0 {
			t.Fatalf("TLS %x, new session on the data connection: %d %q, %d bytes", ver, code, msg, len(got))
		}
		// The session goes on.
		if code, msg, _ := c.tlsTransfer(cfg, "RETR readme.txt", nil); code != 226 {
			t.Fatalf("after a refusal: %q", msg)
		}
	}
	s.waitLog(t, "tls handshake refused", "tls_mode=data", "remote=127.0.0.1", "no session resumption")

	// Python's ftplib as shipped does not pass the control session on.
	if haveTool(t, "python3", "python3") {
		out, err := s.runPython(t, "explicit", "no", "", filepath.Join(local, "up.bin"), "py.bin", filepath.Join(local, "py.bin"))
		if err == nil || !strings.Contains(out, "TLS session reuse required") {
			t.Fatalf("python without session reuse: %v\n%s", err, out)
		}
	}
	// curl told not to reuse sessions.
	if haveTool(t, "curl", "curl") {
		if out, err := runTool(t, "curl", s.curlArgs("explicit", "", "readme.txt", "--no-sessionid")...); err == nil {
			t.Fatalf("curl --no-sessionid succeeded:\n%s", out)
		}
	}
	if v := s.metric(t, tlsSeries("data", "failed")); v < 2 {
		t.Fatalf("data handshakes failed = %v, want at least 2", v)
	}

	// session_reuse = "none" accepts them, after a reload.
	if err := s.edit(t, `session_reuse = "required"`, `session_reuse = "none"`); err != nil {
		t.Fatal(err)
	}
	cfg := s.goTLS(0)
	c := s.explicitRaw(t, cfg)
	c.login("alice", pass)
	c.expect("PBSZ 0", 200)
	c.expect("PROT P", 200)
	fresh := s.goTLS(0)
	fresh.ClientSessionCache = nil
	if code, msg, got := c.tlsTransfer(fresh, "RETR readme.txt", nil); code != 226 || string(got) != "hello\n" {
		t.Fatalf("session_reuse = none, new session on the data connection: %q %q", msg, got)
	}
	if haveTool(t, "curl", "curl") {
		if out, err := runTool(t, "curl", s.curlArgs("explicit", "1.2", "readme.txt")...); err != nil || out != "hello\n" {
			t.Fatalf("curl --tls-max 1.2, session_reuse = none: %v %q", err, out)
		}
	}
	if haveTool(t, "python3", "python3") {
		out, err := s.runPython(t, "explicit", "no", "", filepath.Join(local, "up.bin"), "py.bin", filepath.Join(local, "py.bin"))
		if err != nil || !strings.HasPrefix(out, "ok") {
			t.Fatalf("python without session reuse, session_reuse = none: %v\n%s", err, out)
		}
	}
}

// ---- protocol versions ----

// TestTLSMinVersion refuses TLS 1.2-only clients with min_version = "1.3", on
// both listeners, and clients with legacy cipher suites only, and says why in
// the log.
func TestTLSMinVersion(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, `min_version = "1.3"`, "")
	old := s.goTLS(tls.VersionTLS12)

	c := dialRaw(t, s.Addr)
	c.read()
	c.expect("AUTH TLS", 234)
	if err := tls.Client(c.conn, old).Handshake(); err == nil {
		t.Fatal("explicit TLS 1.2 handshake succeeded")
	}
	if _, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Implicit, old); err == nil {
		t.Fatal("implicit TLS 1.2 handshake succeeded")
	}
	s.waitLog(t, "tls handshake refused", "tls_mode=explicit", "client offers at most TLS 1.2, min_version is TLS 1.3")
	s.waitLog(t, "tls handshake refused", "tls_mode=implicit", "client offers at most TLS 1.2")
	if haveTool(t, "curl", "curl") {
		if out, err := runTool(t, "curl", s.curlArgs("explicit", "1.2", "")...); err == nil {
			t.Fatalf("curl --tls-max 1.2 succeeded:\n%s", out)
		}
	}
	// Legacy suites only (CBC, no forward secrecy): refused, with the reason.
	s2 := startTLSServer(t, "", "")
	legacy := s2.goTLS(tls.VersionTLS12)
	legacy.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
	if _, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s2.Implicit, legacy); err == nil {
		t.Fatal("a handshake with legacy suites only succeeded")
	}
	s2.waitLog(t, "tls handshake refused", "no cipher suite in common")

	// TLS 1.3 works, and the refused ones were counted.
	s.explicitRaw(t, s.goTLS(0)).login("alice", pass)
	s.implicitRaw(t, s.goTLS(0)).login("alice", pass)
	servertest.WaitFor(t, 5*time.Second, "failed handshakes counted", func() bool {
		return s.metric(t, tlsSeries("explicit", "failed")) == 2 && s.metric(t, tlsSeries("implicit", "failed")) == 1
	})
}

// ---- certificates ----

// peerSerial returns the serial of the certificate a new explicit connection sees.
func (s *tlsServer) peerSerial(t testing.TB) string {
	t.Helper()
	c := s.explicitRaw(t, s.goTLS(0))
	defer c.conn.Close()
	return c.conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// TestTLSCertificateReload swaps the certificate under a reload and on disk: a
// new connection sees the new one at once, a session already open keeps
// transferring (its data connections still resume), and a broken certificate
// keeps the old one and logs an error.
func TestTLSCertificateReload(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, `session_reuse = "required"`, "")
	old := s.goTLS(0)
	sess := login(t, s.Addr, "alice", pass, ftp.DialWithExplicitTLS(old))
	roundTrip := func(step string) {
		t.Helper()
		body := "written " + step
		if err := sess.Stor("keep.txt", strings.NewReader(body)); err != nil {
			t.Fatalf("%s: upload in the old session: %v", step, err)
		}
		r, err := sess.Retr("keep.txt")
		if err != nil {
			t.Fatalf("%s: download in the old session: %v", step, err)
		}
		got, _ := io.ReadAll(r)
		r.Close()
		if string(got) != body {
			t.Fatalf("%s: read back %q", step, got)
		}
	}
	roundTrip("before")
	if got := s.peerSerial(t); got != s.serverCert.SerialNumber.String() {
		t.Fatalf("first certificate: serial %s", got)
	}

	// A renewal under SIGHUP (Reload is what SIGHUP runs): new files named in
	// the configuration.
	renewed := s.pki.issue(t, "renewed", true)
	if err := s.edit(t, "pki/server.", "pki/renewed."); err != nil {
		t.Fatal(err)
	}
	if got := s.peerSerial(t); got != renewed.SerialNumber.String() {
		t.Fatalf("after the reload: serial %s, want the renewed %s", got, renewed.SerialNumber)
	}
	roundTrip("after the reload")

	// A broken certificate under SIGHUP: the reload is rejected, the renewed
	// certificate stays.
	writeFile(t, filepath.Join(s.Dir, "pki/broken.pem"), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
	if err := s.edit(t, "pki/renewed.pem", "pki/broken.pem"); err == nil {
		t.Fatal("a reload with a broken certificate succeeded")
	}
	s.waitLog(t, "level=ERROR", "reload rejected", "broken.pem")
	if got := s.peerSerial(t); got != renewed.SerialNumber.String() {
		t.Fatalf("after a rejected reload: serial %s", got)
	}
	roundTrip("after a rejected reload")
	if err := s.edit(t, "pki/broken.pem", "pki/renewed.pem"); err != nil {
		t.Fatal(err)
	}

	// A renewal on disk, without a signal: the files named in the
	// configuration are replaced.
	again := s.pki.issue(t, "again", true)
	for _, f := range []string{"pem", "key"} {
		b, err := os.ReadFile(filepath.Join(s.pki.dir, "again."+f))
		if err != nil {
			t.Fatal(err)
		}
		tlsWriteFile(t, filepath.Join(s.pki.dir, "renewed."+f), b)
	}
	servertest.WaitFor(t, 10*time.Second, "the certificate renewed on disk", func() bool {
		return s.peerSerial(t) == again.SerialNumber.String()
	})
	s.waitLog(t, "tls certificate reloaded from disk")
	roundTrip("after a renewal on disk")

	// A broken file on disk: logged, the last good certificate stays.
	tlsWriteFile(t, filepath.Join(s.pki.dir, "renewed.pem"), []byte("garbage"))
	servertest.WaitFor(t, 10*time.Second, "the broken file reported", func() bool {
		if s.peerSerial(t) != again.SerialNumber.String() {
			t.Fatal("a broken certificate file replaced the good one")
		}
		return strings.Contains(s.Logs.String(), "tls certificate changed on disk but does not load")
	})
	roundTrip("after a broken file on disk")
	if v := s.metric(t, tlsSeries("data", "failed")); v != 0 {
		t.Fatalf("%v data handshakes failed", v)
	}
}

// TestTLSClientCertificates covers client_ca with client_auth and
// tls_certificate_login.
func TestTLSClientCertificates(t *testing.T) {
	t.Parallel()
	lines := "client_ca = \"{{dir}}/pki/test-ca.pem\"\nclient_auth = \"%s\""
	t.Run("require", func(t *testing.T) {
		s := startTLSServer(t, fmt.Sprintf(lines, "require"), "")
		s.pki.issue(t, "alice", false)
		other := newTLSPKI(t, filepath.Join(s.Dir, "other"), "other")
		other.issue(t, "alice", false)

		// No certificate, or one from another CA: refused, with the reason logged.
		foreign := other.pair(t, "alice")
		for i, cert := range []*tls.Certificate{nil, &foreign} {
			cfg := s.goTLS(0)
			if cert != nil {
				// Sent even though the server names another CA.
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
			}
			tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.Implicit, cfg)
			if err == nil {
				// TLS 1.3: the client learns of the refusal at its first read.
				_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = tc.Read(make([]byte, 100))
				tc.Close()
			}
			if err == nil {
				t.Fatalf("case %d: handshake accepted", i)
			}
		}
		s.waitLog(t, "tls handshake refused", "remote=127.0.0.1", "a client certificate is required")
		s.waitLog(t, "tls handshake refused", "client certificate not trusted")

		// A good certificate without tls_certificate_login: the password is
		// still required.
		cfg := s.goTLS(0)
		cfg.Certificates = []tls.Certificate{s.pki.pair(t, "alice")}
		c := s.explicitRaw(t, cfg)
		c.expect("USER alice", 331)
		c.expect("PASS wrong", 530)
		c = s.implicitRaw(t, cfg)
		c.login("alice", pass)
		c.expect("PBSZ 0", 200)
		c.expect("PROT P", 200)
		if code, msg, _ := c.tlsTransfer(cfg, "STOR up.txt", []byte("with a certificate\n")); code != 226 {
			t.Fatalf("upload: %q", msg)
		}
	})
	t.Run("certificate login", func(t *testing.T) {
		s := startTLSServer(t, fmt.Sprintf(lines, "request"), "tls_certificate_login = true")
		s.pki.issue(t, "alice", false)
		s.pki.issue(t, "bob", false)
		s.pki.issue(t, "someone", false, "alice")
		for _, tc := range []struct {
			cert string
			want int
		}{
			{"alice", 230},   // CN
			{"someone", 230}, // e-mail SAN
			{"bob", 331},     // another name: password needed
			{"", 331},        // no certificate (request): password needed
		} {
			cfg := s.goTLS(0)
			if tc.cert != "" {
				cfg.Certificates = []tls.Certificate{s.pki.pair(t, tc.cert)}
			}
			c := s.explicitRaw(t, cfg)
			if code, msg := c.cmd("USER alice"); code != tc.want || (code == 230 && !strings.Contains(msg, "certificate")) {
				t.Fatalf("certificate %q: USER alice: %q, want %d", tc.cert, msg, tc.want)
			}
			if tc.want == 331 {
				c.expect("PASS "+pass, 230)
			}
			c.expect("PWD", 257)
		}
		// curl logs in with its certificate and no password.
		needTool(t, "curl", "curl")
		writeFile(t, filepath.Join(s.Dir, "alice/hello.txt"), "hello\n")
		args := []string{"-sS", "--max-time", "30", "--ssl-reqd", "--cacert", s.pki.caFile,
			"--cert", s.pki.certFile("alice"), "--key", s.pki.keyFile("alice"), "-u", "alice:", "ftp://" + s.Addr + "/hello.txt"}
		if out, err := runTool(t, "curl", args...); err != nil || out != "hello\n" {
			t.Fatalf("curl with a certificate: %v %q", err, out)
		}
	})
}

// ---- a large transfer ----

// TestTLSLargeTransfer moves 64 MiB each way over PROT P with curl and compares
// SHA-256 sums.
func TestTLSLargeTransfer(t *testing.T) {
	t.Parallel()
	needTool(t, "curl", "curl")
	s := startTLSServer(t, `session_reuse = "required"`, "")
	local := t.TempDir()
	data := randomFile(t, filepath.Join(local, "big.bin"), 64<<20)
	want := sha256.Sum256(data)
	if out, err := runTool(t, "curl", s.curlArgs("explicit", "", "big.bin", "-T", filepath.Join(local, "big.bin"))...); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(s.Dir, "alice/big.bin")); err != nil || sha256.Sum256(got) != want {
		t.Fatalf("uploaded file differs (%v)", err)
	}
	if out, err := runTool(t, "curl", s.curlArgs("implicit", "", "big.bin", "-o", filepath.Join(local, "back.bin"))...); err != nil {
		t.Fatalf("download: %v\n%s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(local, "back.bin")); err != nil || sha256.Sum256(got) != want {
		t.Fatalf("downloaded file differs (%v)", err)
	}
}

// ---- metrics ----

// TestTLSHandshakeMetrics counts one successful and one failed handshake of
// each mode.
func TestTLSHandshakeMetrics(t *testing.T) {
	t.Parallel()
	s := startTLSServer(t, `session_reuse = "required"`, "")
	writeFile(t, filepath.Join(s.Dir, "alice/readme.txt"), "hello\n")
	untrusting := &tls.Config{ServerName: "127.0.0.1", RootCAs: x509.NewCertPool()}

	cfg := s.goTLS(0)
	c := s.explicitRaw(t, cfg) // explicit ok
	c.login("alice", pass)
	c.expect("PBSZ 0", 200)
	c.expect("PROT P", 200)
	if code, msg, _ := c.tlsTransfer(cfg, "RETR readme.txt", nil); code != 226 { // data ok
		t.Fatalf("RETR: %q", msg)
	}
	fresh := s.goTLS(0)
	fresh.ClientSessionCache = nil
	if code, _, _ := c.tlsTransfer(fresh, "RETR readme.txt", nil); code < 400 { // data failed
		t.Fatal("a data connection without resumption was accepted")
	}
	s.implicitRaw(t, s.goTLS(0)) // implicit ok

	// explicit failed: a TLS 1.2 client that does not trust the certificate
	// (a TLS 1.3 one refuses it after the server's last word; see verify).
	untrusting12 := untrusting.Clone()
	untrusting12.MaxVersion = tls.VersionTLS12
	raw := dialRaw(t, s.Addr)
	raw.read()
	raw.expect("AUTH TLS", 234)
	if err := tls.Client(raw.conn, untrusting12).Handshake(); err == nil {
		t.Fatal("untrusting client: handshake succeeded")
	}
	raw.conn.Close()
	if _, err := tls.Dial("tcp", s.Implicit, untrusting); err == nil { // implicit failed
		t.Fatal("untrusting implicit client: handshake succeeded")
	}
	// A connection that never starts TLS is no failed handshake.
	if nc, err := net.Dial("tcp", s.Implicit); err == nil {
		nc.Close()
	}

	want := map[string]float64{}
	for _, mode := range []string{"explicit", "implicit", "data"} {
		want[tlsSeries(mode, "ok")] = 1
		want[tlsSeries(mode, "failed")] = 1
	}
	servertest.WaitFor(t, 10*time.Second, "handshake counts", func() bool {
		for series, v := range want {
			if got := s.metric(t, series); got != v {
				t.Logf("%s = %v, want %v", series, got, v)
				return false
			}
		}
		return true
	})
	s.waitLog(t, "tls handshake failed", "tls_mode=implicit", "remote=127.0.0.1", "remote error")
	s.waitLog(t, "tls handshake failed", "tls_mode=explicit", "remote=127.0.0.1")
}

// ---- TLS 1.3 uploads through jlaffaye/ftp ----

// TestTLS13GoClientUploads uploads through jlaffaye/ftp over TLS 1.3, which
// closes the data connection without reading what the server sent after the
// handshake (the session ticket). Nothing may be lost, with and without a
// client certificate (whose session makes a large ticket), with and without an
// upload limit (a slow reader leaves data in the client's socket).
func TestTLS13GoClientUploads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, alice string
		cert        bool
	}{
		{"plain", "", false},
		{"client certificate", "", true},
		{"client certificate, upload limit", `limits = { upload = "20MB/s" }`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTLSServer(t, "min_version = \"1.3\"\nclient_ca = \"{{dir}}/pki/test-ca.pem\"\nclient_auth = \"request\"", tc.alice)
			cfg := s.goTLS(0)
			if tc.cert {
				s.pki.issue(t, "alice", false)
				cfg.Certificates = []tls.Certificate{s.pki.pair(t, "alice")}
			}
			c := login(t, s.Addr, "alice", pass, ftp.DialWithExplicitTLS(cfg))
			for _, size := range []int{0, 1, 16 << 10, 1 << 20, 3 << 20} {
				for run := range 3 {
					data := make([]byte, size)
					_, _ = rand.Read(data)
					name := fmt.Sprintf("up-%d-%d", size, run)
					if err := c.Stor(name, bytes.NewReader(data)); err != nil {
						t.Fatalf("%d bytes, run %d: %v", size, run, err)
					}
					if got, err := os.ReadFile(filepath.Join(s.Dir, "alice", name)); err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%d bytes, run %d: stored %d bytes (%v)", size, run, len(got), err)
					}
				}
			}
		})
	}
}
