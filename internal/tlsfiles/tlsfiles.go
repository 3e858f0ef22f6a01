// Package tlsfiles loads the TLS files a configuration names: the server's
// certificate and key, and a bundle of CA certificates. `wharf check` and the
// running server load them through the same functions, so a file that passes
// the check is a file the server takes.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
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
