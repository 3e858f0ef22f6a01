package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procTree returns root and all its descendants, from /proc/*/stat.
func procTree(root int) []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		if ppid, ok := parseStatPPID(b); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out) && i < 1<<20; i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parseStatPPID returns the fourth field of /proc/PID/stat (the command name,
// the second field, may hold spaces and parentheses).
func parseStatPPID(b []byte) (int, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0, false
	}
	n, err := strconv.Atoi(f[1])
	return n, err == nil
}

// kibField returns the value in KiB of "Name:   123 kB" in a /proc file.
func kibField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := parseKiBLine(sc.Text(), name); ok {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}

func parseKiBLine(line, name string) (int64, bool) {
	rest, ok := strings.CutPrefix(line, name+":")
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseInt(f[0], 10, 64)
	return v, err == nil
}

// treePSS sums the proportional set size (KiB) of root's process tree.
func treePSS(root int) int64 {
	var sum int64
	for _, pid := range procTree(root) {
		v, err := kibField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss")
		if err == nil {
			sum += v
		}
	}
	return sum
}

// peakProbe measures the peak memory rise of a process tree during an
// operation: it resets every process's VmHWM (clear_refs 5) and remembers its
// RSS; rise() then sums, per process, VmHWM minus the RSS at the start (a
// process born meanwhile counts whole).
type peakProbe struct {
	root int
	base map[int]int64
}

func newPeakProbe(root int) *peakProbe {
	p := &peakProbe{root: root, base: map[int]int64{}}
	for _, pid := range procTree(root) {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
		if v, err := kibField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS"); err == nil {
			p.base[pid] = v
		}
	}
	return p
}

// rise returns the summed peak rise in KiB.
func (p *peakProbe) rise() int64 {
	var sum int64
	for _, pid := range procTree(p.root) {
		hwm, err := kibField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM")
		if err != nil {
			continue
		}
		if d := hwm - p.base[pid]; d > 0 {
			sum += d
		}
	}
	return sum
}
