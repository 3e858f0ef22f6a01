package hooks

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
)

// waitDelay bounds how long a command's output is read after it exits (or is
// killed): a process it left behind holding the output open does not hold
// the run.
const waitDelay = 2 * time.Second

// runCommand runs argv with body on stdin, in a process group of its own,
// and kills the whole group when ctx ends.
func runCommand(ctx context.Context, argv []string, body []byte) outcome {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	out := &tail{max: 512}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is the leader's pid: kill the leader and every
		// process it started that stayed in its group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if err == nil || errors.Is(err, exec.ErrWaitDelay) {
		return outcome{result: ResultOK}
	}
	detail := err.Error()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		detail = exit.ProcessState.String() // "exit status 3", "signal: killed"
	}
	return outcome{result: ResultFailed, detail: detail, output: out.String()}
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept output on one line, control characters replaced.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.ToValidUTF8(string(t.buf), "?")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
