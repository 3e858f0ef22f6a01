package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// errNoTLS is returned by GetTLSConfig when no certificate is configured, so
// that FEAT does not offer AUTH TLS.
var errNoTLS = errors.New("TLS is not configured on this server")

// errNoResumption refuses a TLS data connection that did not resume the control
// connection's session (session_reuse = "required").
var errNoResumption = errors.New("TLS data connection did not resume the control connection's TLS session (session_reuse = \"required\"): the client must reuse its TLS session")

// tlsMaterial is the TLS part of one loaded state.
type tlsMaterial struct {
	cert       *tls.Certificate
	clientCAs  *x509.CertPool
	clientAuth tls.ClientAuthType
	minVersion uint16
	reuse      bool
}

// modern TLS 1.2 suites: ECDHE with AEAD only (TLS 1.3 suites are not configurable).
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func loadTLSMaterial(certFile, keyFile, caFile, clientAuth string, minVersion uint16, reuse bool) (*tlsMaterial, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	m := &tlsMaterial{cert: &cert, minVersion: minVersion, reuse: reuse}
	switch clientAuth {
	case "request":
		m.clientAuth = tls.VerifyClientCertIfGiven
	case "require":
		m.clientAuth = tls.RequireAndVerifyClientCert
	default:
		m.clientAuth = tls.NoClientCert
		if caFile != "" {
			// client_ca alone: verify a certificate when the client offers one.
			m.clientAuth = tls.VerifyClientCertIfGiven
		}
	}
	if caFile != "" {
		pool, err := loadCertPool(caFile)
		if err != nil {
			return nil, err
		}
		m.clientCAs = pool
	}
	return m, nil
}

// baseTLSConfig is the one *tls.Config handed to every TLS connection. Its
// GetConfigForClient picks the current state's settings at each handshake, so
// certificates and policies follow reloads, while session tickets keep using
// the base config's keys: a data connection can resume the control connection's
// session across a reload.
func (s *Server) baseTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: s.configForClient,
	}
}

func (s *Server) configForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	st := s.state()
	m := st.tls
	if m == nil {
		return nil, errNoTLS
	}
	mode, mark := tlsModeOf(hello)
	if mark != nil {
		mark(1)
	}
	log := s.log.With("remote", addrOf(hello.Conn.RemoteAddr()).String(), "tls_mode", mode)
	cfg := &tls.Config{
		MinVersion:   m.minVersion,
		CipherSuites: tls12Suites,
		Certificates: []tls.Certificate{*m.cert},
		ClientCAs:    m.clientCAs,
		ClientAuth:   m.clientAuth,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if mode == tlsModeData && m.reuse && !cs.DidResume {
				s.metrics.tlsHandshakes.WithLabelValues(mode, tlsFailed).Inc()
				log.Warn("tls data connection refused", "reason", "no session resumption")
				if mark != nil {
					mark(3)
				}
				return errNoResumption
			}
			if mark != nil {
				mark(2)
			}
			s.metrics.tlsHandshakes.WithLabelValues(mode, tlsOK).Inc()
			log.Debug("tls handshake", "version", tls.VersionName(cs.Version), "resumed", cs.DidResume)
			return nil
		},
	}
	if m.minVersion >= tls.VersionTLS13 {
		cfg.CipherSuites = nil
	}
	return cfg, nil
}

// tlsModeOf tells which kind of connection a handshake is on, and returns a
// function recording its progress on that connection (nil when untracked):
// 1 started, 2 verified, 3 refused after a verification step.
func tlsModeOf(hello *tls.ClientHelloInfo) (string, func(int32)) {
	switch c := hello.Conn.(type) {
	case *controlConn:
		return c.mode, func(v int32) { c.tlsState.Store(v) }
	case *dataConn:
		return tlsModeData, func(v int32) { c.tlsState.Store(v) }
	}
	return tlsModeData, nil
}

// noteHandshakeEnd counts a handshake that started on a connection now closing
// but never completed (protocol version, cipher or certificate mismatch, or a
// client that went away mid-handshake).
func (s *Server) noteHandshakeEnd(mode string, state int32, log *slog.Logger) {
	if state == 1 {
		s.metrics.tlsHandshakes.WithLabelValues(mode, tlsFailed).Inc()
		log.Warn("tls handshake failed", "tls_mode", mode)
	}
}

// certificateUser reports whether the verified client certificate of cs names user
// (its CN or a DNS/e-mail SAN).
func certificateUser(cs tls.ConnectionState, user string) bool {
	if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
		return false
	}
	leaf := cs.VerifiedChains[0][0]
	if strings.EqualFold(leaf.Subject.CommonName, user) {
		return true
	}
	for _, n := range leaf.DNSNames {
		if strings.EqualFold(n, user) {
			return true
		}
	}
	for _, n := range leaf.EmailAddresses {
		if strings.EqualFold(n, user) {
			return true
		}
	}
	return false
}
