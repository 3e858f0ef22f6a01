package fs

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fuzzTree builds a tree whose folders hold symbolic links of every escaping kind.
func fuzzTree(t testing.TB) (tr *Tree, dirs map[string]string) {
	base := t.TempDir()
	home, shared, outside := filepath.Join(base, "home"), filepath.Join(base, "shared"), filepath.Join(base, "outside")
	for _, d := range []string{home + "/sub/deeper", shared + "/s", outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{home + "/a.txt", shared + "/s/b.txt", outside + "/secret"} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		home + "/etc":       "/etc",
		home + "/out":       outside,
		home + "/outrel":    "../outside",
		home + "/up":        "../../../../",
		home + "/sub/upper": "../../outside/secret",
		home + "/in":        "sub/deeper",
		home + "/loop":      "loop",
		shared + "/home":    "../home",
		shared + "/s/root":  "/",
	}
	for name, target := range links {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	// the real directories, with their own symbolic links resolved (t.TempDir may sit behind one)
	dirs = map[string]string{}
	for mp, d := range map[string]string{"/": home, "/shared": shared} {
		resolved, err := filepath.EvalSymlinks(d)
		if err != nil {
			t.Fatal(err)
		}
		dirs[mp] = resolved
	}
	tr = newTree(t, []Mount{
		{Path: "/", Dir: home, Perm: PermAll},
		{Path: "/shared", Dir: shared, Perm: PermList | PermRead},
	}, Options{})
	return tr, dirs
}

// fdPath returns the real path of an open file, as the kernel sees it.
func fdPath(t *testing.T, f *os.File) string {
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return p
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// FuzzResolve: mapping any path either fails, or lands in a mount whose os.Root resolves it to a
// real path inside that mount's directory.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"/", "", ".", "..", "../..", "/../../etc/passwd", "a.txt", "/shared/../a.txt",
		"/shared/s/root/etc/passwd", "/etc/passwd", "/out/secret", "/outrel/secret", "/up/etc",
		"/sub/upper", "/in", "/loop", "/shared/home/a.txt", "/shared/s/../../home", "//shared//s",
		"/sub/./../sub/deeper/..", "a\x00b", "/.wharf-upload-x", "/sub/.wharf-upload-y/z",
		"\\..\\..\\etc", "/shared/..", "/shared/...", "/....//", "%2e%2e/etc",
	} {
		f.Add(s)
	}
	tr, dirs := fuzzTree(f)
	f.Fuzz(func(t *testing.T, p string) {
		n, err := tr.resolve(p)
		if err != nil {
			if !strings.ContainsRune(p, 0) {
				t.Fatalf("resolve(%q) failed: %v", p, err)
			}
			return
		}
		if !path.IsAbs(n.vpath) || path.Clean(n.vpath) != n.vpath {
			t.Fatalf("resolve(%q): virtual path %q is not clean", p, n.vpath)
		}
		if n.m == nil {
			return // outside every mount: nothing real to reach
		}
		if !contains(n.m.path, n.vpath) {
			t.Fatalf("resolve(%q) = mount %q for %q", p, n.m.path, n.vpath)
		}
		if n.rel != "." && (path.IsAbs(n.rel) || n.rel == ".." || strings.HasPrefix(n.rel, "../")) {
			t.Fatalf("resolve(%q): relative path %q climbs", p, n.rel)
		}
		dir := dirs[n.m.path]
		if file, err := n.m.b.(*localFS).root.Open(n.rel); err == nil {
			got := fdPath(t, file)
			_ = file.Close()
			if !within(got, dir) {
				t.Fatalf("resolve(%q) opened %q, outside %q", p, got, dir)
			}
		}
		// the same through the tree's own methods
		if h, err := tr.openHandle(p, os.O_RDONLY, 0); err == nil {
			got := fdPath(t, h.f)
			_ = h.Close()
			if !within(got, dir) {
				t.Fatalf("RETR %q opened %q, outside %q", p, got, dir)
			}
		} else {
			checkSafe(t, err, dirs["/"], dirs["/shared"])
		}
		if _, err := tr.Stat(p); err != nil {
			checkSafe(t, err, dirs["/"], dirs["/shared"])
		}
	})
}
