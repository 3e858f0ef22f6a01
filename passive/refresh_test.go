package passive

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-ftp/wharf/internal/testkit"
)

// waitDeadline bounds every wait of these tests.
const waitDeadline = 5 * time.Second

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, waitDeadline, what, cond)
}

// startAnnouncer starts a's refresh loop and returns a stop function that
// cancels it and checks that the loop is gone.
func startAnnouncer(t *testing.T, a *Announcer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a.Start(ctx)
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		done := make(chan struct{})
		go func() { a.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitDeadline):
			t.Fatal("refresh loop still running after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

func newLogger(lb *testkit.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(lb, nil)) }

// fakeLookup is an injectable DNS lookup with a settable answer.
type fakeLookup struct {
	mu    sync.Mutex
	addrs []netip.Addr
	err   error
	hosts []string
}

func (f *fakeLookup) set(err error, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.addrs = err, nil
	for _, s := range addrs {
		f.addrs = append(f.addrs, netip.MustParseAddr(s))
	}
}

func (f *fakeLookup) lookup(_ context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hosts = append(f.hosts, host)
	return f.addrs, f.err
}

func (f *fakeLookup) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.hosts...)
}

func TestAnnouncerDNS(t *testing.T) {
	tests := []struct {
		name    string
		addrs   []string
		err     error
		want    string
		wantLog string
	}{
		{name: "first ipv4 record", addrs: []string{"2001:db8::1", "203.0.113.9", "203.0.113.10"}, want: "203.0.113.9"},
		{name: "mapped record", addrs: []string{"::ffff:203.0.113.11"}, want: "203.0.113.11"},
		{name: "no ipv4 record", addrs: []string{"2001:db8::1"}, wantLog: `has no IPv4 address`},
		{name: "lookup error", err: errors.New("no such host"), wantLog: "no such host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lb testkit.Buffer
			fake := &fakeLookup{}
			fake.set(tt.err, tt.addrs...)
			a := NewAnnouncer(AnnouncerConfig{ExternalAddress: "ftp.example.com", Logger: newLogger(&lb)})
			a.lookupIP = fake.lookup
			client, local := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("10.0.0.1")

			if _, err := a.Address(client, local); err != nil || len(fake.calls()) != 0 {
				t.Fatalf("Address looked the name up (%v) or failed: %v", fake.calls(), err)
			}
			startAnnouncer(t, a)
			if got := fake.calls(); len(got) != 1 || got[0] != "ftp.example.com" {
				t.Fatalf("lookups after Start = %v, want one of ftp.example.com", got)
			}
			if got := a.External(); got != tt.want {
				t.Fatalf("External() = %q, want %q", got, tt.want)
			}
			wantAddr := tt.want
			if wantAddr == "" {
				wantAddr = "10.0.0.1"
			}
			if got, err := a.Address(client, local); err != nil || got != wantAddr {
				t.Fatalf("Address = %q, %v; want %q", got, err, wantAddr)
			}
			if tt.wantLog != "" && (!strings.Contains(lb.String(), "external address lookup failed") || !strings.Contains(lb.String(), tt.wantLog)) {
				t.Fatalf("log lacks the failure %q:\n%s", tt.wantLog, lb.String())
			}
		})
	}
}

// startDNS serves A queries for any name with answer, over UDP on
// 127.0.0.1:0, until the test ends. It returns a resolver using it.
func startDNS(t *testing.T, answer netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = pc.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], answer); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	})
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// dnsAnswer builds the reply to one DNS query: answer for an A question, no
// record for anything else.
func dnsAnswer(q []byte, answer netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	i++ // the root label
	if i+4 > len(q) {
		return nil
	}
	isA := q[i] == 0 && q[i+1] == 1
	question := q[12 : i+4]
	var ancount byte
	if isA {
		ancount = 1
	}
	resp := []byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, ancount, 0, 0, 0, 0}
	resp = append(resp, question...)
	if isA {
		ip := answer.As4()
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
		resp = append(resp, ip[:]...)
	}
	return resp
}

func TestAnnouncerDNSWithResolver(t *testing.T) {
	resolver := startDNS(t, netip.MustParseAddr("203.0.113.77"))
	a := NewAnnouncer(AnnouncerConfig{ExternalAddress: "ftp.wharf-test.example", Resolver: resolver})
	startAnnouncer(t, a)
	if got := a.External(); got != "203.0.113.77" {
		t.Fatalf("External() = %q, want the A record 203.0.113.77", got)
	}
}

// ipServer is an httptest server answering the external IP, whose answer
// the test changes.
type ipServer struct {
	*httptest.Server
	status   atomic.Int32
	body     atomic.Pointer[string]
	requests atomic.Int64
}

func newIPServer(t *testing.T, status int, body string) *ipServer {
	t.Helper()
	s := &ipServer{}
	s.set(status, body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.requests.Add(1)
		w.WriteHeader(int(s.status.Load()))
		_, _ = w.Write([]byte(*s.body.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ipServer) set(status int, body string) {
	s.status.Store(int32(status))
	s.body.Store(&body)
}

// waitRequests waits until the server has received n more requests.
func (s *ipServer) waitRequests(t *testing.T, n int64) {
	t.Helper()
	target := s.requests.Load() + n
	eventually(t, "requests to the URL", func() bool { return s.requests.Load() >= target })
}

func TestAnnouncerURL(t *testing.T) {
	var lb testkit.Buffer
	srv := newIPServer(t, http.StatusOK, " 203.0.113.7\n")
	a := NewAnnouncer(AnnouncerConfig{ExternalURL: srv.URL, Refresh: 10 * time.Millisecond, Logger: newLogger(&lb)})
	stop := startAnnouncer(t, a)
	if got := a.External(); got != "203.0.113.7" {
		t.Fatalf("External() after Start = %q, want 203.0.113.7", got)
	}

	failures := []struct {
		status int
		body   string
		log    string
	}{
		{http.StatusInternalServerError, "203.0.113.99", "status 500"},
		{http.StatusOK, "not an address", `body \"not an address\" is not an IPv4 address`},
		{http.StatusOK, "2001:db8::1", "is not an IPv4 address"},
		{http.StatusOK, "", "is not an IPv4 address"},
		{http.StatusOK, strings.Repeat("1", 10000), "is not an IPv4 address"},
	}
	for _, f := range failures {
		srv.set(f.status, f.body)
		srv.waitRequests(t, 3)
		if got := a.External(); got != "203.0.113.7" {
			t.Fatalf("External() = %q after a failed fetch (%d %.20q), want the last good 203.0.113.7", got, f.status, f.body)
		}
		if !strings.Contains(lb.String(), f.log) {
			t.Fatalf("log lacks %q:\n%s", f.log, lb.String())
		}
	}

	srv.set(http.StatusOK, "203.0.113.8")
	eventually(t, "the refreshed address", func() bool { return a.External() == "203.0.113.8" })
	if !strings.Contains(lb.String(), "external address updated") {
		t.Fatalf("log lacks the update:\n%s", lb.String())
	}

	stop() // checks that the loop is gone
	if a.External() != "203.0.113.8" {
		t.Fatalf("External() = %q after stop, want the last good value", a.External())
	}
}

func TestAnnouncerStartDoesNotBlock(t *testing.T) {
	release := make(chan struct{})
	var arrived atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close

	a := NewAnnouncer(AnnouncerConfig{ExternalURL: srv.URL})
	a.startWait = 200 * time.Millisecond
	began := time.Now()
	stop := startAnnouncer(t, a)
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("Start took %v with a hanging URL", took)
	}
	if arrived.Load() != 1 {
		t.Fatalf("the URL got %d requests, want 1", arrived.Load())
	}
	if got, err := a.Address(netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("10.0.0.1")); err != nil || got != "10.0.0.1" {
		t.Fatalf("Address while the first fetch hangs = %q, %v; want the local 10.0.0.1", got, err)
	}
	stop() // the hanging fetch is cancelled and the loop ends
}

func TestAnnouncerStartDefaults(t *testing.T) {
	if defaultStartWait <= 0 || defaultStartWait > 5*time.Second {
		t.Fatalf("defaultStartWait = %v, want a few seconds", defaultStartWait)
	}
	a := NewAnnouncer(AnnouncerConfig{})
	if a.startWait != defaultStartWait || a.state.Load().cfg.Refresh != DefaultRefresh ||
		a.state.Load().cfg.HTTPClient.Timeout != 10*time.Second {
		t.Fatal("defaults not applied")
	}
}

func TestAnnouncerStartTwiceAndStatic(t *testing.T) {
	fake := &fakeLookup{}
	fake.set(nil, "203.0.113.9")
	a := NewAnnouncer(AnnouncerConfig{ExternalAddress: "ftp.example.com", Refresh: time.Hour})
	a.lookupIP = fake.lookup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.Start(ctx)
	a.Start(ctx) // no second loop
	if got := len(fake.calls()); got != 1 {
		t.Fatalf("%d lookups after two Starts, want 1", got)
	}
	cancel()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitDeadline):
		t.Fatal("refresh loop still running")
	}

	// A static source: Start returns at once and the loop ends with ctx.
	s := NewAnnouncer(AnnouncerConfig{ExternalAddress: "203.0.113.1"})
	s.startWait = time.Hour
	startAnnouncer(t, s)
	if s.External() != "203.0.113.1" {
		t.Fatalf("External() = %q", s.External())
	}
}

func TestAnnouncerUpdate(t *testing.T) {
	srv := newIPServer(t, http.StatusOK, "203.0.113.7")
	fake := &fakeLookup{}
	fake.set(nil, "203.0.113.20")
	local := prefixes(t, "10.0.0.0/8")
	a := NewAnnouncer(AnnouncerConfig{ExternalURL: srv.URL, Refresh: time.Hour})
	a.lookupIP = fake.lookup
	startAnnouncer(t, a)
	if a.External() != "203.0.113.7" {
		t.Fatalf("External() = %q after Start", a.External())
	}
	requests := srv.requests.Load()

	// Same source, other settings: the value is kept, nothing is fetched.
	a.Update(AnnouncerConfig{ExternalURL: srv.URL, Refresh: time.Hour, LocalNetworks: local})
	if a.External() != "203.0.113.7" {
		t.Fatalf("External() = %q after an Update keeping the URL", a.External())
	}
	if got, _ := a.Address(netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.0.0.1")); got != "10.0.0.1" {
		t.Fatalf("the new local networks are not used: %q", got)
	}

	// A literal: current at once.
	a.Update(AnnouncerConfig{ExternalAddress: "198.51.100.5", Refresh: time.Hour})
	if a.External() != "198.51.100.5" {
		t.Fatalf("External() = %q after Update to a literal", a.External())
	}

	// A DNS name: the running loop resolves it at once, not after Refresh.
	a.Update(AnnouncerConfig{ExternalAddress: "ftp.example.com", Refresh: time.Hour})
	eventually(t, "the new name to be resolved", func() bool { return a.External() == "203.0.113.20" })

	// Back to the URL: fetched again at once.
	a.Update(AnnouncerConfig{ExternalURL: srv.URL, Refresh: time.Hour})
	eventually(t, "the URL to be fetched again", func() bool { return a.External() == "203.0.113.7" })
	if srv.requests.Load() != requests+1 {
		t.Fatalf("URL requests = %d, want %d", srv.requests.Load(), requests+1)
	}

	// A late result for an old source is dropped.
	a.setExternal(source{kind: sourceDNS, value: "ftp.example.com"}, "192.0.2.66")
	if a.External() != "203.0.113.7" {
		t.Fatalf("a stale lookup result replaced the address: %q", a.External())
	}

	// No source: nothing external.
	a.Update(AnnouncerConfig{})
	if a.External() != "" {
		t.Fatalf("External() = %q with no source", a.External())
	}
}

func TestAnnouncerUpdateBeforeStart(t *testing.T) {
	fake := &fakeLookup{}
	fake.set(nil, "203.0.113.30")
	a := NewAnnouncer(AnnouncerConfig{})
	a.lookupIP = fake.lookup
	a.Update(AnnouncerConfig{ExternalAddress: "ftp.example.com"})
	if a.External() != "" || len(fake.calls()) != 0 {
		t.Fatal("Update looked the name up without Start")
	}
	startAnnouncer(t, a)
	if a.External() != "203.0.113.30" {
		t.Fatalf("External() = %q after Start", a.External())
	}
}
