package main

import (
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wharf-ftp/wharf/server/config"
)

// dockerfile returns the instructions of the Dockerfile's final stage, by
// keyword (continuation lines joined).
func dockerfile(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	out := map[string][]string{}
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		kw, rest, _ := strings.Cut(l, " ")
		if kw == "FROM" {
			out = map[string][]string{} // only the last stage counts
		}
		out[kw] = append(out[kw], strings.TrimSpace(rest))
	}
	return out
}

// TestContainerImage: the image's configuration (docker/wharf.toml) passes
// check, listens on the exposed ports, has the health check's metrics
// listener and a passive range equal to the exposed one; the image runs as a
// non-root user with data and state volumes, and the build context leaves out
// what the build does not need. No Docker engine is needed: this reads the
// files the engine would.
func TestContainerImage(t *testing.T) {
	df := dockerfile(t)
	out, errOut, code := runWharf(t, "", "check", "--skip-path-checks", mustAbs(t, "docker/wharf.toml"))
	if code != 0 {
		t.Fatalf("check docker/wharf.toml: exit %d\n%s%s", code, out, errOut)
	}
	cfg, err := config.Load("docker/wharf.toml", config.Options{SkipPathChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[int]bool{}
	var exposedRange string
	for _, e := range df["EXPOSE"] {
		for _, p := range strings.Fields(e) {
			if strings.Contains(p, "-") {
				exposedRange = p
				continue
			}
			n, err := strconv.Atoi(p)
			if err != nil {
				t.Fatalf("EXPOSE %q", p)
			}
			exposed[n] = true
		}
	}
	port := func(addr string) int {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	listeners := append(append([]string{}, cfg.Server.Listen...), cfg.TLS.ImplicitListen...)
	listeners = append(listeners, cfg.Metrics.Listen)
	for _, l := range listeners {
		if !exposed[port(l)] || !strings.HasPrefix(l, "0.0.0.0:") {
			t.Errorf("listener %s: not on every interface at an exposed port (EXPOSE %v)", l, df["EXPOSE"])
		}
	}
	if len(exposed) != len(listeners) {
		t.Errorf("EXPOSE %v: %d single ports, the configuration listens on %d", df["EXPOSE"], len(exposed), len(listeners))
	}
	if exposedRange != cfg.Passive.Ports.String() {
		t.Errorf("EXPOSE range %q, passive ports %s", exposedRange, cfg.Passive.Ports)
	}
	if hc := strings.Join(df["HEALTHCHECK"], " "); !strings.Contains(hc, `"health"`) || cfg.Metrics.Listen == "" {
		t.Errorf("HEALTHCHECK %q with [metrics] listen %q", hc, cfg.Metrics.Listen)
	}
	if u := df["USER"]; len(u) != 1 || strings.HasPrefix(u[0], "0") || strings.HasPrefix(u[0], "root") {
		t.Errorf("USER %v: the image must run as a non-root user", u)
	}
	vols := strings.Join(df["VOLUME"], " ")
	for _, v := range []string{"/srv/ftp", "/var/lib/wharf"} {
		if !strings.Contains(vols, `"`+v+`"`) {
			t.Errorf("VOLUME %s lacks %s", vols, v)
		}
	}
	if !strings.HasPrefix(cfg.Autoban.StateFile, "/var/lib/wharf/") {
		t.Errorf("autoban.state_file %q is not in the state volume", cfg.Autoban.StateFile)
	}
	if !strings.Contains(strings.Join(df["COPY"], "\n"), "/etc/wharf/wharf.toml") {
		t.Error("the image does not carry its configuration at /etc/wharf/wharf.toml")
	}
	if cmd := strings.Join(df["CMD"], " "); !strings.Contains(cmd, `"/etc/wharf/wharf.toml"`) {
		t.Errorf("CMD %s does not serve /etc/wharf/wharf.toml", cmd)
	}

	ignore, err := os.ReadFile(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "/wharf", "/wharf-data", "*.test"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(ignore) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	for _, keep := range []string{"docker", "go.mod", "*.go"} {
		if regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(keep) + `/?$`).Match(ignore) {
			t.Errorf(".dockerignore leaves out %s, which the build needs", keep)
		}
	}

	// The README's docker run line names the same volumes and ports.
	readme, _ := os.ReadFile("README.md")
	for _, want := range []string{"/srv/ftp", "/var/lib/wharf", "50000-50099:50000-50099", ":2121", "/etc/wharf/wharf.toml"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md does not mention %s", want)
		}
	}
}
