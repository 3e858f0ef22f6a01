package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHelpAndUsage: every way of asking for help prints the usage on stdout
// and exits 0; bad usage says what is wrong on stderr and exits 2.
func TestHelpAndUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string // must contain
		stderr   string // must contain; "" = must be empty
		noStdout bool
	}{
		{args: []string{"help"}, stdout: "wharf check [--config] FILE"},
		{args: []string{"--help"}, stdout: "wharf check [--config] FILE"},
		{args: []string{"-h"}, stdout: "wharf check [--config] FILE"},
		{args: []string{"-help"}, stdout: "wharf check [--config] FILE"},
		{args: []string{"help", "check"}, stdout: "--skip-path-checks"},
		{args: []string{"help", "--help"}, stdout: "wharf check [--config] FILE"},
		{args: []string{"serve", "--help"}, stdout: "usage: wharf [serve] [--config FILE]"},
		{args: []string{"check", "--help"}, stdout: "--client ADDR"},
		{args: []string{"check", "-h"}, stdout: "--client ADDR"},
		{args: []string{"hash", "--help"}, stdout: "usage: wharf hash"},
		{args: []string{"version", "--help"}, stdout: "usage: wharf version"},
		{args: []string{"health", "--help"}, stdout: "--url URL"},
		{args: []string{"ctl", "--help"}, stdout: "usage: wharf ctl"},
		{args: []string{"--version"}, stdout: "wharf "},
		{args: []string{"serve", "extra"}, code: 2, stderr: `wharf serve: unexpected argument "extra"`, noStdout: true},
		{args: []string{"--config", "x.toml", "extra"}, code: 2, stderr: `unexpected argument "extra"`, noStdout: true},
		{args: []string{"check"}, code: 2, stderr: "a configuration file is required", noStdout: true},
		{args: []string{"check", "a.toml", "b.toml"}, code: 2, stderr: `unexpected argument "b.toml"`, noStdout: true},
		{args: []string{"check", "--config", "a.toml", "b.toml"}, code: 2, stderr: "not both", noStdout: true},
		{args: []string{"check", "--config", "a.toml", "--client", "bogus"}, code: 2, stderr: `--client "bogus": want an IP address`, noStdout: true},
		{args: []string{"check", "--bogus"}, code: 2, stderr: "wharf check: flag provided but not defined: -bogus", noStdout: true},
		{args: []string{"version", "now"}, code: 2, stderr: `unexpected argument "now"`, noStdout: true},
		{args: []string{"hash", "x"}, code: 2, stderr: `unexpected argument "x"`, noStdout: true},
		{args: []string{"help", "nope"}, code: 2, stderr: `unknown command "nope"`, noStdout: true},
		{args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`, noStdout: true},
	} {
		out, errOut, code := runWharf(t, "", tc.args...)
		name := strings.Join(tc.args, " ")
		if code != tc.code {
			t.Errorf("wharf %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, code, tc.code, out, errOut)
			continue
		}
		if !strings.Contains(out, tc.stdout) {
			t.Errorf("wharf %s: stdout lacks %q:\n%s", name, tc.stdout, out)
		}
		if tc.noStdout && out != "" {
			t.Errorf("wharf %s: stdout should be empty:\n%s", name, out)
		}
		if tc.stderr == "" && errOut != "" {
			t.Errorf("wharf %s: stderr should be empty:\n%s", name, errOut)
		}
		if !strings.Contains(errOut, tc.stderr) {
			t.Errorf("wharf %s: stderr lacks %q:\n%s", name, tc.stderr, errOut)
		}
	}
}

// TestCheckPositional: `wharf check FILE` is `wharf check --config FILE`,
// flags before or after the file.
func TestCheckPositional(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "[server]\nlisten = [\"127.0.0.1:2121\"]\n")
	for _, args := range [][]string{
		{"check", cfg},
		{"check", cfg, "--client", "127.0.0.1"},
		{"check", "--client", "127.0.0.1", cfg},
		{"check", "--skip-path-checks", cfg, "--client", "127.0.0.1"},
	} {
		out, errOut, code := runWharf(t, "", args...)
		if code != 0 || !strings.Contains(out, "config ok") {
			t.Errorf("wharf %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	bad := writeConfig(t, dir, "[server]\nbogus = 1\n")
	_, errOut, code := runWharf(t, "", "check", bad)
	if code != 1 || !strings.Contains(errOut, bad+":2: unknown key") {
		t.Errorf("check of a bad file given as the argument: exit %d\n%s", code, errOut)
	}
}

// TestVersionStamp: the README's build line stamps the version, and
// `wharf version` and `wharf --version` print it.
func TestVersionStamp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "wharf")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-X main.version=1.2.3-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.CommandContext(ctx, bin, arg).Output()
		if err != nil || string(out) != "wharf 1.2.3-test\n" {
			t.Errorf("wharf %s = %q, %v; want \"wharf 1.2.3-test\\n\"", arg, out, err)
		}
	}
	// Without the stamp the version comes from the build information, never empty.
	if v := versionString(); v == "" || v == "dev" {
		t.Errorf("versionString() = %q", v)
	}
}

// TestCtlReadsConfig: `wharf ctl` reads the admin address from --config.
func TestCtlReadsConfig(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "admin.sock")
	cfg := writeConfig(t, dir, "[admin]\nlisten = \"unix:"+sock+"\"\n")
	_, errOut, code := runWharf(t, "", "ctl", "--config", cfg, "status")
	if code != 1 || !strings.Contains(errOut, "admin.sock") {
		t.Errorf("ctl with nothing listening on %s: exit %d\n%s", sock, code, errOut)
	}
	off := writeConfig(t, dir, "")
	_, errOut, code = runWharf(t, "", "ctl", "--config", off, "status")
	if code != 1 || !strings.Contains(errOut, "the admin API is off") {
		t.Errorf("ctl with no [admin] listen: exit %d\n%s", code, errOut)
	}
	out, _, code := runWharf(t, "", "help", "ctl")
	if code != 0 || !strings.Contains(out, "usage: wharf ctl") {
		t.Errorf("wharf help ctl: exit %d\n%s", code, out)
	}
}
