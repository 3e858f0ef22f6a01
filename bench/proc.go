package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// cpuMeter counts the CPU time a server spends, every process it forks
// included (the peers fork one or two processes per session, which exit
// before a scenario ends). It puts the server into a cgroup v2 of its own and
// reads cpu.stat's usage_usec; where no cgroup v2 can be made (no root, no
// cgroup2 mount), it sums utime, stime, cutime and cstime over the live
// process tree, which misses children that exited without being waited for.
type cpuMeter struct {
	dir string // cgroup directory ("" = the /proc fallback)
	fd  int    // open directory, for SysProcAttr.CgroupFD
	pid func() int
}

// newCPUMeter makes the cgroup for the server named name; pid returns the
// root of its process tree for the fallback.
func newCPUMeter(name string, pid func() int) *cpuMeter {
	m := &cpuMeter{fd: -1, pid: pid}
	root := cgroup2Mount()
	if root == "" {
		return m
	}
	dir := filepath.Join(root, fmt.Sprintf("wharf-bench-%d-%s", os.Getpid(), name))
	if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
		return m
	}
	fd, err := syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(dir)
		return m
	}
	m.dir, m.fd = dir, fd
	return m
}

// attach makes a process started with attr begin inside the meter's cgroup.
func (m *cpuMeter) attach(attr *syscall.SysProcAttr) {
	if m == nil || m.dir == "" {
		return
	}
	attr.UseCgroupFD = true
	attr.CgroupFD = m.fd
}

// seconds returns the CPU time counted so far.
func (m *cpuMeter) seconds() (float64, bool) {
	if m == nil {
		return 0, false
	}
	if m.dir != "" {
		b, err := os.ReadFile(filepath.Join(m.dir, "cpu.stat"))
		if err == nil {
			if v, ok := statField(b, "usage_usec"); ok {
				return float64(v) / 1e6, true
			}
		}
		return 0, false
	}
	var ticks int64
	for _, pid := range procTree(m.pid()) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		ticks += statTicks(b)
	}
	return float64(ticks) / 100, ticks > 0 // USER_HZ is 100 on Linux
}

// close removes the cgroup once its processes are gone.
func (m *cpuMeter) close() {
	if m == nil || m.dir == "" {
		return
	}
	_ = syscall.Close(m.fd)
	_ = os.Remove(m.dir)
	m.dir = ""
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted ("" = none).
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 {
			return f[4]
		}
	}
	return ""
}

// statField returns the value of "name N" in a cgroup stat file.
func statField(b []byte, name string) (int64, bool) {
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// statTicks sums utime, stime, cutime and cstime (fields 14-17) of
// /proc/PID/stat.
func statTicks(b []byte) int64 {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); fields 14-17 are f[11:15].
	if len(f) < 15 {
		return 0
	}
	var sum int64
	for _, s := range f[11:15] {
		n, _ := strconv.ParseInt(s, 10, 64)
		sum += n
	}
	return sum
}

// cpuSpan measures a server's CPU seconds over one stretch of a scenario.
type cpuSpan struct {
	m     *cpuMeter
	start float64
	ok    bool
}

func (s *server) cpuStart() cpuSpan {
	if s.cpu == nil { // a server the bench did not start (in-process): its process tree
		s.cpu = &cpuMeter{fd: -1, pid: func() int { return s.pid }}
	}
	v, ok := s.cpu.seconds()
	return cpuSpan{m: s.cpu, start: v, ok: ok}
}

// per returns the CPU seconds spent since cpuStart divided by units, and
// whether it could be measured.
func (c cpuSpan) per(units float64) (float64, bool) {
	v, ok := c.m.seconds()
	if !ok || !c.ok || units <= 0 {
		return 0, false
	}
	return (v - c.start) / units, true
}
