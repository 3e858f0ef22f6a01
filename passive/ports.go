package passive

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

var _ ftpserver.PasvPortGetter = (*Ports)(nil)

// Ports hands out passive ports and tracks the ones in use by the listeners
// it wrapped. It implements ftpserverlib's PasvPortGetter: give it as
// Settings.PassiveTransferPortRange, and pass every passive listener through
// [Ports.WrapListener] (from MainDriverExtensionPassiveWrapper).
//
// The listened range may be mapped onto an announced range of the same
// length: exposed port i corresponds to listened port i, as with a router
// forwarding outside ports to the server.
//
// A Ports is safe for concurrent use.
type Ports struct {
	listen    PortRange
	announced PortRange

	mu      sync.Mutex
	refs    []int32                  // per port offset: our open listeners on that port
	held    map[int32][]net.Listener // per port offset: listeners closed by their session, held until the port's last one closes
	free    []int32                  // offsets whose refs is 0, in no order
	pos     []int32                  // pos[offset] is its index in free, -1 while in use
	failing bool                     // the current run of failed FetchNext calls is already counted
	owner   []int32                  // per port offset: the View that first listened on it, 0 = none yet
	views   int32                    // Views handed out

	exhausted   atomic.Uint64
	onExhausted atomic.Pointer[func()]
}

// NewPorts returns a Ports listening on the ports of listen. announced may be
// the zero PortRange (announce the listened port); otherwise it must have as
// many ports as listen.
func NewPorts(listen, announced PortRange) (*Ports, error) {
	if !listen.valid() {
		return nil, fmt.Errorf("passive port range %s is not a range of ports in %d..%d", listen, minPort, maxPort)
	}
	if !announced.IsZero() {
		if !announced.valid() {
			return nil, fmt.Errorf("announced port range %s is not a range of ports in %d..%d", announced, minPort, maxPort)
		}
		if announced.Len() != listen.Len() {
			return nil, fmt.Errorf("announced port range %s has %d ports, the passive range %s has %d: they must be the same count",
				announced, announced.Len(), listen, listen.Len())
		}
	}
	n := listen.Len()
	p := &Ports{
		listen:    listen,
		announced: announced,
		refs:      make([]int32, n),
		free:      make([]int32, n),
		pos:       make([]int32, n),
		owner:     make([]int32, n),
	}
	for i := range n {
		p.free[i] = int32(i)
		p.pos[i] = int32(i)
	}
	return p, nil
}

// Listen returns the range of ports listened on.
func (p *Ports) Listen() PortRange { return p.listen }

// Announced returns the announced range, the zero PortRange when the listened
// ports are announced as they are.
func (p *Ports) Announced() PortRange { return p.announced }

// FetchNext returns a random port of the range that none of our listeners
// uses, as the port to announce and the port to listen on. It returns
// ok=false when every port is in use; such a refusal is counted once per
// passive attempt (see [Ports.Exhausted]).
func (p *Ports) FetchNext() (exposed, listened int, ok bool) {
	return p.fetch(nil)
}

// fetch is FetchNext for the View v, or for no View when v is nil.
func (p *Ports) fetch(v *View) (exposed, listened int, ok bool) {
	p.mu.Lock()
	if len(p.free) == 0 {
		first := !p.failing
		p.failing = true
		p.mu.Unlock()
		if first {
			p.exhausted.Add(1)
			if fn := p.onExhausted.Load(); fn != nil {
				(*fn)()
			}
		}
		return 0, 0, false
	}
	p.failing = false
	offset := -1
	if v != nil {
		offset = v.pick()
	}
	if offset < 0 {
		offset = int(p.free[rand.IntN(len(p.free))])
	}
	p.mu.Unlock()

	listened = p.listen.First + offset
	exposed = listened
	if !p.announced.IsZero() {
		exposed = p.announced.First + offset
	}
	return exposed, listened, true
}

// maxAttempts bounds the candidate ports ftpserverlib tries per PASV/EPSV.
// FetchNext only hands out free ports, so a few candidates suffice, and the
// library draws every candidate (a FetchNext each, into a map) before it tries
// the first: with the whole of a 1000-port range that was a quarter of the
// server's CPU time in the small-files benchmark. 10 is the library's minimum.
const maxAttempts = 10

// NumberAttempts returns how many candidate ports ftpserverlib may try for
// one passive attempt: the size of the range, at most maxAttempts.
//
// ftpserverlib calls it once at the start of each PASV/EPSV, before its
// FetchNext calls, so it also starts a new attempt for the exhaustion count.
func (p *Ports) NumberAttempts() int {
	p.mu.Lock()
	p.failing = false
	p.mu.Unlock()
	return min(p.listen.Len(), maxAttempts)
}

// WrapListener marks the port of l as in use until the returned listener is
// closed. Accept returns l's connections unwrapped (the raw *net.TCPConn), so
// the kernel's zero-copy paths are kept. A listener whose port lies outside
// the listened range is returned as it is.
func (p *Ports) WrapListener(l net.Listener) net.Listener {
	return p.wrap(nil, l)
}

// wrap is WrapListener for the View v, or for no View when v is nil.
func (p *Ports) wrap(v *View, l net.Listener) net.Listener {
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok || !p.listen.Contains(addr.Port) {
		return l
	}
	offset := addr.Port - p.listen.First
	p.acquire(offset)
	if v != nil {
		v.own(offset)
	}
	once := &closeOnce{close: func() error { return p.closeListener(offset, l) }}
	wrapped := &portListener{Listener: l, once: once}
	// ftpserverlib drops a passive listener without closing it when the PASV
	// reply cannot be built (no IPv4 address to announce, no TLS config):
	// close it and free its port once the wrapper is unreachable.
	runtime.AddCleanup(wrapped, func(c *closeOnce) { _ = c.do() }, once)
	return wrapped
}

// acquire counts one more listener on the port at offset.
func (p *Ports) acquire(offset int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refs[offset]++
	if p.refs[offset] != 1 {
		return
	}
	// Remove offset from free: move the last free offset into its slot.
	i := p.pos[offset]
	last := p.free[len(p.free)-1]
	p.free[i] = last
	p.pos[last] = i
	p.free = p.free[:len(p.free)-1]
	p.pos[offset] = -1
}

// closeListener closes l, one of the listeners on the port at offset, and
// counts it gone. While another listener of ours is open on the same port, l
// stays open (its port counted in use) and is closed with the port's last
// one: ftpserverlib's multiplexed reservations are keyed by client address,
// and closing one (sharedPassiveListener.release) would also drop a newer
// reservation of the same address on that port, whose data connection would
// then be refused.
func (p *Ports) closeListener(offset int, l net.Listener) error {
	p.mu.Lock()
	if p.refs[offset] > 1 {
		p.refs[offset]--
		if p.held == nil {
			p.held = make(map[int32][]net.Listener)
		}
		p.held[int32(offset)] = append(p.held[int32(offset)], l)
		p.mu.Unlock()
		return nil
	}
	held := p.held[int32(offset)]
	delete(p.held, int32(offset))
	p.mu.Unlock()
	for _, h := range held {
		_ = h.Close()
	}
	err := l.Close()
	p.release(offset)
	return err
}

// release counts one listener less on the port at offset.
func (p *Ports) release(offset int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refs[offset]--
	if p.refs[offset] != 0 {
		return
	}
	p.pos[offset] = int32(len(p.free))
	p.free = append(p.free, int32(offset))
	p.failing = false
}

// InUse returns how many ports of the range our open listeners use.
func (p *Ports) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.refs) - len(p.free)
}

// Exhausted returns how many passive attempts found every port in use.
// A run of refused FetchNext calls counts once; a new run starts with the
// next attempt (NumberAttempts), or when a port is handed out or released.
func (p *Ports) Exhausted() uint64 { return p.exhausted.Load() }

// OnExhausted sets fn to be called each time Exhausted is incremented
// (nil removes it). fn is called synchronously on the session's goroutine,
// so it must be quick.
func (p *Ports) OnExhausted(fn func()) {
	if fn == nil {
		p.onExhausted.Store(nil)
		return
	}
	p.onExhausted.Store(&fn)
}

// CheckBindable tries to bind each listened port on host (e.g. "0.0.0.0")
// and closes it at once. It returns how many ports are free now and, when
// some are not, an error naming how many and the first failure.
func (p *Ports) CheckBindable(host string) (free int, err error) {
	var first error
	busy := 0
	for port := p.listen.First; port <= p.listen.Last; port++ {
		l, errListen := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if errListen != nil {
			busy++
			if first == nil {
				first = errListen
			}
			continue
		}
		free++
		_ = l.Close()
	}
	if first != nil {
		return free, fmt.Errorf("%d of %d passive ports cannot be bound now: %w", busy, p.listen.Len(), first)
	}
	return free, nil
}

// portListener is a passive listener whose port is counted as in use until
// it is closed.
type portListener struct {
	net.Listener
	once *closeOnce
}

// Close closes the listener and releases its port, once.
func (l *portListener) Close() error { return l.once.do() }

// closeOnce closes a listener and releases its port, the first time only.
type closeOnce struct {
	once  sync.Once
	close func() error
	err   error
}

// do closes the listener and releases the port the first time; later calls
// return the first result.
func (c *closeOnce) do() error {
	c.once.Do(func() { c.err = c.close() })
	return c.err
}

// SetDeadline sets the accept deadline when the wrapped listener supports it.
func (l *portListener) SetDeadline(t time.Time) error {
	if d, ok := l.Listener.(interface{ SetDeadline(time.Time) error }); ok {
		return d.SetDeadline(t)
	}
	return errors.ErrUnsupported
}

// View is the Ports of one ftpserverlib server (one control listener).
// ftpserverlib's shared passive listeners belong to the server that opened
// them and stay bound until it stops, so a port one listener has used cannot
// be bound by another. A View hands out first the free ports its own server
// already listens on, then ports no server has used yet, and only then the
// others' ports: sequential transfers on one listener reuse its ports instead
// of binding the whole range, and leave the rest to the other listeners.
//
// A View implements ftpserverlib's PasvPortGetter; its listeners are counted
// in the Ports it came from.
type View struct {
	p     *Ports
	id    int32
	owned []int32 // offsets this View's server has listened on, oldest first (p.mu)
	next  int     // where the current passive attempt goes on in owned (p.mu)
}

var _ ftpserver.PasvPortGetter = (*View)(nil)

// View returns a new View of p, for one ftpserverlib server.
func (p *Ports) View() *View {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.views++
	return &View{p: p, id: p.views}
}

// NumberAttempts is [Ports.NumberAttempts]; it also starts the View's walk
// through its own ports again.
func (v *View) NumberAttempts() int {
	v.p.mu.Lock()
	v.next = 0
	v.p.mu.Unlock()
	return v.p.NumberAttempts()
}

// FetchNext is [Ports.FetchNext], preferring the View's own free ports, then
// ports no View has used.
func (v *View) FetchNext() (exposed, listened int, ok bool) { return v.p.fetch(v) }

// WrapListener is [Ports.WrapListener]; the listener's port becomes the View's
// own if no View had it yet.
func (v *View) WrapListener(l net.Listener) net.Listener { return v.p.wrap(v, l) }

// pick returns the next free port offset of the View's own, or else a random
// free one that no View has used, or -1. p.mu is held.
func (v *View) pick() int {
	p := v.p
	for v.next < len(v.owned) {
		offset := v.owned[v.next]
		v.next++
		if p.refs[offset] == 0 {
			return int(offset)
		}
	}
	// A few random draws among the free ports for one nobody owns: enough
	// while unused ports are common, and the caller falls back to any free
	// port (the other Views' ports may be free to bind again when their
	// servers close passive listeners after use).
	for range 8 {
		offset := p.free[rand.IntN(len(p.free))]
		if p.owner[offset] == 0 {
			return int(offset)
		}
	}
	return -1
}

// own records that the View's server listens on the port at offset, if no
// View had it yet.
func (v *View) own(offset int) {
	p := v.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.owner[offset] == 0 {
		p.owner[offset] = v.id
		v.owned = append(v.owned, int32(offset))
	}
}
