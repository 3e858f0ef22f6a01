package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/server/servertest"
)

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocsCoverCommands: every command, every flag its --help lists, and
// every ctl command is in docs/commands.md; README.md links to docs/.
func TestDocsCoverCommands(t *testing.T) {
	doc := readDoc(t, "commands.md")
	flagRe := regexp.MustCompile(`(?m)^\s+(--[a-z-]+)`)
	for _, c := range commands {
		if !strings.Contains(doc, "`wharf "+c.name) {
			t.Errorf("command %s is not in docs/commands.md", c.name)
		}
		var out bytes.Buffer
		if code := run([]string{c.name, "--help"}, strings.NewReader(""), &out, io.Discard); code != 0 {
			t.Errorf("wharf %s --help: exit %d", c.name, code)
		}
		for _, m := range flagRe.FindAllStringSubmatch(out.String(), -1) {
			if !strings.Contains(doc, "`"+m[1]) {
				t.Errorf("flag %s of wharf %s is not in docs/commands.md", m[1], c.name)
			}
		}
		if c.name == "ctl" {
			_, list, _ := strings.Cut(out.String(), "Commands:\n")
			list, _, _ = strings.Cut(list, "\n\n")
			n := 0
			for _, l := range strings.Split(list, "\n") {
				if f := strings.Fields(l); len(l) > 2 && l[2] != ' ' && len(f) > 0 {
					n++
					if !strings.Contains(doc, "| `"+f[0]) {
						t.Errorf("wharf ctl %s is not in docs/commands.md", f[0])
					}
				}
			}
			if n < 8 {
				t.Errorf("found %d ctl commands in its usage:\n%s", n, out.String())
			}
		}
	}
	readme, _ := os.ReadFile("README.md")
	if !strings.Contains(string(readme), "(docs/README.md)") {
		t.Error("README.md does not link to docs/README.md")
	}
}

// TestDocsCoverAdminRoutes: every route the admin API registers is in
// docs/admin-api.md.
func TestDocsCoverAdminRoutes(t *testing.T) {
	doc := readDoc(t, "admin-api.md")
	src, err := os.ReadFile("admin/api.go")
	if err != nil {
		t.Fatal(err)
	}
	route := regexp.MustCompile(`s\.api\("([^"]+)", methods\{([^}]*)\}`)
	method := regexp.MustCompile(`http\.Method([A-Z][a-z]+)`)
	n := 0
	for _, m := range route.FindAllStringSubmatch(string(src), -1) {
		path := strings.ReplaceAll(m[1], "...}", "}")
		for _, mm := range method.FindAllStringSubmatch(m[2], -1) {
			n++
			want := "`" + strings.ToUpper(mm[1]) + " " + path + "`"
			if !strings.Contains(doc, want) {
				t.Errorf("route %s is not in docs/admin-api.md", want)
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d routes in admin/api.go", n)
	}
}

// TestDocsCoverMetrics: every wharf_ metric a running server exports is in
// docs/metrics.md.
func TestDocsCoverMetrics(t *testing.T) {
	doc := readDoc(t, "metrics.md")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	d := startDaemon(t, writeConfig(t, dir, signalConfig+"\n[metrics]\nlisten = \"127.0.0.1:0\"\n"))
	re := regexp.MustCompile(`msg="metrics listening" [^\n]*address=(\S+)`)
	var addr string
	servertest.WaitFor(t, 10*time.Second, "the metrics listener", func() bool {
		if m := re.FindStringSubmatch(d.stderr.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	names := regexp.MustCompile(`(?m)^# TYPE (wharf_\S+)`).FindAllStringSubmatch(string(body), -1)
	if len(names) < 10 {
		t.Fatalf("only %d wharf_ metrics:\n%s", len(names), body)
	}
	for _, m := range names {
		if !strings.Contains(doc, "`"+m[1]+"`") {
			t.Errorf("metric %s is not in docs/metrics.md", m[1])
		}
	}
}
