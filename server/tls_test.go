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
		{"plain", "min_version = \"1.3\"\n[log]\nlevel = \"debug\"", ""},
		{"limited", `min_version = "1.3"`, `limits = { upload = "4MB/s" }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startTLS(t, tc.tlsLines, tc.alice)
			for _, size := range []int{0, 1, 1000, 100 << 10, 1 << 20, 3 << 20} {
				for run := 0; run < 3; run++ {
					data := make([]byte, size)
					rand.Read(data)
					c := login(t, s.Addr, "alice", pass, ftp.DialWithExplicitTLS(s.goTLS(tls.VersionTLS13, 0)))
					name := fmt.Sprintf("f%d-%d", size, run)
					err := c.Stor(name, bytes.NewReader(data))
					got, _ := os.ReadFile(filepath.Join(s.Dir, "alice", name))
					t.Logf("size %d run %d: err=%v stored=%d equal=%v", size, run, err, len(got), bytes.Equal(got, data))
					c.Quit()
				}
			}
			if tc.name == "plain" {
				t.Log(s.Logs.String())
			}
		})
	}
}
