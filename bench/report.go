package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// results holds every sample and every error, by metric and server.
type results struct {
	samples map[string]map[string][]float64
	errs    map[string]map[string]string
}

func newResults() *results {
	return &results{samples: map[string]map[string][]float64{}, errs: map[string]map[string]string{}}
}

// add records a scenario's values for one server; a metric of the scenario
// missing from vals gets err (or "no value").
func (r *results) add(sc scenario, server string, vals map[string]float64, err error) {
	for _, m := range sc.metrics {
		if v, ok := vals[m.key]; ok {
			if r.samples[m.key] == nil {
				r.samples[m.key] = map[string][]float64{}
			}
			r.samples[m.key][server] = append(r.samples[m.key][server], v)
			continue
		}
		msg := "no value"
		if err != nil {
			msg = err.Error()
		}
		if r.errs[m.key] == nil {
			r.errs[m.key] = map[string]string{}
		}
		r.errs[m.key][server] = msg
	}
}

// median returns the median of the samples, and false when there are none.
func (r *results) median(key, server string) (float64, bool) {
	return median(r.samples[key][server])
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// cell formats a median, or n/a with the reason.
func (r *results) cell(key, server string) string {
	if v, ok := r.median(key, server); ok {
		return fmtNum(v)
	}
	if e, ok := r.errs[key][server]; ok {
		return "n/a (" + shorten(e, 70) + ")"
	}
	return "n/a"
}

func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func shorten(s string, n int) string {
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// best returns the better peer's median for a metric.
func (r *results) best(m metric, peers []string) (name string, v float64, ok bool) {
	for _, p := range peers {
		pv, pok := r.median(m.key, p)
		if !pok {
			continue
		}
		if !ok || (m.higher && pv > v) || (!m.higher && pv < v) {
			name, v, ok = p, pv, true
		}
	}
	return name, v, ok
}

// report renders the markdown report.
func report(o *options, r *runner, servers []*server, chosen []scenario, res *results, where string, took time.Duration) string {
	var b strings.Builder
	var names, peers []string
	for _, s := range servers {
		names = append(names, s.name)
		if s.name != "wharf" && s.name != beforeName {
			peers = append(peers, s.name)
		}
	}
	before := slices.Contains(names, beforeName)
	fmt.Fprintf(&b, "## Results: medians of %d rounds\n\n", o.rounds)
	extra, extraSep := "", ""
	if before {
		extra, extraSep = " wharf / before |", "---|"
	}
	fmt.Fprintf(&b, "| metric | unit | %s |%s best peer | wharf / best | target | met |\n", strings.Join(names, " | "), extra)
	fmt.Fprintf(&b, "|---|---|%s%s---|---|---|---|\n", strings.Repeat("---|", len(names)), extraSep)
	for _, sc := range chosen {
		if !sc.peers {
			continue
		}
		for _, m := range sc.metrics {
			fmt.Fprintf(&b, "| %s | %s |", m.key, m.unit)
			for _, n := range names {
				fmt.Fprintf(&b, " %s |", res.cell(m.key, n))
			}
			if before {
				q := "n/a"
				wv, wok := res.median(m.key, "wharf")
				pv, pok := res.median(m.key, beforeName)
				if wok && pok && pv != 0 {
					q = fmt.Sprintf("%.2f×", wv/pv)
				}
				fmt.Fprintf(&b, " %s |", q)
			}
			bn, bv, bok := res.best(m, peers)
			wv, wok := res.median(m.key, "wharf")
			ratio, target, met := "n/a", "—", ""
			if bok {
				bn = fmt.Sprintf("%s (%s)", fmtNum(bv), bn)
			} else {
				bn = "n/a"
			}
			if bok && wok && bv != 0 {
				q := wv / bv
				ratio = fmt.Sprintf("%.2f×", q)
				if m.target > 0 {
					ok := (m.higher && q >= m.target) || (!m.higher && q <= m.target)
					met = map[bool]string{true: "yes", false: "**no**"}[ok]
				}
			}
			if m.target > 0 {
				op := "≥"
				if !m.higher {
					op = "≤"
				}
				target = fmt.Sprintf("%s %.2f×", op, m.target)
			}
			fmt.Fprintf(&b, " %s | %s | %s | %s |\n", bn, ratio, target, met)
		}
	}
	if slices.ContainsFunc(chosen, func(s scenario) bool { return !s.peers }) {
		b.WriteString("\n## Ceilings (Go on both ends), and wharf as a fraction of them\n\n")
		b.WriteString("| metric | unit | median |\n|---|---|---|\n")
		for _, k := range []string{mCeilTCP, mCeilSendfile, mCeilAES, mCeilTLS} {
			fmt.Fprintf(&b, "| %s | MB/s | %s |\n", k, res.cell(k, "machine"))
		}
		frac := func(label, what, of string, target float64) {
			wv, ok1 := res.median(what, "wharf")
			cv, ok2 := res.median(of, "machine")
			if !ok1 || !ok2 || cv == 0 {
				return
			}
			met := map[bool]string{true: "yes", false: "**no**"}[wv/cv >= target]
			fmt.Fprintf(&b, "| %s | ratio | %.2f (target ≥ %.2f: %s) |\n", label, wv/cv, target, met)
		}
		frac("wharf plain download / loopback TCP (memory)", mDownload, mCeilTCP, 0.8)
		frac("wharf plain download / loopback TCP (sendfile)", mDownload, mCeilSendfile, 0.8)
		frac("wharf TLS download / Go TLS stream", mDownloadTLS, mCeilTLS, 0.7)
	}

	b.WriteString("\n## Run\n\n")
	fmt.Fprintf(&b, "- machine: %s\n", machine())
	for _, s := range servers {
		state := "measured"
		if s.skip != "" {
			state = "n/a: " + s.skip
		}
		v := s.version
		if v == "" {
			v = "?"
		}
		fmt.Fprintf(&b, "- %s: %s (%s)", s.name, v, state)
		if t, ok := r.notes.Load(s.name); ok {
			fmt.Fprintf(&b, "; TLS data: %s", t)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "- files on %s; big file %s, parallel file %s, %d small files of %s, %d idle sessions, %d parallel downloads, %d login workers for %s, %d directory entries\n",
		where, formatBytes(o.size), formatBytes(o.parallelSize), o.smallCount, formatBytes(o.smallSize),
		o.sessions, o.parallel, o.loginWorkers, o.loginDuration, o.listEntries)
	fmt.Fprintf(&b, "- order each round: %s, each scenario in turn; took %s\n", strings.Join(o.servers, ", "), took.Round(time.Second))

	b.WriteString("\n## Every sample\n\n| metric | server | samples |\n|---|---|---|\n")
	for _, sc := range chosen {
		for _, m := range sc.metrics {
			for _, n := range append(slices.Clone(names), "machine") {
				v := res.samples[m.key][n]
				if len(v) == 0 {
					continue
				}
				parts := make([]string, len(v))
				for i, x := range v {
					parts[i] = fmtNum(x)
				}
				fmt.Fprintf(&b, "| %s | %s | %s |\n", m.key, n, strings.Join(parts, ", "))
			}
		}
	}
	return b.String()
}
