// Package engine finds the real programs that tests drive (FTP clients, HAProxy,
// Redis, an S3 server, Chromium). A test whose program is missing is skipped with
// the line that installs it; under CI=true it fails instead, so a green CI run
// means every engine ran.
package engine

import (
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of program, or skips t (fails it when CI=true) saying
// how to install it, e.g. Need(t, "haproxy", "Debian package haproxy").
func Need(t testing.TB, program, install string) string {
	t.Helper()
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, dir := range extraDirs() {
		p := dir + "/" + program
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (%s); CI=true requires every engine", program, install)
	}
	t.Skipf("%s is not installed (%s)", program, install)
	return ""
}

// Have reports whether program is installed, for a test that runs a part only
// when it is there. Under CI=true a missing program fails t.
func Have(t testing.TB, program, install string) bool {
	t.Helper()
	if _, err := exec.LookPath(program); err == nil {
		return true
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (%s); CI=true requires every engine", program, install)
	}
	t.Logf("part skipped: %s is not installed (%s)", program, install)
	return false
}

// extraDirs are where `go install` puts programs when they are not on PATH.
func extraDirs() []string {
	var dirs []string
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, gp+"/bin")
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, home+"/go/bin")
	}
	return dirs
}
