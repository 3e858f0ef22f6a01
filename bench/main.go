// Command bench measures wharf against vsftpd and pure-ftpd on this machine:
// it starts each server in the foreground on loopback ports, runs the same
// scenarios against each, interleaved, for several rounds, and prints a
// markdown table of medians with the ratio of wharf to the better peer.
//
//	go run ./bench -scenarios all -rounds 3
//	go run ./bench -scenarios soak -servers wharf -soak-sessions 500 -soak-duration 5m
//
// It must run as root to create the throwaway local user the peers log in as
// (wharf alone runs without root).
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line flags.
type options struct {
	scenarios     []string
	servers       []string
	rounds        int
	size          int64
	smallCount    int
	smallSize     int64
	sessions      int
	parallel      int
	parallelSize  int64
	loginWorkers  int
	loginDuration time.Duration
	listEntries   int
	wharfBin      string
	beforeBin     string
	pureBin       string
	dir           string
	out           string
	portBase      int
	keep          bool
	verbose       bool
	soakSessions  int
	soakDuration  time.Duration
	soakSample    time.Duration
	soakBig       int64
	args          []string // as given, for the report
}

func (o *options) want(name string) bool { return slices.Contains(o.scenarios, name) }

// byteSize is a flag value such as 1GiB, 16MiB, 4KiB or 1000000.
type byteSize struct{ v *int64 }

func (b byteSize) String() string {
	if b.v == nil {
		return ""
	}
	return formatBytes(*b.v)
}

func (b byteSize) Set(s string) error {
	v, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b.v = v
	return nil
}

func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	var v int64
	if _, err := fmt.Sscan(num, &v); err != nil || v <= 0 || v > (1<<42)/mult {
		return 0, fmt.Errorf("bad size %q (examples: 1GiB, 16MiB, 4KiB)", s)
	}
	return v * mult, nil
}

func formatBytes(v int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.mult && v%u.mult == 0 {
			return fmt.Sprintf("%d%s", v/u.mult, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", v)
}

var allServers = []string{"wharf", "vsftpd", "pure-ftpd"}

// beforeName is the server name of the -before binary: a column of its own,
// never a peer.
const beforeName = "wharf-before"

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{size: 1 << 30, smallSize: 4 << 10, parallelSize: 16 << 20, soakBig: 16 << 20, args: args}
	fl := flag.NewFlagSet("bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var scen, servers string
	names := make([]string, 0, 10)
	for _, s := range scenarios() {
		names = append(names, s.name)
	}
	fl.StringVar(&scen, "scenarios", "all", "comma-separated scenarios, or all: "+strings.Join(names, ", ")+" ("+soakName+" only when named)")
	fl.StringVar(&servers, "servers", strings.Join(allServers, ","), "comma-separated servers to measure, in the order they run each round")
	fl.IntVar(&o.rounds, "rounds", 3, "rounds; each scenario runs once per server per round, interleaved")
	fl.Var(byteSize{&o.size}, "size", "size of the single download and upload (a, b) and of the ceiling streams (h)")
	fl.IntVar(&o.smallCount, "small-count", 2000, "number of small files (c)")
	fl.Var(byteSize{&o.smallSize}, "small-size", "size of each small file (c)")
	fl.IntVar(&o.sessions, "sessions", 200, "concurrent idle sessions (d)")
	fl.IntVar(&o.parallel, "parallel", 200, "parallel downloads (e)")
	fl.Var(byteSize{&o.parallelSize}, "parallel-size", "size of each parallel download (e)")
	fl.IntVar(&o.loginWorkers, "login-workers", 8, "login workers (f)")
	fl.DurationVar(&o.loginDuration, "login-duration", 10*time.Second, "how long the login workers run (f)")
	fl.IntVar(&o.listEntries, "list-entries", 100000, "entries in the listed directory (g)")
	fl.StringVar(&o.wharfBin, "wharf", "", "wharf binary (default: built from this module)")
	fl.StringVar(&o.beforeBin, "before", "", "another wharf binary (a build from before a change), measured right after wharf in every round as \""+beforeName+"\"")
	fl.StringVar(&o.pureBin, "pure-ftpd", "", "pure-ftpd binary (default: installed, or Debian's package unpacked)")
	fl.StringVar(&o.dir, "dir", "", "parent of the scratch directory (default: /dev/shm when it has room, else the temporary directory)")
	fl.StringVar(&o.out, "out", "", "also write the report to this file")
	fl.IntVar(&o.portBase, "port-base", 40000, "first passive port; each server gets 1000 ports from here on")
	fl.BoolVar(&o.keep, "keep", false, "keep the scratch directory")
	fl.BoolVar(&o.verbose, "v", false, "print every sample as it is measured")
	fl.IntVar(&o.soakSessions, "soak-sessions", 500, "concurrent sessions of the soak, half plain, half explicit FTPS")
	fl.DurationVar(&o.soakDuration, "soak-duration", 5*time.Minute, "how long the soak runs")
	fl.DurationVar(&o.soakSample, "soak-sample", 2*time.Second, "how often the soak samples the server's memory, fds and goroutines")
	fl.Var(byteSize{&o.soakBig}, "soak-big-size", "size of the soak's occasional big download")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]\n\n"+
			"Starts wharf, vsftpd and pure-ftpd on loopback (as root: the peers need a local user,\n"+
			"created as %q and deleted afterwards), runs the scenarios against each,\n"+
			"interleaved, and prints markdown tables of medians and of wharf/best peer.\n\nScenarios:\n", benchUser)
		for _, s := range scenarios() {
			fmt.Fprintf(stderr, "  %-13s %s\n", s.name, s.doc)
		}
		fmt.Fprintf(stderr, "  %-13s %s\n", soakName, "sessions looping over LIST, MLSD, RETR, STOR and DELE for minutes, every byte verified,\n"+
			"                errors by kind, the server's memory, fds and goroutines sampled (not in all; rounds do not apply)")
		fmt.Fprintln(stderr, "\nFlags:")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return nil, fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	if scen == "all" {
		o.scenarios = names
	} else {
		for _, s := range strings.Split(scen, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(names, s) && s != soakName {
				return nil, fmt.Errorf("unknown scenario %q (have: all, %s, %s)", s, strings.Join(names, ", "), soakName)
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	for _, s := range strings.Split(servers, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(allServers, s) {
			return nil, fmt.Errorf("unknown server %q (have: %s)", s, strings.Join(allServers, ", "))
		}
		o.servers = append(o.servers, s)
		if s == "wharf" && o.beforeBin != "" {
			o.servers = append(o.servers, beforeName)
		}
	}
	if o.beforeBin != "" && !slices.Contains(o.servers, beforeName) {
		return nil, fmt.Errorf("-before needs wharf among -servers")
	}
	switch {
	case o.rounds < 1 || o.rounds > 100:
		return nil, fmt.Errorf("-rounds must be 1..100")
	case o.smallCount < 1 || o.sessions < 1 || o.parallel < 1 || o.loginWorkers < 1 || o.listEntries < 1:
		return nil, fmt.Errorf("counts must be positive")
	case o.smallSize > copyBufSize:
		return nil, fmt.Errorf("-small-size must be at most %s", formatBytes(copyBufSize))
	case o.loginDuration <= 0 || o.loginDuration > 10*time.Minute:
		return nil, fmt.Errorf("-login-duration must be in (0, 10m]")
	case o.soakSessions < 1 || o.soakSessions > 10000:
		return nil, fmt.Errorf("-soak-sessions must be 1..10000")
	case o.soakDuration <= 0 || o.soakDuration > 24*time.Hour:
		return nil, fmt.Errorf("-soak-duration must be in (0, 24h]")
	case o.soakSample < 100*time.Millisecond:
		return nil, fmt.Errorf("-soak-sample must be at least 100ms")
	case o.soakBig > 1<<30:
		return nil, fmt.Errorf("-soak-big-size must be at most 1GiB")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func logf(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func bench(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	began := time.Now()
	need := 2*o.size + o.parallelSize + int64(o.smallCount)*o.smallSize*int64(len(o.servers)) + 64<<20
	if !o.benchScenarios() {
		need = 0
	}
	if o.want(soakName) {
		need += o.soakBig + 64<<20
	}
	work, where, err := workDir(o.dir, need)
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	logf(stderr, "scratch directory %s on %s", work, where)
	env := &peerEnv{work: work, data: filepath.Join(work, "data"), portBase: o.portBase}
	if env.cert, env.key, env.certKey, err = makeCert(work); err != nil {
		return err
	}
	entries := 0
	if o.want("list") {
		entries = o.listEntries
	}
	if o.benchScenarios() {
		logf(stderr, "creating test data (%s file, %s file, %d directory entries)", formatBytes(o.size), formatBytes(o.parallelSize), entries)
	}
	if err := makeData(env.data, o); err != nil {
		return err
	}
	if o.want(soakName) {
		logf(stderr, "creating soak data (%d small files, %d directory entries, %s file)", soakSmallFiles, soakListEntries, formatBytes(o.soakBig))
		if err := makeSoakData(env.data, o.soakBig); err != nil {
			return err
		}
	}
	r := &runner{o: o, env: env, tlsConf: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	env.pass = hex.EncodeToString(pw[:])
	uid, gid, cleanupUser, err := 0, 0, func() {}, errors.New("no peer asked for")
	if slices.ContainsFunc(o.servers, func(s string) bool { return s != "wharf" }) {
		uid, gid, cleanupUser, err = ensureUser(ctx, env.data, env.pass)
	}
	if err != nil {
		env.userErr = err.Error()
		logf(stderr, "peers unavailable: %v", err)
	} else {
		defer cleanupUser()
		env.user, r.uid, r.gid = benchUser, uid, gid
		if err := chownTree(env.data, uid, gid); err != nil {
			return err
		}
	}

	wharfBin, wharfSrc := o.wharfBin, "binary "+o.wharfBin
	if wharfBin == "" {
		wharfBin = filepath.Join(work, "wharf")
		logf(stderr, "building wharf")
		if wharfSrc, err = buildWharf(ctx, wharfBin); err != nil {
			return err
		}
	}
	var servers []*server
	for i, name := range o.servers {
		var s *server
		switch name {
		case "wharf":
			s = startWharf(ctx, env, name, wharfBin, i, o.want(soakName))
			s.version += ", " + wharfSrc
		case beforeName:
			s = startWharf(ctx, env, name, o.beforeBin, i, o.want(soakName))
			s.version += ", binary " + o.beforeBin
		case "vsftpd":
			s = startVsftpd(ctx, env, i)
		case "pure-ftpd":
			s = startPureFTPd(ctx, env, o.pureBin, i)
		}
		if s.skip != "" {
			logf(stderr, "%s: n/a: %s", name, s.skip)
		} else {
			logf(stderr, "%s (%s) on %s, pid %d", name, s.version, s.addr, s.pid)
			defer s.cpu.close()
			defer s.stop()
		}
		servers = append(servers, s)
	}

	res := newResults()
	var chosen []scenario
	for _, sc := range scenarios() {
		if o.want(sc.name) {
			chosen = append(chosen, sc)
		}
	}
	for round := 1; round <= o.rounds && len(chosen) > 0 && ctx.Err() == nil; round++ {
		for _, sc := range chosen {
			targets := servers
			if !sc.peers {
				targets = []*server{nil}
			}
			for _, s := range targets {
				if ctx.Err() != nil {
					break
				}
				name := "machine"
				if s != nil {
					if s.skip != "" {
						continue
					}
					name = s.name
				}
				t0 := time.Now()
				vals, err := sc.run(ctx, r, s)
				res.add(sc, name, vals, err)
				if o.verbose || err != nil {
					logf(stderr, "round %d %s %s (%.1fs): %v%s", round, sc.name, name, time.Since(t0).Seconds(), fmtVals(vals), errSuffix(err))
				}
			}
		}
		logf(stderr, "round %d done (%s elapsed)", round, time.Since(began).Round(time.Second))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep := ""
	if len(chosen) > 0 {
		rep = report(o, r, servers, chosen, res, where, time.Since(began))
	}
	var soakErrs []error
	if o.want(soakName) {
		for _, s := range servers {
			if s.skip != "" || ctx.Err() != nil {
				continue
			}
			logf(stderr, "soak %s: %d sessions for %s", s.name, o.soakSessions, o.soakDuration)
			sr, err := soak(ctx, r, s, stderr)
			if sr != nil {
				if rep != "" {
					rep += "\n"
				}
				rep += soakReport(o, sr, where)
			}
			if err != nil {
				logf(stderr, "%v", err)
				soakErrs = append(soakErrs, err)
			}
		}
	}
	fmt.Fprint(stdout, rep)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep), 0o644); err != nil {
			return err
		}
	}
	return errors.Join(soakErrs...)
}

// benchScenarios is whether any scenario other than the soak runs.
func (o *options) benchScenarios() bool {
	return slices.ContainsFunc(o.scenarios, func(s string) bool { return s != soakName })
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " error: " + err.Error()
}

func fmtVals(v map[string]float64) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s = %.4g", k, v[k])
	}
	return b.String()
}

// machine describes the host for the report.
func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "?"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("%d CPUs (%s), Linux %s, %s %s/%s", runtime.NumCPU(), cpu, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
