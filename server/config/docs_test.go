package config

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const docsPath = "../../docs/configuration.md"

// docSections reads docs/configuration.md: for each heading naming a table
// (### `[server]`, ## `[[users.NAME.folders]]`), the words in backquotes of
// its section.
func docSections(t *testing.T) map[string]map[string]bool {
	t.Helper()
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	heading := regexp.MustCompile("^#+ `\\[\\[?([a-z_.A-Z]+)\\]\\]?`")
	code := regexp.MustCompile("`([^`]+)`")
	out := map[string]map[string]bool{}
	var cur map[string]bool
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			cur = nil
			if m := heading.FindStringSubmatch(line); m != nil {
				cur = map[string]bool{}
				out[m[1]] = cur
			}
			continue
		}
		if cur == nil {
			continue
		}
		for _, m := range code.FindAllStringSubmatch(line, -1) {
			cur[m[1]] = true
		}
	}
	return out
}

// generalize writes a dotted key with the names of users, groups, stores and
// admin users as NAME: users.alice.folders.mount -> users.NAME.folders.mount.
func generalize(parts []string) string {
	out := append([]string(nil), parts...)
	for i := range out {
		switch {
		case i == 1 && (out[0] == "users" || out[0] == "groups" || out[0] == "stores"):
			out[i] = "NAME"
		case i == 2 && out[0] == "admin" && out[1] == "users":
			out[i] = "NAME"
		}
	}
	return strings.Join(out, ".")
}

// documented reports whether key is described in sections: it names a
// section, leads to one (admin.users), or appears in backquotes in the
// section of its longest table prefix, relative to it (limits.download in
// [users.NAME], and limits for the inline table itself).
func documented(sections map[string]map[string]bool, key string) (bool, string) {
	best := ""
	for s := range sections {
		if s == key || strings.HasPrefix(s, key+".") {
			return true, s
		}
		if strings.HasPrefix(key, s+".") && len(s) > len(best) {
			best = s
		}
	}
	if best == "" {
		return false, ""
	}
	rel := strings.TrimPrefix(key, best+".")
	for w := range sections[best] {
		if w == rel || strings.HasPrefix(w, rel+".") { // an inline table: limits.download
			return true, best
		}
	}
	return false, best
}

// TestDocsCoverConfig: every key the configuration accepts, and every key of
// config.example.toml, is described in docs/configuration.md. The accepted
// keys are those the checker asks for while it reads the example file, which
// holds every table.
func TestDocsCoverConfig(t *testing.T) {
	sections := docSections(t)
	if len(sections) < 15 {
		t.Fatalf("only %d table sections in %s", len(sections), docsPath)
	}
	example, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var doc map[string]any
	md, err := toml.Decode(string(example), &doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range md.Keys() {
		keys[generalize(k)] = true
	}
	c := &checker{file: "example", lines: indexLines(example), opt: Options{SkipPathChecks: true}}
	c.asked = func(l loc) {
		var parts []string
		for _, s := range l {
			if !s.isIndex {
				parts = append(parts, s.name)
			}
		}
		keys[generalize(parts)] = true
	}
	c.document(c.newTable(nil, doc), Default())
	if len(c.errs) > 0 {
		t.Fatalf("example: %v", c.errs)
	}
	var missing []string
	for k := range keys {
		if ok, _ := documented(sections, k); !ok {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("key %s is not described in %s", k, docsPath)
	}
	if len(keys) < 90 {
		t.Errorf("only %d keys seen: the example or the checker lost tables", len(keys))
	}
}
