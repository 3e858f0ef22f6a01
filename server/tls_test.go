package server_test

import (
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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"golang.org/x/sys/unix"

	"wharf/server/servertest"
)

// tlsPKI is a throw-away certificate authority writing PEM files into dir.
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
	tlsWritePEM(t, p.caFile, "CERTIFICATE", der)
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

func tlsWritePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue signs a certificate named name and writes name.pem and name.key; server
// certificates are valid for 127.0.0.1 and localhost, client certificates carry
// name as their CN and sans as e-mail SANs.
func (p *tlsPKI) issue(t testing.TB, name string, server bool, sans ...string) (certFile, keyFile string) {
	t.Helper()
	key := tlsKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:   tlsSerial(t),
		Subject:        pkix.Name{CommonName: name},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		EmailAddresses: sans,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key")
	tlsWritePEM(t, certFile, "CERTIFICATE", der)
	tlsWritePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// clientCert loads a certificate written by issue.
func (p *tlsPKI) clientCert(t testing.TB, name string) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(p.dir, name+".pem"), filepath.Join(p.dir, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tlsConfigText is a server with explicit and implicit FTPS, alice (password,
// every permission), anonymous (read-only pub) and the [tls] lines given.
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
%s
[users.alice]
password = "{{hash}}"
%s
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
	pki *tlsPKI
}

// startTLS starts a server from tlsConfigText with the [tls] lines and alice's
// extra lines, after making a CA and a server certificate in {{dir}}/pki.
func startTLS(t testing.TB, tlsLines, aliceLines string) *tlsServer {
	t.Helper()
	dir := t.TempDir()
	pki := newTLSPKI(t, filepath.Join(dir, "pki"), "test")
	pki.issue(t, "server", true)
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
	return &tlsServer{Instance: servertest.StartFile(t, path, dir), pki: pki}
}

// goTLS is a client configuration trusting the test CA, with a session cache
// shared by the control and data connections (the key is ServerName).
func (s *tlsServer) goTLS(minV, maxV uint16) *tls.Config {
	return &tls.Config{
		RootCAs:            s.pki.pool,
		ServerName:         "127.0.0.1",
		MinVersion:         minV,
		MaxVersion:         maxV,
		ClientSessionCache: tls.NewLRUClientSessionCache(0),
	}
}

func sha(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }

var _ = bytes.Equal
var _ = io.EOF
var _ = strings.Contains
var _ = ftp.Dial

// TestTLS13UploadExperiment uploads through jlaffaye/ftp over TLS 1.3.
func TestTLS13UploadExperiment(t *testing.T) {
	for _, tc := range []struct {
		name, tlsLines, alice string
	}{
		{"cert", "min_version = \"1.3\"\nclient_ca = \"{{dir}}/pki/test-ca.pem\"\nclient_auth = \"request\"", ""},
		{"certlimited", "min_version = \"1.3\"\nclient_ca = \"{{dir}}/pki/test-ca.pem\"\nclient_auth = \"request\"", `limits = { upload = "4MB/s" }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTLS(t, tc.tlsLines, tc.alice)
			s.pki.issue(t, "alice", false)
			cfg := s.goTLS(tls.VersionTLS13, 0)
			cfg.Certificates = []tls.Certificate{s.pki.clientCert(t, "alice")}
			for _, size := range []int{0, 1, 1000, 100 << 10, 1 << 20, 3 << 20} {
				for run := 0; run < 3; run++ {
					data := make([]byte, size)
					rand.Read(data)
					r0 := outRsts(t)
					c := login(t, s.Addr, "alice", pass, ftp.DialWithExplicitTLS(cfg))
					name := fmt.Sprintf("f%d-%d", size, run)
					err := c.Stor(name, bytes.NewReader(data))
					got, _ := os.ReadFile(filepath.Join(s.Dir, "alice", name))
					t.Logf("size %d run %d: err=%v stored=%d equal=%v rsts=%d", size, run, err, len(got), bytes.Equal(got, data), outRsts(t)-r0)
					c.Quit()
				}
			}

		})
	}
}

func outRsts(t testing.TB) int {
	b, _ := os.ReadFile("/proc/net/snmp")
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "Tcp:") && i+1 < len(lines) {
			names := strings.Fields(l)
			vals := strings.Fields(lines[i+1])
			for j, n := range names {
				if n == "OutRsts" {
					var v int
					fmt.Sscan(vals[j], &v)
					return v
				}
			}
		}
	}
	return -1
}

func TestTLS13Probe(t *testing.T) {
	for _, lines := range []string{`min_version = "1.3"`, "min_version = \"1.3\"\nclient_ca = \"{{dir}}/pki/test-ca.pem\"\nclient_auth = \"request\""} {
		s := startTLS(t, lines, "")
		s.pki.issue(t, "alice", false)
		for _, withCert := range []bool{false, true} {
			cfg := s.goTLS(tls.VersionTLS13, 0)
			if withCert {
				cfg.Certificates = []tls.Certificate{s.pki.clientCert(t, "alice")}
			}
			c := dialRaw(t, s.Addr)
			c.read()
			c.upgradeTLS(cfg)
			c.login("alice", pass)
			c.expect("PBSZ 0", 200)
			c.expect("PROT P", 200)
			for i := 0; i < 3; i++ {
				raw := c.epsv()
				c.send(fmt.Sprintf("STOR p%d", i))
				c.read()
				tc := tls.Client(raw, cfg)
				if _, err := tc.Write(make([]byte, 1000)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
				sc, _ := raw.(*net.TCPConn).SyscallConn()
				var n int
				sc.Control(func(fd uintptr) { n, _ = unix.IoctlGetInt(int(fd), unix.SIOCINQ) })
				t.Logf("client_ca %v cert %v: unread bytes in kernel at close: %d resumed %v", len(lines) > 20, withCert, n, tc.ConnectionState().DidResume)
				tc.Close()
				c.read()
			}
		}
	}
}

func TestTLS13CurlExperiment(t *testing.T) {
	for _, lines := range []string{`min_version = "1.3"`, "min_version = \"1.3\"\nclient_ca = \"{{dir}}/pki/test-ca.pem\"\nclient_auth = \"request\""} {
		s := startTLS(t, lines, "")
		s.pki.issue(t, "alice", false)
		local := t.TempDir()
		for _, size := range []int{1000, 1 << 20, 8 << 20} {
			for run := 0; run < 3; run++ {
				data := randomFile(t, filepath.Join(local, "up.bin"), size)
				name := fmt.Sprintf("c%d-%d", size, run)
				args := []string{"-sS", "--max-time", "30", "--ssl-reqd", "--cacert", s.pki.caFile, "-u", "alice:" + pass, "-T", filepath.Join(local, "up.bin")}
				if len(lines) > 20 {
					args = append(args, "--cert", filepath.Join(s.pki.dir, "alice.pem"), "--key", filepath.Join(s.pki.dir, "alice.key"))
				}
				r0 := outRsts(t)
				out, err := runTool(t, "curl", append(args, "ftp://"+s.Addr+"/"+name)...)
				got, _ := os.ReadFile(filepath.Join(s.Dir, "alice", name))
				t.Logf("cert %v size %d: err=%v %s equal=%v rsts=%d", len(lines) > 20, size, err, out, bytes.Equal(got, data), outRsts(t)-r0)
				// lftp
				script := fmt.Sprintf("set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file %s; put %s -o l%s", s.pki.caFile, filepath.Join(local, "up.bin"), name)
				if len(lines) > 20 {
					script = fmt.Sprintf("set ssl:cert-file %s; set ssl:key-file %s; ", filepath.Join(s.pki.dir, "alice.pem"), filepath.Join(s.pki.dir, "alice.key")) + script
				}
				host, port, _ := strings.Cut(s.Addr, ":")
				r0 = outRsts(t)
				out, err = runTool(t, "lftp", "-c", fmt.Sprintf("set net:max-retries 1; set net:timeout 15; set cmd:fail-exit true; open -u alice,%s -p %s %s; %s", pass, port, host, script))
				got, _ = os.ReadFile(filepath.Join(s.Dir, "alice", "l"+name))
				t.Logf("lftp cert %v size %d: err=%v %s equal=%v rsts=%d", len(lines) > 20, size, err, out, bytes.Equal(got, data), outRsts(t)-r0)
			}
		}
		t.Log(s.Logs.String())
	}
}
