package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wharf-ftp/wharf/internal/tlsfiles"
)

// errNoTLS is returned by GetTLSConfig when no certificate is configured, so
// that FEAT does not offer AUTH TLS.
var errNoTLS = errors.New("TLS is not configured on this server")

// errNoResumption refuses a TLS data connection that did not resume the control
// connection's session (session_reuse = "required"). ftpserverlib puts it in
// the reply to the transfer command.
var errNoResumption = errors.New("data connection refused: TLS session reuse required " +
	"(the data connection must resume the TLS session of the control connection)")

// errClientCertRequired and errClientCertUntrusted refuse a handshake for its
// client certificate.
var (
	errClientCertRequired  = errors.New("a client certificate is required")
	errClientCertUntrusted = errors.New("client certificate not trusted")
)

// certCheckInterval is how often a handshake may look at the certificate files
// for a change on disk.
const certCheckInterval = time.Second

// tlsHandshakeTimeout bounds an implicit-FTPS handshake; a client that takes
// longer is cut.
const tlsHandshakeTimeout = 30 * time.Second

// certSettleTime is how long after a change on disk a certificate that does not
// load is taken for a renewal in progress (key and certificate are not written
// at the same instant) rather than reported.
const certSettleTime = 2 * time.Second

// Progress of a TLS handshake on one connection (controlConn.tlsState,
// dataConn.tlsState): it decides who counts and logs the result, once.
const (
	hsNone           int32 = iota // no handshake seen
	hsStarted                     // ClientHello seen; a failure is counted when the connection closes
	hsOK                          // verified and counted
	hsCounted                     // failed, counted and logged with its reason
	hsWatched                     // driven by watchHandshake, which counts the result; no ClientHello yet
	hsWatchedStarted              // driven by watchHandshake, ClientHello seen
)

// tls12Suites are the TLS 1.2 suites offered: ECDHE with AEAD only (the TLS 1.3
// suites are all modern and not configurable). No renegotiation either: Go's
// server never renegotiates.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// tlsMaterial is the TLS part of one loaded state.
type tlsMaterial struct {
	cert       *certHolder
	clientCAs  *x509.CertPool
	clientAuth string // none | request | require
	minVersion uint16
	reuse      bool
}

func loadTLSMaterial(certFile, keyFile, caFile, clientAuth string, minVersion uint16, reuse bool) (*tlsMaterial, error) {
	if certFile == "" {
		return nil, nil
	}
	h, err := loadCertHolder(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	m := &tlsMaterial{cert: h, minVersion: minVersion, reuse: reuse, clientAuth: clientAuth}
	if m.clientAuth == "" {
		m.clientAuth = "none"
	}
	if caFile != "" {
		pool, err := tlsfiles.LoadCertPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading client CA bundle: %w", err)
		}
		m.clientCAs = pool
	}
	// The rules between client_auth and client_ca are the configuration's
	// (server/config): a loaded configuration follows them.
	return m, nil
}

// askClientCert reports whether handshakes ask for a client certificate.
func (m *tlsMaterial) askClientCert() bool { return m.clientAuth != "none" && m.clientCAs != nil }

// verifyClient checks the client certificate of a handshake against client_ca
// (Go's own check is off so that the reason can be logged) and returns the
// verified leaf, or nil when the client sent none.
func (m *tlsMaterial) verifyClient(cs tls.ConnectionState) (*x509.Certificate, error) {
	if !m.askClientCert() {
		return nil, nil
	}
	if len(cs.PeerCertificates) == 0 {
		if m.clientAuth == "require" {
			return nil, errClientCertRequired
		}
		return nil, nil
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         m.clientCAs,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errClientCertUntrusted, err)
	}
	return leaf, nil
}

// certificateUser reports whether the verified client certificate of cs names
// user exactly, as its CN or a DNS or e-mail SAN.
func (m *tlsMaterial) certificateUser(cs tls.ConnectionState, user string) bool {
	leaf, err := m.verifyClient(cs)
	if err != nil || leaf == nil {
		return false
	}
	return leaf.Subject.CommonName == user || slices.Contains(leaf.DNSNames, user) ||
		slices.Contains(leaf.EmailAddresses, user)
}

// certHolder is the server certificate of a state. Handshakes read it through
// GetCertificate; it follows the files on disk (at most one look per
// certCheckInterval), and keeps the certificate it has when new files do not
// load.
type certHolder struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	next              atomic.Int64 // unix nanoseconds of the next look at the files
	mu                sync.Mutex   // one look at a time; guards seen
	seen              fileStamp    // the files last loaded or tried
}

// fileStamp identifies a version of the certificate and key files.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func stampFiles(certFile, keyFile string) (fileStamp, error) {
	c, err := os.Stat(certFile)
	if err != nil {
		return fileStamp{}, err
	}
	k, err := os.Stat(keyFile)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

func loadCertHolder(certFile, keyFile string) (*certHolder, error) {
	h := &certHolder{certFile: certFile, keyFile: keyFile}
	// Stamp before loading: a change in between is seen at the next look.
	h.seen, _ = stampFiles(certFile, keyFile)
	cert, err := tlsfiles.LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	h.cur.Store(&cert)
	h.next.Store(time.Now().Add(certCheckInterval).UnixNano())
	return h, nil
}

// get returns the current certificate, first looking at the files when it is
// time to.
func (h *certHolder) get(log *slog.Logger) *tls.Certificate {
	now := time.Now()
	if n := h.next.Load(); now.UnixNano() >= n && h.next.CompareAndSwap(n, now.Add(certCheckInterval).UnixNano()) {
		h.refresh(log)
	}
	return h.cur.Load()
}

// refresh loads the files again if they changed since they were last tried.
func (h *certHolder) refresh(log *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st, err := stampFiles(h.certFile, h.keyFile)
	if err != nil || st == h.seen {
		return // a file being replaced is looked at again later
	}
	cert, err := tlsfiles.LoadKeyPair(h.certFile, h.keyFile)
	if err != nil {
		if time.Since(maxTime(st.certMod, st.keyMod)) < certSettleTime {
			return // maybe one of the two files is still on its way: look again later
		}
		h.seen = st
		log.Error("tls certificate changed on disk but does not load: keeping the previous certificate",
			"certificate", h.certFile, "key", h.keyFile, "err", err)
		return
	}
	h.seen = st
	h.cur.Store(&cert)
	log.Info("tls certificate reloaded from disk", "certificate", h.certFile, "subject", leafSubject(&cert),
		"sha256", tlsfiles.Fingerprint(&cert))
}

// LogCertificate logs the server certificate in use with its SHA-256
// fingerprint, so that clients can pin it; nothing without FTPS.
func (s *Server) LogCertificate() {
	st := s.state()
	if st.tls == nil || st.tls.cert == nil {
		return
	}
	c := st.tls.cert.cur.Load()
	s.log.Info("tls certificate", "certificate", st.tls.cert.certFile, "subject", leafSubject(c),
		"sha256", tlsfiles.Fingerprint(c))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func leafSubject(c *tls.Certificate) string {
	if len(c.Certificate) == 0 {
		return ""
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return ""
	}
	return leaf.Subject.String()
}

// baseTLSConfig is the one *tls.Config handed to every TLS connection (control
// and data, explicit and implicit). Its GetConfigForClient builds each
// handshake's settings from the current state, so certificates and policies
// follow reloads, while session tickets keep using the base config's keys: a
// data connection resumes its control connection's session across reloads.
func (s *Server) baseTLSConfig() *tls.Config {
	rt := &tlsRuntime{s: s, tickets: newTicketStore(ticketStoreSize, ticketLifetime)}
	rt.base = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: rt.configForClient,
	}
	return rt.base
}

// tlsRuntime is what every handshake shares: the base config (its ticket keys)
// and the store of sessions too large to travel in a ticket.
type tlsRuntime struct {
	s       *Server
	base    *tls.Config
	tickets *ticketStore
	last    atomic.Pointer[tlsMaterial] // the last material used, for sessions that outlive a reload dropping TLS
}

func (rt *tlsRuntime) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	s := rt.s
	mode, state := tlsModeOf(hello.Conn)
	log := s.log.With("remote", addrOf(hello.Conn.RemoteAddr()).String(), "tls_mode", mode)
	if state != nil && !state.CompareAndSwap(hsNone, hsStarted) {
		state.CompareAndSwap(hsWatched, hsWatchedStarted)
	}
	m := s.state().tls
	if m == nil {
		m = rt.last.Load()
	} else {
		rt.last.Store(m)
	}
	if m == nil {
		rt.fail(mode, state, log, "tls not configured")
		return nil, errNoTLS
	}
	if reason := helloMismatch(hello, m.minVersion); reason != "" {
		// Go's handshake fails on its own, with the alert that fits.
		rt.fail(mode, state, log, reason)
	}
	cfg := &tls.Config{
		MinVersion:     m.minVersion,
		CipherSuites:   tls12Suites,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return m.cert.get(s.log), nil },
		WrapSession:    rt.wrapSession,
		UnwrapSession:  rt.unwrapSession,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return rt.verify(cs, m, mode, state, log)
		},
	}
	if m.askClientCert() {
		// Verified in VerifyConnection, where a refusal can say why; the CAs
		// are named in the request.
		cfg.ClientAuth = tls.RequestClientCert
		cfg.ClientCAs = m.clientCAs
	}
	return cfg, nil
}

// verify is every handshake's last step: client certificate, session reuse on
// data connections, then the count.
func (rt *tlsRuntime) verify(cs tls.ConnectionState, m *tlsMaterial, mode string, state *atomic.Int32, log *slog.Logger) error {
	if _, err := m.verifyClient(cs); err != nil {
		rt.fail(mode, state, log, err.Error())
		if errors.Is(err, errClientCertRequired) {
			return errClientCertRequired
		}
		return errClientCertUntrusted // the detail stays in the log
	}
	if mode == tlsModeData && m.reuse && !cs.DidResume {
		rt.fail(mode, state, log, "no session resumption: the client opened a new TLS session on the data connection "+
			"instead of resuming the control connection's (session_reuse = \"required\")")
		return errNoResumption
	}
	log.Debug("tls handshake verified", "version", tls.VersionName(cs.Version), "resumed", cs.DidResume,
		"cipher", tls.CipherSuiteName(cs.CipherSuite))
	if state != nil && state.Load() == hsWatchedStarted {
		return nil // watchHandshake counts it when it completes
	}
	if state != nil {
		state.Store(hsOK)
	}
	// In a full TLS 1.3 handshake this runs before the client's last flight:
	// a client that refuses the certificate then is counted here all the same
	// (ftpserverlib logs its alert).
	rt.s.metrics.tlsHandshakes.WithLabelValues(mode, tlsOK).Inc()
	return nil
}

// fail counts and logs a refused handshake, once.
func (rt *tlsRuntime) fail(mode string, state *atomic.Int32, log *slog.Logger, reason string) {
	if state != nil {
		if state.Swap(hsCounted) == hsCounted {
			return
		}
	}
	rt.s.metrics.tlsHandshakes.WithLabelValues(mode, tlsFailed).Inc()
	log.Warn("tls handshake refused", "reason", reason)
}

// helloMismatch explains, from the ClientHello alone, a handshake that cannot
// succeed: no TLS version or no cipher suite in common.
func helloMismatch(hello *tls.ClientHelloInfo, minVersion uint16) string {
	best := uint16(0)
	for _, v := range hello.SupportedVersions {
		best = max(best, v)
	}
	switch {
	case best == 0:
		return "client offers no TLS version"
	case best < minVersion:
		return fmt.Sprintf("client offers at most %s, min_version is %s", tls.VersionName(best), tls.VersionName(minVersion))
	}
	if best < tls.VersionTLS13 && !slices.ContainsFunc(hello.CipherSuites, func(c uint16) bool { return slices.Contains(tls12Suites, c) }) {
		return "no cipher suite in common (the server offers ECDHE with AES-GCM or ChaCha20-Poly1305 only)"
	}
	return ""
}

// wrapSession makes the ticket of a session: Go's encrypted ticket, or, for a
// session too large (one carrying a client certificate), a handle to the
// session kept here. A small ticket arrives with the end of the handshake, so
// a client that reads the handshake and then only writes (an upload) still
// reads it; a large one stays unread in the client's socket, and the client's
// kernel answers its close with a reset that can cut the end of an upload.
func (rt *tlsRuntime) wrapSession(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	b, err := ss.Bytes()
	if err != nil {
		return nil, err
	}
	if len(b) <= maxTicketState {
		return rt.base.EncryptTicket(cs, ss)
	}
	return rt.tickets.put(b)
}

func (rt *tlsRuntime) unwrapSession(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	if len(identity) == ticketHandleSize {
		b := rt.tickets.get(identity)
		if b == nil {
			return nil, nil
		}
		ss, err := tls.ParseSessionState(b)
		if err != nil {
			return nil, nil
		}
		return ss, nil
	}
	return rt.base.DecryptTicket(identity, cs)
}

// tlsModeOf tells which kind of connection a handshake is on, and returns the
// connection's handshake progress (nil when it is not tracked: active-mode data
// connections).
func tlsModeOf(c net.Conn) (string, *atomic.Int32) {
	switch c := c.(type) {
	case *controlConn:
		return c.mode, &c.tlsState
	case *dataConn:
		return tlsModeData, &c.tlsState
	case *refusedConn:
		return tlsModeImplicit, &c.tlsState
	}
	return tlsModeData, nil
}

// noteHandshakeEnd counts a handshake that started on a connection now closing
// but never completed nor was refused by wharf (the client gave up, for example
// because it does not trust the certificate; ftpserverlib logs its error).
func (s *Server) noteHandshakeEnd(mode string, state int32, log *slog.Logger) {
	if state == hsStarted {
		s.metrics.tlsHandshakes.WithLabelValues(mode, tlsFailed).Inc()
		log.Warn("tls handshake failed", "tls_mode", mode, "reason", "handshake not completed (client gave up or refused the server certificate)")
	}
}

// implicitTLS starts TLS on an implicit-FTPS control connection and drives its
// handshake at once, so that a failure is logged with its reason.
func (s *Server) implicitTLS(cc *controlConn) *tls.Conn {
	tc := tls.Server(cc, s.baseTLS)
	cc.tlsState.Store(hsWatched)
	go s.watchHandshake(tc, &cc.tlsState, tlsModeImplicit, tlsHandshakeTimeout)
	return tc
}

// watchHandshake runs a handshake (ftpserverlib's own first read or write then
// waits for it and gets its result), counts it, and logs a failure with its
// reason.
func (s *Server) watchHandshake(tc *tls.Conn, state *atomic.Int32, mode string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	err := tc.HandshakeContext(ctx)
	if err == nil {
		if state.CompareAndSwap(hsWatchedStarted, hsOK) {
			s.metrics.tlsHandshakes.WithLabelValues(mode, tlsOK).Inc()
		}
		return nil
	}
	log := s.log.With("remote", addrOf(tc.RemoteAddr()).String(), "tls_mode", mode)
	switch {
	case state.CompareAndSwap(hsWatchedStarted, hsCounted):
		s.metrics.tlsHandshakes.WithLabelValues(mode, tlsFailed).Inc()
		log.Warn("tls handshake failed", "reason", err.Error())
	case state.Load() == hsWatched:
		log.Debug("connection closed before any tls handshake", "err", err.Error())
	}
	return err
}

// refusedConn is an implicit-FTPS connection refused at the gate: its 421 is
// sent over TLS.
type refusedConn struct {
	net.Conn
	tlsState atomic.Int32
}
