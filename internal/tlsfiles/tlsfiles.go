// Package tlsfiles loads the TLS files a configuration names: the server's
// certificate and key, and a bundle of CA certificates. `wharf check` and the
// running server load them through the same functions, so a file that passes
// the check is a file the server takes.
package tlsfiles

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"strings"
)

// LoadKeyPair loads a PEM certificate chain and its private key.
func LoadKeyPair(certFile, keyFile string) (tls.Certificate, error) {
	return tls.LoadX509KeyPair(certFile, keyFile)
}

// ErrNoCertificate is returned by LoadCertPool for a file without a PEM certificate.
var ErrNoCertificate = errors.New("holds no PEM certificate")

// LoadCertPool loads a PEM bundle of CA certificates.
func LoadCertPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%q: %w", file, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%q %w", file, ErrNoCertificate)
	}
	return pool, nil
}

// Fingerprint returns the SHA-256 fingerprint of cert's leaf certificate as
// openssl prints it (`openssl x509 -noout -fingerprint -sha256`): uppercase
// hexadecimal pairs joined by colons; "" when cert holds no certificate.
func Fingerprint(cert *tls.Certificate) string {
	if cert == nil || len(cert.Certificate) == 0 {
		return ""
	}
	sum := sha256.Sum256(cert.Certificate[0])
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}
