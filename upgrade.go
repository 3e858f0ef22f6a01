package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cloudflare/tableflip"

	"github.com/wharf-ftp/wharf/server"
)

// reportName names the file each upgrade hands to the new process: a pipe for
// the lines it would print on its way out should it fail to start (a
// configuration file's FILE:LINE: message lines), so that the old process,
// which goes on serving, logs them.
const reportName = "wharf-upgrade-report"

// reportEnd is the line the old process writes on the report pipe once the
// upgrade is over: everything the new process wrote comes before it.
const reportEnd = "\x00wharf: end of report"

// Bounds on what the old process keeps of a report.
const (
	maxReportLines    = 100
	maxReportLineSize = 1000
)

// upgrader runs gapless upgrades over a tableflip.Upgrader, one at a time.
type upgrader struct {
	upg     *tableflip.Upgrader
	busy    atomic.Bool
	results chan upgradeResult
}

// upgradeResult is the outcome of one upgrade: err nil once the new process is
// ready; otherwise why it failed, and the lines the new process reported.
type upgradeResult struct {
	err    error
	report []string
}

var errUpgradeRunning = errors.New("an upgrade is already in progress")

func newUpgrader(upg *tableflip.Upgrader) *upgrader {
	return &upgrader{upg: upg, results: make(chan upgradeResult, 1)}
}

// start starts an upgrade; its outcome arrives on results.
func (u *upgrader) start() error {
	if !u.busy.CompareAndSwap(false, true) {
		return errUpgradeRunning
	}
	go func() { u.results <- u.run() }()
	return nil
}

// failed lets a new upgrade start after one that failed.
func (u *upgrader) failed() { u.busy.Store(false) }

func (u *upgrader) run() upgradeResult {
	r, w, err := os.Pipe()
	if err != nil {
		return upgradeResult{err: err}
	}
	defer r.Close()
	defer w.Close()
	if err := u.upg.AddFile(reportName, w); err != nil {
		return upgradeResult{err: err}
	}
	lines := make(chan []string, 1)
	go func() { lines <- readReport(r) }()
	err = u.upg.Upgrade()
	// The new process has exited, been killed, or is ready: what it wrote is
	// in the pipe, ahead of this line.
	if _, werr := io.WriteString(w, "\n"+reportEnd+"\n"); werr != nil {
		r.Close()
	}
	return upgradeResult{err: err, report: <-lines}
}

// readReport reads the report pipe up to reportEnd: its non-empty lines, within
// the bounds above.
func readReport(r io.Reader) []string {
	var out []string
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == reportEnd {
			return out
		}
		if line != "" && len(out) < maxReportLines {
			if len(line) > maxReportLineSize {
				line = line[:maxReportLineSize] + "…"
			}
			out = append(out, line)
		}
		if err != nil {
			return out
		}
	}
}

// reportWriter is where a process started by an upgrade writes why it fails to
// start: the old process's report pipe, or stderr when there is none or it
// cannot be written.
type reportWriter struct {
	pipe   *os.File
	stderr io.Writer
}

func (w *reportWriter) Write(p []byte) (int, error) {
	if w.pipe != nil {
		if n, err := w.pipe.Write(p); err == nil {
			return n, nil
		}
		w.pipe = nil
	}
	return w.stderr.Write(p)
}

// close closes the pipe: once the process serves, nothing more is reported.
func (w *reportWriter) close() {
	if w.pipe != nil {
		w.pipe.Close()
		w.pipe = nil
	}
}

// inherit makes the listen function of a server run under upg: a listener the
// old process handed over for the same network and address is taken over,
// any other is made by create and handed on at the next upgrade. An address
// with port 0 is always made anew: two of them would share one name.
func inherit(upg *tableflip.Upgrader) server.ListenFunc {
	return func(network, addr string, create func(network, addr string) (net.Listener, error)) (net.Listener, error) {
		if network == "tcp" {
			if _, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
				return create(network, addr)
			}
		}
		ln, err := upg.Listener(network, addr)
		if err != nil || ln != nil {
			return ln, err
		}
		ln, err = create(network, addr)
		if err != nil {
			return nil, err
		}
		tl, ok := ln.(tableflip.Listener)
		if !ok {
			return ln, nil
		}
		if err := upg.AddListener(network, addr, tl); err != nil {
			ln.Close()
			return nil, err
		}
		return ln, nil
	}
}

// stopped finishes a stop without an upgrade: it lets upg remove the admin
// socket, and removes the PID file if it still names this process.
func stopped(upg *tableflip.Upgrader, pidFile string) {
	select {
	case <-upg.Exit():
	case <-time.After(5 * time.Second):
	}
	if pidFile == "" {
		return
	}
	if b, err := os.ReadFile(pidFile); err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(os.Getpid()) {
		_ = os.Remove(pidFile)
	}
}
