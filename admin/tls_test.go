package admin_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/admin"
)

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wharf test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestHTTPS(t *testing.T) {
	cert, pool := selfSigned(t)
	l, err := admin.Listen("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	in := serve(t, l, false, func(o *admin.Options) { o.TLS = true })
	in.base = "https://" + l.Addr().String()
	in.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{RootCAs: pool}}}

	if a := in.as(adminUser, adminPass)(t, "GET", "/api/v1/status", nil); a.code != 200 {
		t.Fatalf("status over HTTPS: %d", a.code)
	}
	a := in.form(t, "/login", nil, url.Values{"user": {adminUser}, "password": {adminPass}}, nil)
	if sc := a.header.Get("Set-Cookie"); a.code != 303 || !strings.Contains(sc, "; Secure") || !strings.Contains(sc, "; HttpOnly") || !strings.Contains(sc, "; SameSite=Strict") {
		t.Errorf("login over HTTPS: %d %q", a.code, sc)
	}
	// Plain HTTP on the TLS port gets nothing useful.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	if resp, err := c.Get("http://" + l.Addr().String() + "/api/v1/status"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered on the TLS listener")
		}
	}
	if _, err := admin.Listen("unix:/tmp/x.sock", &tls.Config{}); err == nil {
		t.Error("TLS on a unix socket accepted")
	}
}
