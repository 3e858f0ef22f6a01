package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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
	conf := wharfConfig("127.0.0.1:0", "127.0.0.1:0", first, first+999, env.cert, env.key, env.data, "warn",
		wharfUser{"bench", servertest.Hash(), `"*"`})
	path := filepath.Join(work, "wharf.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	in := servertest.StartFile(tb, path, work)
	srv := &server{name: "wharf", addr: in.Addr, metrics: in.Metrics, user: "bench", pass: servertest.Password, pid: os.Getpid(),
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

// soakOptions is a toy soak: a few sessions for about a second.
func soakOptions() *options {
	o := smallOptions()
	o.scenarios = []string{soakName}
	o.soakSessions, o.soakDuration, o.soakSample, o.soakBig = 6, 1500*time.Millisecond, 200*time.Millisecond, 1<<20
	return o
}

// TestSoakAgainstWharf runs a toy soak against an in-process wharf: no error,
// operations of the common kinds, resources sampled.
func TestSoakAgainstWharf(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	o := soakOptions()
	r, srv := inProcess(t, o)
	if err := makeSoakData(r.env.data, o.soakBig); err != nil {
		t.Fatal(err)
	}
	res, err := soak(context.Background(), r, srv, io.Discard)
	if err != nil {
		t.Fatalf("%v\n%s", err, strings.Join(res.st.details, "\n"))
	}
	if ops, n := res.ops(); ops < 10 || n == 0 {
		t.Errorf("%d operations, %d bytes", ops, n)
	}
	if res.st.logins[0] != 3 || res.st.logins[1] != 3 {
		t.Errorf("logins %v, want 3 plain and 3 TLS", res.st.logins)
	}
	if res.st.tlsData == 0 || res.st.tlsResumed != res.st.tlsData {
		t.Errorf("TLS data connections %d, resumed %d", res.st.tlsData, res.st.tlsResumed)
	}
	if len(res.during) == 0 || res.before.goroutines <= 0 || res.after.rssKiB <= 0 || res.after.fds <= 0 {
		t.Errorf("samples: before %+v, during %d, after %+v", res.before, len(res.during), res.after)
	}
	rep := soakReport(o, res, "test")
	for _, want := range []string{"of them **0 `226` with wrong or empty data**", "| RSS (MiB) |", "wharf_transfers_total"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
}

// TestSoakCatchesWrongData changes served files behind the soak's back: the
// server answers 226 with bytes the soak did not expect, and it must say so.
func TestSoakCatchesWrongData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	o := soakOptions()
	r, srv := inProcess(t, o)
	if err := makeSoakData(r.env.data, o.soakBig); err != nil {
		t.Fatal(err)
	}
	content, err := loadSoakContent(r.env.data)
	if err != nil {
		t.Fatal(err)
	}
	st := &soakStats{errs: map[soakErrKey]int64{}, perKind: map[string]int{}}
	run := &soakRun{r: r, srv: srv, content: content, st: st, start: time.Now()}
	for _, secure := range []bool{false, true} {
		s := &soakSession{run: run, secure: secure, buf: make([]byte, 4096), rng: mrand.New(mrand.NewPCG(1, 2))}
		if !s.connect() {
			t.Fatal(st.details)
		}
		name := content.small[3]
		if !s.download(opRetr, name, content.files[name]) {
			t.Fatal(st.details)
		}
		if err := os.WriteFile(filepath.Join(r.env.data, name), nil, 0o644); err != nil { // empty
			t.Fatal(err)
		}
		if s.download(opRetr, name, content.files[name]) {
			t.Error("empty download counted right")
		}
		flipped := slices.Clone(content.files[name])
		flipped[len(flipped)/2] ^= 1
		if err := os.WriteFile(filepath.Join(r.env.data, name), flipped, 0o644); err != nil {
			t.Fatal(err)
		}
		if s.download(opRetr, name, content.files[name]) {
			t.Error("corrupt download counted right")
		}
		if err := os.WriteFile(filepath.Join(r.env.data, name), content.files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		extra := filepath.Join(r.env.data, soakListDir, "stray.dat")
		if err := os.WriteFile(extra, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		s.listing(opMLSD, "MLSD")
		s.listing(opList, "LIST")
		if err := os.Remove(extra); err != nil {
			t.Fatal(err)
		}
		s.listing(opList, "LIST")
		s.uploadCycle()
		if s.c == nil {
			t.Fatal("session dropped", st.details)
		}
		_ = s.c.quit()
	}
	if got := st.errCount(eWrong226); got != 8 || st.errCount("") != 8 {
		t.Errorf("%d errors, %d of them 226 with wrong data; want 8 and 8:\n%s", st.errCount(""), got, strings.Join(st.details, "\n"))
	}
	for _, secure := range []int{0, 1} {
		if st.ops[opList][secure] != 1 || st.ops[opStor][secure] != 1 || st.ops[opDele][secure] != 1 || st.ops[opRetr][secure] != 1 {
			t.Errorf("mode %d: ops %v", secure, st.ops)
		}
	}
}

func TestCheckListing(t *testing.T) {
	want := map[string]int64{"a.dat": 0, "b.dat": 12}
	list := "-rw-r--r-- 1 ftp ftp            0 Dec 04 14:26 a.dat\r\n-rw-r--r-- 1 ftp ftp           12 Dec 04 14:26 b.dat\r\n"
	mlsd := "type=cdir;modify=20261204142600; .\r\ntype=file;size=0;modify=20261204142600;perm=r; a.dat\r\nsize=12;type=file; b.dat\r\n"
	for _, tc := range []struct {
		verb, in      string
		exact, prefix bool
	}{
		{"LIST", list, true, true},
		{"MLSD", mlsd, true, true},
		{"LIST", "", false, true},
		{"LIST", list[:40], false, true},                                 // cut inside the first line
		{"LIST", strings.SplitAfter(list, "\n")[0], false, true},         // one entry missing
		{"LIST", strings.Replace(list, " 12 ", " 13 ", 1), false, false}, // wrong size
		{"LIST", list + list, false, false},                              // twice
		{"MLSD", mlsd + "type=file;size=1; c.dat\r\n", false, false},     // unknown entry
		{"MLSD", "garbage\r\n", false, false},
	} {
		exact, prefix, why := checkListing(tc.verb, []byte(tc.in), want)
		if exact != tc.exact || prefix != tc.prefix {
			t.Errorf("checkListing(%s, %q) = %v, %v (%s); want %v, %v", tc.verb, tc.in, exact, prefix, why, tc.exact, tc.prefix)
		}
	}
}

func TestVerifier(t *testing.T) {
	want := []byte("0123456789")
	for _, tc := range []struct {
		chunks        []string
		exact, prefix bool
		bad           int64
	}{
		{[]string{"0123", "456789"}, true, true, -1},
		{[]string{"0123"}, false, true, -1},
		{nil, false, true, -1},
		{[]string{"0123", "4x6789"}, false, false, 5},
		{[]string{"0123456789", "0"}, false, false, 10},
	} {
		v := newVerifier(want)
		for _, c := range tc.chunks {
			_, _ = v.Write([]byte(c))
		}
		if v.exact() != tc.exact || v.prefix() != tc.prefix || v.bad != tc.bad {
			t.Errorf("%q: exact %v prefix %v bad %d; want %v %v %d", tc.chunks, v.exact(), v.prefix(), v.bad, tc.exact, tc.prefix, tc.bad)
		}
	}
}

func TestOutcome(t *testing.T) {
	broke := errors.New("broken")
	for _, tc := range []struct {
		x             *xfer
		exact, prefix bool
		want          string
	}{
		{&xfer{code: 226, n: 10}, true, true, ""},
		{&xfer{code: 226}, false, true, eWrong226}, // empty with 226
		{&xfer{code: 226, n: 5, dataErr: broke}, false, true, eWrong226},
		{&xfer{code: 226, n: 10}, false, false, eWrong226}, // corrupt with 226
		{&xfer{code: 426, n: 5, dataErr: broke}, false, true, eReply},
		{&xfer{code: 426, n: 5}, false, false, eShort},
		{&xfer{code: 425, dataErr: broke}, false, true, eDataConn},
		{&xfer{n: 5, dataErr: broke}, false, true, eShort},   // no final reply, short
		{&xfer{n: 10, dataErr: broke}, true, true, eControl}, // no final reply, data right
		{&xfer{prelim: broke, kind: eReply, code: 550}, false, true, eReply},
		{&xfer{prelim: broke, kind: eDataConn}, false, true, eDataConn},
	} {
		if got := outcome(tc.x, tc.exact, tc.prefix); got != tc.want {
			t.Errorf("outcome(%+v, %v, %v) = %q, want %q", tc.x, tc.exact, tc.prefix, got, tc.want)
		}
	}
}

func TestParseProm(t *testing.T) {
	m := parseProm(strings.NewReader("# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 42\n" +
		"wharf_transfers_total{direction=\"download\",result=\"complete\"} 7\nx_with_ts 3 1700000000000\nbad line\n"))
	for k, v := range map[string]float64{"go_goroutines": 42, `wharf_transfers_total{direction="download",result="complete"}`: 7, "x_with_ts": 3} {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (%v)", k, m[k], v, m)
		}
	}
	if len(m) != 3 {
		t.Errorf("parsed %v", m)
	}
}

func TestSpreadAndLogMsg(t *testing.T) {
	if lo, med, hi, ok := spread([]int64{5, -1, 1, 3}); !ok || lo != 1 || med != 3 || hi != 5 {
		t.Errorf("spread = %d %d %d %v", lo, med, hi, ok)
	}
	if _, _, _, ok := spread([]int64{-1}); ok {
		t.Error("spread of unknowns is ok")
	}
	for in, want := range map[string]string{
		`time=x level=WARN msg="client disconnected" session=3`:   "client disconnected",
		`{"time":"x","level":"ERROR","msg":"flush failed","a":1}`: "flush failed",
		`time=x level=WARN msg=stopped`:                           "stopped",
	} {
		if got := logMsg(in); got != want {
			t.Errorf("logMsg(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCPUStatParsers(t *testing.T) {
	if v, ok := statField([]byte("usage_usec 257590\nuser_usec 253627\n"), "usage_usec"); !ok || v != 257590 {
		t.Errorf("statField = %d, %v", v, ok)
	}
	if _, ok := statField([]byte("user_usec 1\n"), "usage_usec"); ok {
		t.Error("statField found a missing field")
	}
	// A command name with a space and a parenthesis; utime 7, stime 5, cutime 3, cstime 1.
	stat := "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 3 1 20 0 1 0 100 1000 10"
	if got := statTicks([]byte(stat)); got != 16 {
		t.Errorf("statTicks = %d, want 16", got)
	}
}
