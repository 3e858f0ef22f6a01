package server

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/fs"
)

// xferLog writes the transfer log in the xferlog format of wu-ftpd, ProFTPD and
// vsftpd, one line per completed or interrupted transfer:
//
//	current-time transfer-time remote-host file-size filename transfer-type
//	special-action-flag direction access-mode username service-name
//	authentication-method authenticated-user-id completion-status
type xferLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func newXferLog(path string) *xferLog { return &xferLog{path: path} }

func (x *xferLog) open() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.openLocked()
}

func (x *xferLog) openLocked() error {
	if x.path == "" {
		return nil
	}
	f, err := os.OpenFile(x.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	x.f = f
	return nil
}

// reopen closes the file and opens path (logrotate's postrotate SIGHUP).
func (x *xferLog) reopen(path string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.f != nil {
		_ = x.f.Close()
		x.f = nil
	}
	x.path = path
	return x.openLocked()
}

func (x *xferLog) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.f != nil {
		_ = x.f.Close()
		x.f = nil
	}
}

func (x *xferLog) write(t fs.Transfer, remote netip.Addr, u *auth.User) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.f == nil {
		return
	}
	_, _ = x.f.WriteString(xferLine(t, remote, u))
}

func xferLine(t fs.Transfer, remote netip.Addr, u *auth.User) string {
	end := t.Start.Add(t.Duration)
	secs := int64(t.Duration.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	direction, access, name := "o", "r", u.Name
	if t.Direction == fs.Upload {
		direction = "i"
	}
	if u.Anonymous {
		access, name = "a", "anonymous"
	}
	status := "c"
	if !t.Complete {
		status = "i"
	}
	return fmt.Sprintf("%s %d %s %d %s b _ %s %s %s ftp 0 * %s\n",
		end.Local().Format("Mon Jan _2 15:04:05 2006"), secs, remote.String(), t.Bytes,
		xferField(t.Path), direction, access, xferField(name), status)
}

// xferField keeps a field free of blanks, so the line splits into its 14 fields.
func xferField(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
}
