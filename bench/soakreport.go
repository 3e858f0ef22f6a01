package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// resSample is the server's resources at one moment; -1 is unknown.
type resSample struct {
	rssKiB     int64
	fds        int64
	threads    int64
	goroutines int64
}

// resProber samples the server's process tree from /proc and, when it has a
// metrics listener, its go_goroutines.
type resProber struct {
	pid     int
	metrics string
	hc      *http.Client
}

func newResProber(srv *server) *resProber {
	return &resProber{pid: srv.pid, metrics: srv.metrics, hc: &http.Client{Timeout: 5 * time.Second}}
}

func (p *resProber) sample() resSample {
	s := resSample{rssKiB: -1, fds: -1, threads: -1, goroutines: -1}
	for _, pid := range procTree(p.pid) {
		status := fmt.Sprintf("/proc/%d/status", pid)
		if v, err := kibField(status, "VmRSS"); err == nil {
			s.rssKiB = max(s.rssKiB, 0) + v
		}
		if v, err := kibField(status, "Threads"); err == nil {
			s.threads = max(s.threads, 0) + v
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			s.fds = max(s.fds, 0) + int64(len(ents))
		}
	}
	if m := p.scrape(); m != nil {
		if v, ok := m["go_goroutines"]; ok {
			s.goroutines = int64(v)
		}
	}
	return s
}

// counters returns the server's transfer, TLS, login and connection counters.
func (p *resProber) counters() map[string]float64 {
	out := map[string]float64{}
	for k, v := range p.scrape() {
		for _, prefix := range []string{"wharf_transfers_total", "wharf_transfer_bytes_total", "wharf_tls_handshakes_total",
			"wharf_logins_total", "wharf_connections_total", "wharf_passive_ports_exhausted_total"} {
			if k == prefix || strings.HasPrefix(k, prefix+"{") {
				out[k] = v
			}
		}
	}
	return out
}

func (p *resProber) scrape() map[string]float64 {
	if p.metrics == "" {
		return nil
	}
	resp, err := p.hc.Get("http://" + p.metrics + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	return parseProm(io.LimitReader(resp.Body, 16<<20))
}

// parseProm reads Prometheus text format: series (name and labels, as
// written) → value. Comments and unreadable lines are skipped.
func parseProm(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		series, val := strings.TrimSpace(l[:i]), l[i+1:]
		// A timestamp may follow the value.
		if j := strings.LastIndexByte(series, ' '); j >= 0 && !strings.HasSuffix(series, "}") {
			series, val = strings.TrimSpace(series[:j]), series[j+1:]
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		out[series] = v
	}
	return out
}

// spread returns the minimum, median and maximum of the known values.
func spread(v []int64) (lo, med, hi int64, ok bool) {
	var known []int64
	for _, x := range v {
		if x >= 0 {
			known = append(known, x)
		}
	}
	if len(known) == 0 {
		return 0, 0, 0, false
	}
	slices.Sort(known)
	n := len(known)
	med = known[n/2]
	if n%2 == 0 {
		med = (known[n/2-1] + known[n/2]) / 2
	}
	return known[0], med, known[n-1], true
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// soakReport renders one soak's result as markdown.
func soakReport(o *options, res *soakResult, where string) string {
	var b strings.Builder
	st := res.st
	ops, byts := res.ops()
	secs := res.took.Seconds()
	half := res.sessions / 2
	fmt.Fprintf(&b, "## Soak: %s, %d sessions (%d plain, %d explicit FTPS) for %s\n\n",
		res.srv.name, res.sessions, res.sessions-half, half, res.duration)
	fmt.Fprintf(&b, "- command: `go run ./bench %s`\n", strings.Join(o.args, " "))
	fmt.Fprintf(&b, "- machine: %s\n", machine())
	fmt.Fprintf(&b, "- server: %s, pid %d, files on %s\n", res.srv.version, res.srv.pid, where)
	fmt.Fprintf(&b, "- took %s (sessions started over the first %s, each finishing its operation after the end)\n",
		res.took.Round(100*time.Millisecond), min(res.duration/10, 10*time.Second))
	fmt.Fprintf(&b, "- operations: %d, %.0f/s; data verified: %s (%.1f MB/s)\n", ops, float64(ops)/secs, fmtMB(byts), float64(byts)/1e6/secs)
	fmt.Fprintf(&b, "- logins: %d plain, %d TLS; TLS data connections: %d, %d resumed the control connection's session\n",
		st.logins[0], st.logins[1], st.tlsData, st.tlsResumed)
	fmt.Fprintf(&b, "- errors: %d, of them **%d `226` with wrong or empty data**; %d transfers right and answered 226 whose data connection ended with an error\n\n",
		st.errCount(""), st.errCount(eWrong226), st.unclean)

	b.WriteString("| operation | plain | TLS | bytes verified | time: median | 99th percentile | max |\n|---|---|---|---|---|---|---|\n")
	for op := range nOps {
		fmt.Fprintf(&b, "| %s | %d | %d | %s |", soakOpName(op, o.soakBig), st.ops[op][0], st.ops[op][1], fmtMB(st.bytes[op][0]+st.bytes[op][1]))
		if p50, p99, most, ok := st.latency(op); ok {
			fmt.Fprintf(&b, " %s | %s | %s |\n", fmtDur(p50), fmtDur(p99), fmtDur(most))
		} else {
			b.WriteString(" n/a | n/a | n/a |\n")
		}
	}

	b.WriteString("\n| error kind | plain | TLS | what it counts |\n|---|---|---|---|\n")
	kinds := res.kinds()
	for _, k := range soakKinds {
		c := kinds[k]
		name := k
		if k == eWrong226 {
			name = "**" + k + "**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s |\n", name, c[0], c[1], soakKindDoc[k])
	}

	fmt.Fprintf(&b, "\nServer resources (process tree; sampled every %s from the bench process, %d samples while the sessions ran; "+
		"before: idle, after: 3 s after the last session quit):\n\n", o.soakSample, len(res.during))
	b.WriteString("| resource | before | min | median | max | after |\n|---|---|---|---|---|---|\n")
	row := func(name string, get func(resSample) int64, f func(int64) string) {
		vals := make([]int64, len(res.during))
		for i, s := range res.during {
			vals[i] = get(s)
		}
		cell := func(v int64) string {
			if v < 0 {
				return "n/a"
			}
			return f(v)
		}
		lo, med, hi, ok := spread(vals)
		if !ok {
			lo, med, hi = -1, -1, -1
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", name, cell(get(res.before)), cell(lo), cell(med), cell(hi), cell(get(res.after)))
	}
	mib := func(v int64) string { return fmt.Sprintf("%.1f", float64(v)/1024) }
	num := func(v int64) string { return strconv.FormatInt(v, 10) }
	row("RSS (MiB)", func(s resSample) int64 { return s.rssKiB }, mib)
	row("open fds", func(s resSample) int64 { return s.fds }, num)
	row("goroutines (`go_goroutines`)", func(s resSample) int64 { return s.goroutines }, num)
	row("OS threads", func(s resSample) int64 { return s.threads }, num)

	if len(res.countersAfter) > 0 {
		b.WriteString("\nServer counters during the soak (change from before to after):\n\n| series | change |\n|---|---|\n")
		keys := make([]string, 0, len(res.countersAfter))
		for k := range res.countersAfter {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if d := res.countersAfter[k] - res.countersBefore[k]; d != 0 {
				fmt.Fprintf(&b, "| `%s` | %.0f |\n", k, d)
			}
		}
		fmt.Fprintf(&b, "\nClient side: %d downloads and %d uploads answered 226 with the right bytes.\n",
			st.ops[opRetr][0]+st.ops[opRetr][1]+st.ops[opBig][0]+st.ops[opBig][1]+st.ops[opReadBack][0]+st.ops[opReadBack][1],
			st.ops[opStor][0]+st.ops[opStor][1])
	}
	if res.srv.logPath != "" {
		fmt.Fprintf(&b, "\nServer log during the soak: %d warn and %d error lines (and passive ports released unused, logged at info)", res.logWarn, res.logError)
		if len(res.logMsgs) > 0 {
			b.WriteString(":")
			for i, k := range sortedKeys(res.logMsgs) {
				if i == 8 {
					b.WriteString(" …")
					break
				}
				fmt.Fprintf(&b, " %q × %d;", k, res.logMsgs[k])
			}
		}
		b.WriteString("\n")
	}
	if len(st.details) > 0 {
		b.WriteString("\nFirst errors of each kind (every `226` with wrong data):\n\n```\n")
		for _, d := range st.details {
			b.WriteString(d + "\n")
		}
		b.WriteString("```\n")
	}
	return b.String()
}
