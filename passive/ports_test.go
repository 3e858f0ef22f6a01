package passive

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewPorts(t *testing.T) {
	tests := []struct {
		name              string
		listen, announced PortRange
		wantErr           string
	}{
		{name: "plain", listen: PortRange{50000, 50099}},
		{name: "mapped", listen: PortRange{50000, 50099}, announced: PortRange{40000, 40099}},
		{name: "whole range", listen: PortRange{1, 65535}},
		{name: "zero listen", wantErr: "passive port range 0-0 is not a range"},
		{name: "reversed listen", listen: PortRange{10, 5}, wantErr: "passive port range 10-5 is not a range"},
		{name: "bad announced", listen: PortRange{1, 2}, announced: PortRange{0, 1}, wantErr: "announced port range 0-1 is not a range"},
		{name: "count mismatch", listen: PortRange{50000, 50099}, announced: PortRange{40000, 40009},
			wantErr: "announced port range 40000-40009 has 10 ports, the passive range 50000-50099 has 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPorts(tt.listen, tt.announced)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewPorts error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPorts: %v", err)
			}
			if p.Listen() != tt.listen || p.Announced() != tt.announced {
				t.Errorf("Listen, Announced = %v, %v", p.Listen(), p.Announced())
			}
			if p.NumberAttempts() != min(tt.listen.Len(), maxAttempts) || p.InUse() != 0 || p.Exhausted() != 0 {
				t.Errorf("NumberAttempts, InUse, Exhausted = %d, %d, %d", p.NumberAttempts(), p.InUse(), p.Exhausted())
			}
		})
	}
}

// fakeListener is a net.Listener that only has an address.
type fakeListener struct {
	addr   net.Addr
	closed int
}

func (f *fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (f *fakeListener) Close() error              { f.closed++; return nil }
func (f *fakeListener) Addr() net.Addr            { return f.addr }

func fakeTCP(port int) *fakeListener {
	return &fakeListener{addr: &net.TCPAddr{IP: net.IPv4zero, Port: port}}
}

func TestPortsFetchNextMapping(t *testing.T) {
	tests := []struct {
		name              string
		listen, announced PortRange
		inUse             []int // listened ports held by our listeners
	}{
		{name: "plain", listen: PortRange{50000, 50009}},
		{name: "mapped", listen: PortRange{50000, 50009}, announced: PortRange{40000, 40009}},
		{name: "mapped upwards", listen: PortRange{2000, 2009}, announced: PortRange{60000, 60009}},
		{name: "some in use", listen: PortRange{50000, 50009}, announced: PortRange{40000, 40009},
			inUse: []int{50000, 50003, 50009}},
		{name: "all but one in use", listen: PortRange{50000, 50003}, inUse: []int{50000, 50001, 50003}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPorts(tt.listen, tt.announced)
			if err != nil {
				t.Fatal(err)
			}
			used := map[int]bool{}
			for _, port := range tt.inUse {
				p.WrapListener(fakeTCP(port))
				used[port] = true
			}
			if p.InUse() != len(tt.inUse) {
				t.Fatalf("InUse() = %d, want %d", p.InUse(), len(tt.inUse))
			}
			seen := map[int]bool{}
			for range 300 {
				exposed, listened, ok := p.FetchNext()
				if !ok {
					t.Fatal("FetchNext failed with free ports")
				}
				if !tt.listen.Contains(listened) || used[listened] {
					t.Fatalf("FetchNext listened = %d: outside %v or in use", listened, tt.listen)
				}
				want := listened
				if !tt.announced.IsZero() {
					want = tt.announced.First + listened - tt.listen.First
				}
				if exposed != want {
					t.Fatalf("FetchNext = %d, %d: exposed want %d", exposed, listened, want)
				}
				seen[listened] = true
			}
			if free := tt.listen.Len() - len(tt.inUse); len(seen) != free {
				t.Errorf("FetchNext handed out %d distinct ports, want all %d free ones", len(seen), free)
			}
		})
	}
}

func TestPortsWrapListener(t *testing.T) {
	p, err := NewPorts(PortRange{50000, 50002}, PortRange{})
	if err != nil {
		t.Fatal(err)
	}
	outside := fakeTCP(40000)
	if got := p.WrapListener(outside); got != outside || p.InUse() != 0 {
		t.Fatalf("a listener outside the range was wrapped or counted (InUse %d)", p.InUse())
	}
	notTCP := &fakeListener{addr: &net.UnixAddr{Name: "x", Net: "unix"}}
	if got := p.WrapListener(notTCP); got != notTCP || p.InUse() != 0 {
		t.Fatal("a non-TCP listener was wrapped or counted")
	}

	// The same port twice (ftpserverlib's multiplexed reservations of one
	// shared listener): the first closed is held open until the port's last
	// one closes, because closing a reservation drops any newer reservation
	// of the same client address on that port.
	a, b := fakeTCP(50001), fakeTCP(50001)
	wa, wb := p.WrapListener(a), p.WrapListener(b)
	if p.InUse() != 1 {
		t.Fatalf("InUse() = %d, want 1", p.InUse())
	}
	_ = wa.Close()
	_ = wa.Close()
	if p.InUse() != 1 || a.closed != 0 {
		t.Fatalf("after closing one of two: InUse() = %d (want 1), underlying closes %d (want 0: held)", p.InUse(), a.closed)
	}
	_ = wb.Close()
	if p.InUse() != 0 || a.closed != 1 || b.closed != 1 {
		t.Fatalf("after closing both: InUse() = %d (want 0), closes %d and %d (want 1 each)", p.InUse(), a.closed, b.closed)
	}
	if err := wb.(*portListener).SetDeadline(time.Now()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SetDeadline on a listener without it = %v", err)
	}
}

// freeRange returns a range of n consecutive ports that can be bound on
// 0.0.0.0 and 127.0.0.1 right now.
func freeRange(t *testing.T, n int) PortRange {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		first := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		r := PortRange{first, first + n - 1}
		if r.Last > maxPort {
			continue
		}
		p, err := NewPorts(r, PortRange{})
		if err != nil {
			t.Fatal(err)
		}
		if free, _ := p.CheckBindable("0.0.0.0"); free != n {
			continue
		}
		if free, _ := p.CheckBindable("127.0.0.1"); free == n {
			return r
		}
	}
	t.Fatalf("found no %d consecutive free ports", n)
	return PortRange{}
}

// errBindRace tells a scenario to retry with other ports: another process
// took one of ours.
var errBindRace = errors.New("bind race")

// withFreeRange runs scenario on a fresh range of n free ports, again with
// another range when it reports errBindRace, a bounded number of times.
func withFreeRange(t *testing.T, n int, scenario func(r PortRange) error) {
	t.Helper()
	for range 5 {
		err := scenario(freeRange(t, n))
		if errors.Is(err, errBindRace) {
			t.Logf("retrying with other ports: %v", err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("ports kept being taken by others")
}

func TestPortsExhaustion(t *testing.T) {
	withFreeRange(t, 3, func(r PortRange) error {
		p, err := NewPorts(r, PortRange{})
		if err != nil {
			return err
		}
		var hookMu sync.Mutex
		hooks := 0
		p.OnExhausted(func() { hookMu.Lock(); hooks++; hookMu.Unlock() })
		hookCalls := func() int { hookMu.Lock(); defer hookMu.Unlock(); return hooks }

		wrapped := map[int]net.Listener{}
		defer func() {
			for _, l := range wrapped {
				_ = l.Close()
			}
		}()
		take := func() error {
			p.NumberAttempts()
			_, listened, ok := p.FetchNext()
			if !ok {
				return fmt.Errorf("FetchNext failed with %d of 3 ports in use", p.InUse())
			}
			if _, dup := wrapped[listened]; dup || !r.Contains(listened) {
				return fmt.Errorf("FetchNext returned %d: in use or outside %v", listened, r)
			}
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(listened))
			if err != nil {
				return fmt.Errorf("%w: %v", errBindRace, err)
			}
			wrapped[listened] = p.WrapListener(l)
			return nil
		}
		for range 3 {
			if err := take(); err != nil {
				return err
			}
		}
		if p.InUse() != 3 {
			return fmt.Errorf("InUse() = %d, want 3", p.InUse())
		}

		// Exhaustion: one attempt with several refused FetchNext calls counts once.
		p.NumberAttempts()
		for range 4 {
			if _, _, ok := p.FetchNext(); ok {
				return errors.New("FetchNext succeeded with every port in use")
			}
		}
		if p.Exhausted() != 1 || hookCalls() != 1 {
			return fmt.Errorf("after one attempt: Exhausted() = %d, hook calls %d; want 1, 1", p.Exhausted(), hookCalls())
		}
		// A new attempt counts again.
		p.NumberAttempts()
		if _, _, ok := p.FetchNext(); ok {
			return errors.New("FetchNext succeeded with every port in use")
		}
		if p.Exhausted() != 2 || hookCalls() != 2 {
			return fmt.Errorf("after two attempts: Exhausted() = %d, hook calls %d; want 2, 2", p.Exhausted(), hookCalls())
		}

		// CheckBindable sees them busy.
		if free, err := p.CheckBindable("127.0.0.1"); free != 0 || err == nil || !strings.Contains(err.Error(), "3 of 3 passive ports cannot be bound") {
			return fmt.Errorf("CheckBindable with all in use = %d, %v", free, err)
		}

		// Accept hands out the raw connection.
		var port int
		for port = range wrapped {
			break
		}
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		accepted, err := wrapped[port].Accept()
		if err != nil {
			return err
		}
		defer func() { _ = accepted.Close() }()
		if _, ok := accepted.(*net.TCPConn); !ok {
			return fmt.Errorf("Accept returned a %T, want the raw *net.TCPConn", accepted)
		}
		if err := wrapped[port].(*portListener).SetDeadline(time.Now().Add(time.Minute)); err != nil {
			return fmt.Errorf("SetDeadline: %v", err)
		}

		// Closing one frees it, and only it.
		_ = wrapped[port].Close()
		_ = wrapped[port].Close()
		delete(wrapped, port)
		if p.InUse() != 2 {
			return fmt.Errorf("InUse() = %d after closing one, want 2", p.InUse())
		}
		for range 20 {
			if _, listened, ok := p.FetchNext(); !ok || listened != port {
				return fmt.Errorf("FetchNext = %d, %v; want the freed port %d", listened, ok, port)
			}
		}
		if err := take(); err != nil {
			return err
		}
		if _, _, ok := p.FetchNext(); ok || p.Exhausted() != 3 {
			return fmt.Errorf("after re-filling: FetchNext ok=%v, Exhausted() = %d; want false, 3", ok, p.Exhausted())
		}

		for _, l := range wrapped {
			_ = l.Close()
		}
		clear(wrapped)
		if p.InUse() != 0 {
			return fmt.Errorf("InUse() = %d after closing all, want 0", p.InUse())
		}
		if free, err := p.CheckBindable("127.0.0.1"); free != 3 || err != nil {
			return fmt.Errorf("CheckBindable after closing all = %d, %v; want 3, nil", free, err)
		}
		return nil
	})
}

func TestPortsReleasedWhenDropped(t *testing.T) {
	p, err := NewPorts(PortRange{50000, 50002}, PortRange{})
	if err != nil {
		t.Fatal(err)
	}
	underlying := fakeTCP(50001)
	func() {
		_ = p.WrapListener(underlying) // dropped without Close, as ftpserverlib may do
	}()
	if p.InUse() != 1 {
		t.Fatalf("InUse() = %d, want 1", p.InUse())
	}
	deadline := time.Now().Add(waitDeadline)
	for p.InUse() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a dropped listener's port was never released")
		}
		runtime.GC()
		time.Sleep(time.Millisecond) // let the cleanup goroutine run; polled with a deadline
	}
	// The cleanup runs on another goroutine; InUse (under the lock) saw its release.
	if underlying.closed != 1 {
		t.Fatalf("the dropped listener was closed %d times, want 1", underlying.closed)
	}
}

func TestPortsConcurrent(t *testing.T) {
	p, err := NewPorts(PortRange{50000, 50015}, PortRange{40000, 40015})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				p.NumberAttempts()
				if _, listened, ok := p.FetchNext(); ok {
					l := p.WrapListener(fakeTCP(listened))
					_ = p.InUse()
					_ = l.Close()
				}
			}
		})
	}
	wg.Wait()
	if p.InUse() != 0 {
		t.Fatalf("InUse() = %d after every listener closed, want 0", p.InUse())
	}
}

// TestPortsViews: a View hands out its own free ports first, then ports no
// View has used, so sequential use of one View keeps to one port and leaves
// the rest of the range to another View.
func TestPortsViews(t *testing.T) {
	p, err := NewPorts(PortRange{50000, 50003}, PortRange{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.View(), p.View()
	use := func(v *View) int {
		t.Helper()
		v.NumberAttempts()
		_, port, ok := v.FetchNext()
		if !ok {
			t.Fatal("FetchNext: no port")
		}
		_ = v.WrapListener(fakeTCP(port)).Close()
		return port
	}
	first := use(a)
	for i := range 20 {
		if got := use(a); got != first {
			t.Fatalf("sequential use %d of one view got port %d, want its own %d again", i, got, first)
		}
	}
	// While a's port is in use, a takes another; b never gets a's ports
	// while unused ones are free.
	held := a.WrapListener(fakeTCP(first))
	second := use(a)
	if second == first {
		t.Fatalf("a got its port %d while it was in use", first)
	}
	_ = held.Close()
	for range 20 {
		if got := use(b); got == first || got == second {
			t.Fatalf("b got port %d, one of a's (%d, %d), with unused ports free", got, first, second)
		}
	}
	if p.InUse() != 0 {
		t.Fatalf("InUse() = %d after every listener closed", p.InUse())
	}
}
