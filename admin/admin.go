// Package admin serves wharf's admin API (JSON at /api/v1/), its status page
// (at /) and its event stream (Server-Sent Events). It knows the running
// server only through the Backend interface it declares, and its accounts
// only through a verification function.
package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Roles of admin accounts.
const (
	RoleAdmin  = "admin"  // everything
	RoleViewer = "viewer" // reads only
)

// Options configure a Server.
type Options struct {
	Backend Backend
	// Users verifies an [admin.users] account and returns its role. It is
	// called for every login attempt, known user or not, and must take the
	// same time either way. Nil refuses every login over TCP.
	Users func(user, pass string) (role string, ok bool)
	// TLS is set when the listener serves HTTPS: cookies are Secure.
	TLS bool
	// Unix is set when the listener is a unix socket: its file mode is the
	// access check, so requests need no account and act as RoleAdmin.
	Unix bool
	// OnLoginFailure is told of each failed login (for autoban). May be nil.
	OnLoginFailure func(remote netip.Addr)
	// Banned refuses requests from a banned address over TCP, unless they
	// carry a valid account (Basic auth or the page's cookie). May be nil.
	Banned func(remote netip.Addr) bool
	// Logger receives the audit lines (logins, changes); nil discards.
	Logger *slog.Logger
	// LiveInterval is how often the page's live stream refreshes sessions,
	// status and bans; 0 means one second.
	LiveInterval time.Duration
	// SessionLifetime bounds a page login; 0 means 12 hours.
	SessionLifetime time.Duration
}

// Server is the admin HTTP server. It is an http.Handler; Serve runs it on a
// listener with suitable timeouts.
type Server struct {
	opt     Options
	log     *slog.Logger
	mux     *http.ServeMux
	cop     *http.CrossOriginProtection
	logins  *loginStore
	unixTok string        // the form token in unix-socket mode
	closing chan struct{} // closed by Shutdown: ends event streams
	streams atomic.Int64  // event streams open

	mu      sync.Mutex
	servers []*http.Server
	closed  bool
	once    sync.Once
}

// New returns a Server for opt.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.LiveInterval <= 0 {
		opt.LiveInterval = time.Second
	}
	if opt.SessionLifetime <= 0 {
		opt.SessionLifetime = 12 * time.Hour
	}
	s := &Server{
		opt:     opt,
		log:     opt.Logger,
		mux:     http.NewServeMux(),
		cop:     http.NewCrossOriginProtection(),
		logins:  newLoginStore(opt.SessionLifetime, maxLogins),
		unixTok: rand.Text(),
		closing: make(chan struct{}),
	}
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("admin: cross-origin change refused", "remote", remoteAddr(r), "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		if isAPI(r) {
			writeError(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		s.pageError(w, r, http.StatusForbidden, "Cross-origin request refused.")
	}))
	s.routes()
	return s
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if !s.opt.Unix && s.opt.Banned != nil {
		// A ban keeps out whoever cannot log in. A request with a valid
		// account goes on, so that an operator whose own address is banned
		// can still see and lift the ban.
		if a := remoteAddr(r); a.IsValid() && s.opt.Banned(a) {
			if _, ok := s.authenticate(r); !ok {
				writeError(w, http.StatusForbidden, "address banned")
				return
			}
		}
	}
	s.cop.Handler(s.mux).ServeHTTP(w, r)
}

// Serve answers requests on l until Shutdown. It returns http.ErrServerClosed
// after Shutdown, like http.Server.Serve.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second, // event streams lift it for themselves
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	return hs.Serve(l)
}

// Shutdown stops every Serve: listeners close, event streams end, and
// requests in progress finish until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.once.Do(func() { close(s.closing) })
	s.mu.Lock()
	s.closed = true
	servers := s.servers
	s.mu.Unlock()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// securityHeaders are set on every answer.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// remoteAddr is the client's IP address, or the zero Addr on a unix socket.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
