package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchUser is the throwaway local user the peers log in as.
const benchUser = "wharfbench"

// Files and directories inside the served tree.
const (
	bigFile   = "big.bin"
	parFile   = "par.bin"
	listDir   = "list"
	uploadDir = "up"
	smallDir  = "small"
)

// workDir creates the scratch directory: on tmpfs /dev/shm when it has room
// for need bytes, else in the system temporary directory.
func workDir(parent string, need int64) (dir, where string, err error) {
	if parent == "" {
		parent = os.TempDir()
		where = "disk (" + parent + ")"
		var st syscall.Statfs_t
		if syscall.Statfs("/dev/shm", &st) == nil && int64(st.Bavail)*st.Bsize > need+need/4 {
			parent, where = "/dev/shm", "tmpfs (/dev/shm)"
		}
	} else {
		where = parent
	}
	dir, err = os.MkdirTemp(parent, "wharf-bench-")
	if err != nil {
		return "", "", err
	}
	// The peers drop privileges to the bench user: let it in.
	return dir, where, os.Chmod(dir, 0o755)
}

// makeData creates the served tree: the big file, the parallel-download file,
// the upload and small-file directories and the listing directory.
func makeData(data string, o *options) error {
	for _, d := range []string{data, filepath.Join(data, uploadDir), filepath.Join(data, smallDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if !o.benchScenarios() {
		return nil
	}
	if err := fillFile(filepath.Join(data, bigFile), o.size); err != nil {
		return err
	}
	if err := fillFile(filepath.Join(data, parFile), o.parallelSize); err != nil {
		return err
	}
	if o.want("list") {
		dir := filepath.Join(data, listDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for i := range o.listEntries {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%07d.dat", i)))
			if err != nil {
				return err
			}
			f.Close()
		}
	}
	return nil
}

// fillFile writes size pseudo-random bytes (incompressible, not all zeros).
func fillFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	_, _ = rand.Read(buf)
	var n int64
	for n < size {
		k, err := f.Write(buf[:min(int64(len(buf)), size-n)])
		n += int64(k)
		if err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// chownTree gives the tree to uid:gid (the peers write as the bench user).
func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// makeCert writes a self-signed ECDSA P-256 certificate for 127.0.0.1, the
// same for every server.
func makeCert(dir string) (cert, key, both string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return "", "", "", err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", "", "", err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	cert, key, both = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "certkey.pem")
	for path, b := range map[string][]byte{cert: certPEM, key: keyPEM, both: append(append([]byte{}, keyPEM...), certPEM...)} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return "", "", "", err
		}
	}
	return cert, key, both, nil
}

// ensureUser makes the local user the peers log in as, with home and password
// set for this run. It returns a cleanup that deletes the user if it was
// created here.
func ensureUser(ctx context.Context, home, pass string) (uid, gid int, cleanup func(), err error) {
	cleanup = func() {}
	if os.Geteuid() != 0 {
		return 0, 0, cleanup, errors.New("the peers need a local user; run as root to create one")
	}
	created := false
	if _, err := user.Lookup(benchUser); err != nil {
		// A login shell listed in /etc/shells: vsftpd's PAM stack checks it.
		out, err := exec.CommandContext(ctx, "useradd", "-M", "-d", home, "-s", "/bin/sh", benchUser).CombinedOutput()
		if err != nil {
			return 0, 0, cleanup, fmt.Errorf("useradd: %v: %s", err, lastLine(out))
		}
		created = true
	} else if out, err := exec.CommandContext(ctx, "usermod", "-d", home, benchUser).CombinedOutput(); err != nil {
		return 0, 0, cleanup, fmt.Errorf("usermod: %v: %s", err, lastLine(out))
	}
	if created {
		cleanup = func() { _ = exec.Command("userdel", benchUser).Run() }
	}
	cp := exec.CommandContext(ctx, "chpasswd")
	cp.Stdin = strings.NewReader(benchUser + ":" + pass + "\n")
	if out, err := cp.CombinedOutput(); err != nil {
		cleanup()
		return 0, 0, func() {}, fmt.Errorf("chpasswd: %v: %s", err, lastLine(out))
	}
	u, err := user.Lookup(benchUser)
	if err != nil {
		cleanup()
		return 0, 0, func() {}, err
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, cleanup, nil
}

// buildWharf builds the wharf binary from the module that holds this
// benchmark, and describes the source (commit, and whether the tree differs).
func buildWharf(ctx context.Context, out string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the wharf module: give -wharf BINARY")
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = filepath.Dir(mod)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, b)
	}
	desc := "built from " + cmd.Dir
	if rev, err := exec.CommandContext(ctx, "git", "-C", cmd.Dir, "describe", "--always", "--dirty").Output(); err == nil {
		desc += " at " + strings.TrimSpace(string(rev))
	}
	return desc, nil
}
