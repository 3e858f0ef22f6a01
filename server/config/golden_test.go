package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/check/*.golden from the current output")

// The golden cases: testdata/check/CASE.toml is checked and the output (every
// problem, one per line, or the warnings and the summary line of a valid file) must equal
// CASE.golden. In the .toml, @TMP@ stands for a temporary directory holding
// the fixtures of writeFixtures; it is written back as @TMP@ in the output. A
// first line "# options: skip-path-checks" sets Options.SkipPathChecks.
func TestCheckGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "check", "*.toml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	tmp := t.TempDir()
	writeFixtures(t, tmp)
	for _, file := range cases {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".toml"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{SkipPathChecks: strings.HasPrefix(string(data), "# options: skip-path-checks")}
			data = []byte(strings.ReplaceAll(string(data), "@TMP@", tmp))
			var got string
			cfg, err := Parse(name, data, opt)
			switch {
			case err != nil && cfg != nil:
				t.Fatalf("Parse returned both a config and an error")
			case err != nil:
				if _, ok := err.(Errors); !ok {
					t.Fatalf("error is a %T, not Errors", err)
				}
				got = err.Error() + "\n"
			default:
				for _, w := range cfg.Warnings {
					got += w.Error() + "\n"
				}
				got += cfg.Summary() + "\n"
			}
			got = strings.ReplaceAll(got, tmp, "@TMP@")
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\n--- got:\n%s--- want:\n%s", golden, got, want)
			}
		})
	}
}

// writeFixtures writes into dir: cert.pem and key.pem (a matching pair),
// other-key.pem (another key), ca.pem (a certificate), empty.pem (no PEM
// block), data/ and data2/ (directories) and file.txt (a regular file).
func writeFixtures(t *testing.T, dir string) {
	t.Helper()
	key := newKey(t)
	other := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wharf test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	files := map[string][]byte{
		"cert.pem":      cert,
		"ca.pem":        cert,
		"key.pem":       keyPEM(t, key),
		"other-key.pem": keyPEM(t, other),
		"empty.pem":     []byte("not a certificate\n"),
		"file.txt":      []byte("a file\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"data", "data2"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
