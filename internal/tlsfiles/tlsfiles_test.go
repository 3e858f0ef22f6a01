package tlsfiles

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadCertPool(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("no pem here\n"), 0o600)
	if _, err := LoadCertPool(empty); !errors.Is(err, ErrNoCertificate) {
		t.Errorf("a file without PEM: %v", err)
	}
	if _, err := LoadCertPool(filepath.Join(dir, "nope.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := LoadKeyPair(empty, empty); err == nil {
		t.Error("LoadKeyPair of a file without PEM succeeded")
	}
}
