package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// runWharfIn is runWharf with a working directory.
func runWharfIn(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := wharfCmd(ctx, dir, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		code = cmd.ProcessState.ExitCode()
		if code < 0 {
			t.Fatal(err)
		}
	}
	return out.String(), errb.String(), code
}

// TestCheckEmptyFile: an empty file is valid but says so.
func TestCheckEmptyFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "empty.toml")
	os.WriteFile(p, nil, 0o600)
	out, errOut, code := runWharf(t, "", "check", p)
	if code != 0 || !strings.Contains(errOut, p+": warning: the file sets nothing") {
		t.Fatalf("check of an empty file: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	p2 := writeConfig(t, dir, "[server]\nlisten = [\"127.0.0.1:2121\"]\n")
	if _, errOut, _ := runWharf(t, "", "check", p2); !strings.Contains(errOut, p2+": warning: no [users.NAME] table: nobody can log in") {
		t.Errorf("a file without users:\n%s", errOut)
	}
}

// TestCheckEveryBadEntry: every bad entry of a list is reported, not only the first.
func TestCheckEveryBadEntry(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, `[ipfilter]
deny = ["10.0.0.0/33", "192.0.2.1", "bogus", "300.1.1.1"]
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "{{dir}}"
permissions = ["list", "reed", "writ"]
`)
	_, errOut, code := runWharf(t, "", "check", p)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		p + `:2: ipfilter.deny: invalid network "10.0.0.0/33"`,
		p + `:2: ipfilter.deny: invalid network "bogus"`,
		p + `:2: ipfilter.deny: invalid network "300.1.1.1"`,
		p + `:8: users.alice.folders.permissions: unknown permission "reed"`,
		p + `:8: users.alice.folders.permissions: unknown permission "writ"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
}

// TestCheckSummaryLines: the summary of a valid file is a few short lines.
func TestCheckSummaryLines(t *testing.T) {
	out, errOut, code := runWharf(t, "", "check", "--skip-path-checks", mustAbs(t, "config.example.toml"), "--client", "198.51.100.1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "config ok: ") {
		t.Fatalf("summary:\n%s", out)
	}
	for _, l := range lines {
		if len(l) > 160 {
			t.Errorf("line of %d characters: %s", len(l), l)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestCheckFileModes: a configuration file others can write, or every user can
// read while it holds hashes, and a key file every user can read, are warned
// about (by check and by serve).
func TestCheckFileModes(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	secret := filepath.Join(dir, "s3.key")
	os.WriteFile(secret, []byte("abc\n"), 0o644)
	p := writeConfig(t, dir, `[server]
listen = ["127.0.0.1:0"]
[passive]
ports = "{{ports}}"
[stores.media]
type = "s3"
endpoint = "http://127.0.0.1:9"
bucket = "media"
access_key = "k"
secret_key_file = "s3.key"
[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/"
path = "data"
`)
	if err := os.Chmod(p, 0o664); err != nil {
		t.Fatal(err)
	}
	// The store's bucket cannot answer here: only the warnings matter.
	_, errOut, _ := runWharf(t, "", "check", p)
	for _, want := range []string{
		p + ": warning: the file is writable by its group or by every user (mode 0664)",
		p + ": warning: the file is readable by every user (mode 0664) and holds password hashes",
		p + `:10: warning: stores.media.secret_key_file: "` + secret + `" is readable by every user (mode 0644)`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	// serve logs the same warnings (the store is left out: its bucket cannot answer here).
	dir2 := t.TempDir()
	os.Mkdir(filepath.Join(dir2, "data"), 0o755)
	p2 := writeConfig(t, dir2, signalConfig)
	os.Chmod(p2, 0o666)
	d := startDaemon(t, p2)
	if !strings.Contains(d.stderr.String(), p2+": warning: the file is writable by its group or by every user (mode 0666)") {
		t.Errorf("serve did not log the mode warning:\n%s", d.stderr.String())
	}
	d.signal(t, syscall.SIGTERM)
	<-d.done

	os.Chmod(p, 0o640)
	os.Chmod(secret, 0o600)
	_, errOut, _ = runWharf(t, "", "check", p)
	if strings.Contains(errOut, "warning") {
		t.Errorf("warnings for a 0640 file and a 0600 key:\n%s", errOut)
	}
}

// TestCheckRelativePaths: a relative folder path is relative to the
// configuration file's directory, whatever the working directory.
func TestCheckRelativePaths(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc", "data"), 0o755)
	p := filepath.Join(dir, "etc", "wharf.toml")
	os.WriteFile(p, []byte(strings.ReplaceAll(`[server]
listen = ["127.0.0.1:2121"]
[users.alice]
password = "HASH"
[[users.alice.folders]]
mount = "/"
path = "data"
`, "HASH", servertest.Hash())), 0o600)
	for _, cwd := range []string{dir, filepath.Join(dir, "etc"), t.TempDir()} {
		rel, _ := filepath.Rel(cwd, p)
		out, errOut, code := runWharfIn(t, cwd, "check", rel)
		if code != 0 {
			t.Errorf("check %s from %s: exit %d\n%s%s", rel, cwd, code, out, errOut)
		}
	}
	os.RemoveAll(filepath.Join(dir, "etc", "data"))
	os.MkdirAll(filepath.Join(dir, "data"), 0o755) // a "data" beside the working directory must not count
	_, errOut, code := runWharfIn(t, dir, "check", "etc/wharf.toml")
	want := `etc/wharf.toml:7: folder path "` + filepath.Join(dir, "etc", "data") + `" does not exist`
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, want 1 and %q:\n%s", code, want, errOut)
	}
}

// TestCheckReservedMount: a mount named like an upload's temporary file is refused.
func TestCheckReservedMount(t *testing.T) {
	dir := t.TempDir()
	p := writeConfig(t, dir, `[users.alice]
password = "{{hash}}"
[[users.alice.folders]]
mount = "/.wharf-upload-x"
path = "{{dir}}"
`)
	_, errOut, code := runWharf(t, "", "check", p)
	if code != 1 || !strings.Contains(errOut, p+`:4: users.alice.folders.mount: "/.wharf-upload-x" names an element starting with ".wharf-upload-"`) {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}
