package server

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/internal/tlsfiles"
)

// The embedded default: what `wharf` serves with no --config. It is ordinary
// configuration text, loaded through the same path as a file.
const embeddedTemplate = `# wharf embedded default
[server]
listen = ["127.0.0.1:2121"]
banner = "wharf ready"

[passive]
ports = "50000-50099"

[tls]
certificate = %s
key = %s

[admin]
listen = "127.0.0.1:2122"

[admin.users.admin]
password = %s
role = "admin"

[users.wharf]
password = %s

[[users.wharf.folders]]
mount = "/"
path = %s
permissions = ["*"]
`

// DefaultDataDir is the folder the embedded default serves, created if missing.
const DefaultDataDir = "wharf-data"

type embedded struct {
	text        []byte
	password    string
	adminPass   string
	dataDir     string
	tmpDir      string
	certFile    string
	fingerprint string // SHA-256 of the self-signed certificate
}

func newEmbedded() (*embedded, error) {
	data, err := filepath.Abs(DefaultDataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", data, err)
	}
	tmp, err := os.MkdirTemp("", "wharf-tls-")
	if err != nil {
		return nil, err
	}
	certFile, keyFile, err := writeSelfSigned(tmp)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("generating a self-signed certificate: %w", err)
	}
	cert, err := tlsfiles.LoadKeyPair(certFile, keyFile)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	password := randomPassword()
	hash, err := auth.HashPassword(password)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	adminPass := randomPassword()
	adminHash, err := auth.HashPassword(adminPass)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	text := fmt.Sprintf(embeddedTemplate, strconv.Quote(certFile), strconv.Quote(keyFile),
		strconv.Quote(adminHash), strconv.Quote(hash), strconv.Quote(data))
	return &embedded{text: []byte(text), password: password, adminPass: adminPass, dataDir: data, tmpDir: tmp,
		certFile: certFile, fingerprint: tlsfiles.Fingerprint(&cert)}, nil
}

// randomPassword returns 20 characters from an unambiguous alphabet (about 100 bits).
func randomPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (e *embedded) announce(w io.Writer, addrs []string, ports, adminAddr string) {
	fmt.Fprintf(w, "wharf: embedded default configuration (use --config FILE for your own)\n")
	fmt.Fprintf(w, "wharf: listening on %s (FTP, explicit FTPS with a self-signed certificate), passive ports %s, folder %s\n",
		strings.Join(addrs, ", "), ports, e.dataDir)
	fmt.Fprintf(w, "wharf: self-signed certificate %s, SHA-256 fingerprint %s\n", e.certFile, e.fingerprint)
	fmt.Fprintf(w, "wharf: user=wharf password=%s\n", e.password)
	if adminAddr != "" {
		fmt.Fprintf(w, "wharf: status page http://%s/ admin=admin password=%s\n", adminAddr, e.adminPass)
	}
}

func (e *embedded) cleanup() {
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
	}
}
