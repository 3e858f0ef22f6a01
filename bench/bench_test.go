package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/wharf-ftp/wharf/server/servertest"
)

// inProcess starts wharf inside the test binary (so that -cpuprofile and
// -memprofile see the server) serving a tree made with o, on tmpfs when there
// is room. It returns a runner and the server as the scenarios see them.
func inProcess(tb testing.TB, o *options) (*runner, *server) {
	tb.Helper()
	parent := ""
	var st syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &st) == nil && int64(st.Bavail)*st.Bsize > 3*o.size+(256<<20) {
		parent = "/dev/shm"
	}
	work, err := os.MkdirTemp(parent, "wharf-bench-test-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(work) })
	env := &peerEnv{work: work, data: filepath.Join(work, "data")}
	if env.cert, env.key, env.certKey, err = makeCert(work); err != nil {
		tb.Fatal(err)
	}
	if err := makeData(env.data, o); err != nil {
		tb.Fatal(err)
	}
	first := servertest.FreePortRange(tb, 1000)
	conf := wharfConfig("127.0.0.1:0", first, first+999, env.cert, env.key, env.data, "warn",
		wharfUser{"bench", servertest.Hash(), `"*"`})
	path := filepath.Join(work, "wharf.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	in := servertest.StartFile(tb, path, work)
	srv := &server{name: "wharf", addr: in.Addr, user: "bench", pass: servertest.Password, pid: os.Getpid(),
		listUser: "bench", listPass: servertest.Password}
	r := &runner{o: o, env: env, tlsConf: &tls.Config{InsecureSkipVerify: true}, uid: os.Getuid(), gid: os.Getgid()}
	return r, srv
}

func smallOptions() *options {
	return &options{
		scenarios: []string{"list"}, rounds: 1, size: 4 << 20, smallCount: 20, smallSize: 4 << 10,
		sessions: 4, parallel: 4, parallelSize: 1 << 20, loginWorkers: 2, loginDuration: 200e6, listEntries: 50,
	}
}

// TestScenariosAgainstWharf runs every scenario once, at toy sizes, against an
// in-process wharf: it checks the client and the scenarios, not speed.
func TestScenariosAgainstWharf(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	o := smallOptions()
	r, srv := inProcess(t, o)
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			s := srv
			if !sc.peers {
				s = nil
			}
			vals, err := sc.run(context.Background(), r, s)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range sc.metrics {
				if _, ok := vals[m.key]; !ok {
					t.Errorf("no value for %q", m.key)
				}
			}
		})
	}
	if _, ok := r.notes.Load("wharf"); !ok {
		t.Error("no TLS note recorded")
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1GiB", 1 << 30, true}, {"16MiB", 16 << 20, true}, {"4KiB", 4096, true}, {"10MB", 10e6, true},
		{"123", 123, true}, {"7B", 7, true}, {"0", 0, false}, {"-1MiB", 0, false}, {"x", 0, false}, {"", 0, false},
	} {
		got, err := parseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
		ok   bool
	}{
		{nil, 0, false}, {[]float64{3}, 3, true}, {[]float64{5, 1, 3}, 3, true}, {[]float64{4, 1, 3, 2}, 2.5, true},
	} {
		got, ok := median(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("median(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParsePASV(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Entering Passive Mode (127,0,0,1,156,64).", "127.0.0.1:40000"},
		{"Entering Passive Mode (127,0,0,1,156)", ""},
		{"no parens", ""},
		{"(1,2,3,4,300,1)", ""},
	} {
		got, err := parsePASV(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("parsePASV(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestProcParsers(t *testing.T) {
	for _, tc := range []struct {
		stat string
		ppid int
		ok   bool
	}{
		{"42 (vsftpd) S 7 42 42 0", 7, true},
		{"43 (a) b) (c) R 9 1 1", 9, true},
		{"garbage", 0, false},
	} {
		got, ok := parseStatPPID([]byte(tc.stat))
		if got != tc.ppid || ok != tc.ok {
			t.Errorf("parseStatPPID(%q) = %d, %v", tc.stat, got, ok)
		}
	}
	for _, tc := range []struct {
		line, name string
		want       int64
		ok         bool
	}{
		{"Pss:                 512 kB", "Pss", 512, true},
		{"Pss_Anon:  3 kB", "Pss", 0, false},
		{"VmHWM:\t  1024 kB", "VmHWM", 1024, true},
	} {
		got, ok := parseKiBLine(tc.line, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseKiBLine(%q, %q) = %d, %v", tc.line, tc.name, got, ok)
		}
	}
	if pss := treePSS(os.Getpid()); pss <= 0 {
		t.Errorf("treePSS(self) = %d", pss)
	}
}

// The benchmarks run one scenario against an in-process wharf, for profiling:
//
//	go test ./bench -run '^$' -bench Small -cpuprofile cpu.out
//	go tool pprof -top bench.test cpu.out
func benchScenario(b *testing.B, name string, o *options) {
	r, srv := inProcess(b, o)
	var sc scenario
	for _, s := range scenarios() {
		if s.name == name {
			sc = s
		}
	}
	b.ResetTimer()
	var last map[string]float64
	for b.Loop() {
		vals, err := sc.run(context.Background(), r, srv)
		if err != nil {
			b.Fatal(err)
		}
		last = vals
	}
	for _, m := range sc.metrics {
		if v, ok := last[m.key]; ok {
			b.ReportMetric(v, strings.Join(strings.Fields(strings.NewReplacer(",", "", ":", "").Replace(m.unit+" "+m.key)), "_"))
		}
	}
}

func benchOptions() *options {
	o := smallOptions()
	o.size, o.smallCount, o.listEntries = 256<<20, 500, 100000
	o.sessions, o.parallel, o.parallelSize = 200, 50, 16<<20
	o.loginWorkers, o.loginDuration = 8, 2e9
	return o
}

func BenchmarkDownload(b *testing.B)    { benchScenario(b, "download", benchOptions()) }
func BenchmarkDownloadTLS(b *testing.B) { benchScenario(b, "download-tls", benchOptions()) }
func BenchmarkUpload(b *testing.B)      { benchScenario(b, "upload", benchOptions()) }
func BenchmarkUploadTLS(b *testing.B)   { benchScenario(b, "upload-tls", benchOptions()) }
func BenchmarkSmall(b *testing.B)       { benchScenario(b, "small", benchOptions()) }
func BenchmarkParallel(b *testing.B)    { benchScenario(b, "parallel", benchOptions()) }
func BenchmarkLogins(b *testing.B)      { benchScenario(b, "logins", benchOptions()) }
func BenchmarkList(b *testing.B)        { benchScenario(b, "list", benchOptions()) }
