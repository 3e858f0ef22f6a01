package admin_test

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/admin/admintest"
	"github.com/wharf-ftp/wharf/internal/testkit"
)

// The accounts of the test servers.
const (
	adminUser, adminPass   = "ops", "ops-secret-1"
	viewerUser, viewerPass = "watch", "watch-secret-2"
)

func testUsers(user, pass string) (string, bool) {
	accounts := map[string][2]string{
		adminUser:  {adminPass, admin.RoleAdmin},
		viewerUser: {viewerPass, admin.RoleViewer},
	}
	a, known := accounts[user]
	ok := subtle.ConstantTimeCompare([]byte(pass), []byte(a[0])) == 1
	return a[1], known && ok
}

// instance is an admin server on a real listener.
type instance struct {
	base     string // http://127.0.0.1:PORT or http://wharf (unix)
	client   *http.Client
	backend  *admintest.Backend
	server   *admin.Server
	mu       sync.Mutex
	failures []netip.Addr
}

func (in *instance) loginFailures() []netip.Addr {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]netip.Addr(nil), in.failures...)
}

// startTCP serves an admin server on 127.0.0.1:0.
func startTCP(t *testing.T, mod func(*admin.Options)) *instance {
	t.Helper()
	l, err := admin.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := serve(t, l, false, mod)
	in.base = "http://" + l.Addr().String()
	in.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	return in
}

// startUnix serves an admin server on a unix socket in a temporary folder.
func startUnix(t *testing.T, mod func(*admin.Options)) (*instance, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "admin.sock")
	l, err := admin.Listen("unix:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := serve(t, l, true, mod)
	in.base = "http://wharf"
	in.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	return in, path
}

func serve(t *testing.T, l net.Listener, unix bool, mod func(*admin.Options)) *instance {
	t.Helper()
	in := &instance{backend: admintest.New()}
	opt := admin.Options{
		Backend: in.backend,
		Users:   testUsers,
		Unix:    unix,
		OnLoginFailure: func(a netip.Addr) {
			in.mu.Lock()
			in.failures = append(in.failures, a)
			in.mu.Unlock()
		},
		LiveInterval: 50 * time.Millisecond,
	}
	if mod != nil {
		mod(&opt)
	}
	in.server = admin.New(opt)
	done := make(chan error, 1)
	go func() { done <- in.server.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := in.server.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return after shutdown")
		}
	})
	return in
}

// req describes one request.
type req struct {
	method, path string
	body         any // string/[]byte as is, else JSON
	user, pass   string
	header       map[string]string
}

// answer is a response read whole.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.code, err, a.body)
	}
}

// errorText is the "error" of a JSON error answer.
func (a answer) errorText(t *testing.T) string {
	t.Helper()
	var eb admin.ErrorBody
	a.json(t, &eb)
	if eb.Error == "" {
		t.Fatalf("error answer without error text: %s", a.body)
	}
	return eb.Error
}

func (in *instance) do(t *testing.T, r req) answer {
	t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = bytes.NewBufferString(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.method, in.base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, r.pass)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := in.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{code: resp.StatusCode, header: resp.Header, body: b}
}

// as makes requests as one account.
func (in *instance) as(user, pass string) func(t *testing.T, method, path string, body any) answer {
	return func(t *testing.T, method, path string, body any) answer {
		t.Helper()
		return in.do(t, req{method: method, path: path, body: body, user: user, pass: pass})
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, what, cond)
}
