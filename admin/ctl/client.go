package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/internal/term"
)

// requestTimeout bounds one API call; a reload may take a while.
const requestTimeout = 2 * time.Minute

// maxAnswer bounds an answer's body.
const maxAnswer = 64 << 20

// client calls the admin API at one address.
type client struct {
	base       string // scheme://host
	unix       bool
	http       *http.Client
	user, pass string
}

// newClient parses an admin address: unix:PATH, http(s)://host:port, or a
// bare host:port (HTTP). A wildcard host (0.0.0.0, [::]) means this machine.
func newClient(addr string) (*client, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("admin address %q: no socket path", addr)
		}
		var d net.Dialer
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", path)
			},
			DisableCompression: true,
		}
		return &client{base: "http://wharf", unix: true, http: &http.Client{Transport: tr, Timeout: requestTimeout}}, nil
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return nil, fmt.Errorf("admin address %q: want unix:PATH, http://host:port or https://host:port", strings.TrimPrefix(addr, "http://"))
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: want host:port", u.Host)
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.Is6() {
			host = "::1"
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the admin API is never reached through a proxy
	return &client{base: u.Scheme + "://" + net.JoinHostPort(host, port), http: &http.Client{Transport: tr, Timeout: requestTimeout}}, nil
}

// answer is an API answer.
type answer struct {
	code int
	body []byte
}

// call sends a request with an optional JSON body.
func (c *client) call(method, path string, body any) (*answer, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if !c.unix {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return &answer{code: resp.StatusCode, body: b}, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// expect calls the API and checks the status code; any other is reported on
// stderr (with a rejected reload's lines), and with --json its body goes to
// stdout, and the result is errReported.
func (c *client) expect(o *options, method, path string, body any, want int) (*answer, error) {
	a, err := c.call(method, path, body)
	if err != nil {
		return nil, err
	}
	if a.code == want {
		return a, nil
	}
	var eb admin.ErrorBody
	if json.Unmarshal(a.body, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(a.body))
	}
	if o.json && json.Valid(a.body) {
		o.stdout.Write(a.body)
	}
	msg := eb.Error
	switch a.code {
	case http.StatusUnauthorized:
		msg = fmt.Sprintf("user %q: wrong user name or password", c.user)
	case http.StatusForbidden:
		msg = "refused: " + eb.Error
	}
	fmt.Fprintf(o.stderr, "wharf ctl: %s (HTTP %d)\n", msg, a.code)
	for _, line := range eb.Errors {
		fmt.Fprintln(o.stderr, line)
	}
	return nil, errReported
}

// getJSON fetches path into v; with --json the body is printed as it came and
// v is left alone (printed reports that).
func (c *client) getJSON(o *options, path string, v any) (printed bool, err error) {
	a, err := c.expect(o, http.MethodGet, path, nil, http.StatusOK)
	if err != nil {
		return false, err
	}
	if o.json {
		printRaw(o, a.body)
		return true, nil
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return false, fmt.Errorf("unexpected answer from the admin API: %v", err)
	}
	return false, nil
}

func printRaw(o *options, b []byte) {
	o.stdout.Write(b)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		io.WriteString(o.stdout, "\n")
	}
}

// promptPassword asks for the password on a terminal, without echo.
func promptPassword(stdin io.Reader, stderr io.Writer, user string) (string, error) {
	if _, ok := stdin.(*os.File); !ok {
		return "", fmt.Errorf("no password: set %s", PasswordEnv)
	}
	restore, ok := term.NoEcho(stdin, stderr, "password for "+user+": ")
	if !ok {
		return "", fmt.Errorf("no password: set %s, or run on a terminal", PasswordEnv)
	}
	defer restore()
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password read")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
