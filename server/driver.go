package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/passive"
	"github.com/wharf-ftp/wharf/proxy"
)

// The driver is ftpserverlib's MainDriver for one control listener.
var (
	_ ftpserver.MainDriver                         = (*driver)(nil)
	_ ftpserver.MainDriverExtensionUserVerifier    = (*driver)(nil)
	_ ftpserver.MainDriverExtensionTLSVerifier     = (*driver)(nil)
	_ ftpserver.MainDriverExtensionPassiveWrapper  = (*driver)(nil)
	_ ftpserver.MainDriverExtensionPostAuthMessage = (*driver)(nil)
	_ ftpserver.MainDriverExtensionQuitMessage     = (*driver)(nil)
	_ ftpserver.ClientDriverExtentionFileTransfer  = (*sessionFS)(nil)
)

var (
	errLoginIncorrect  = errors.New("login incorrect")
	errTooManySessions = errors.New("too many sessions for this user (max_sessions)")
	errTLSRequired     = errors.New("TLS is required on this server: use AUTH TLS (explicit FTPS) or implicit FTPS before logging in")
	errUserTLSRequired = errors.New("this user must log in over TLS: use AUTH TLS (explicit FTPS) or implicit FTPS")
)

// authTimeout bounds a password check waiting for a verification slot.
const authTimeout = 30 * time.Second

// statNeeds is the permission a command's Stat needs (contract: "list" for
// listings and CWD, "read" for SIZE/MDTM, "rename" for RNFR); other commands
// accept either "list" or "read".
var statNeeds = map[string]fs.Perm{
	"CWD": fs.PermList, "XCWD": fs.PermList, "CDUP": fs.PermList, "MLST": fs.PermList,
	"STAT": fs.PermList, "LIST": fs.PermList, "NLST": fs.PermList, "MLSD": fs.PermList,
	"SIZE": fs.PermRead, "MDTM": fs.PermRead,
	"RNFR": fs.PermRename,
}

type driver struct {
	s    *Server
	gate *gate
	mode string
	idx  int
	addr string // the listener's configured address
	// ports is this listener's view of the passive ports: ftpserverlib's
	// passive listeners belong to one server (one control listener).
	ports *passive.View
}

// session is one control connection, from ClientConnected to ClientDisconnected.
type session struct {
	id     string
	cc     ftpserver.ClientContext
	conn   *controlConn
	remote netip.Addr
	log    *slog.Logger
	user   atomic.Pointer[auth.User]
	tree   atomic.Pointer[fs.Tree]
	mode   string
	rnfr   string // the path the last RNFR accepted; "" after a failed RNFR or any RNTO

	listener    string // the listener's configured address
	connectedAt time.Time
	live        atomic.Pointer[liveTransfer] // the transfer in progress, for the admin API
	inLogin     atomic.Bool                  // a password check runs: its reply (530) comes first, then the library disconnects
	userSlot    atomic.Pointer[func()]       // gives the user's cluster-wide session slot back
}

// lastActive is when the client last sent something on its control connection.
func (sess *session) lastActive() time.Time {
	if sess.conn != nil {
		if t := sess.conn.lastRead.Load(); t != 0 {
			return time.Unix(0, t)
		}
	}
	return sess.connectedAt
}

// close cuts the session's control connection; ftpserverlib then ends the
// session (closing its data connection) in its own goroutine.
func (sess *session) close() {
	if sess.conn != nil {
		_ = sess.conn.Close()
		return
	}
	_ = sess.cc.Close()
}

// closeWith tells the client why with a 421 reply, then closes the session
// (shutdown, kick, ban).
func (sess *session) closeWith(text string) {
	if sess.conn != nil && !sess.conn.say(421, text) && sess.cc.HasTLSForControl() {
		sess.log.Debug("no 421 sent: the TLS layer of the control connection is not known yet")
	}
	sess.close()
}

// attrs are the session's log attributes: session id, client address, user.
func (sess *session) attrs() []slog.Attr {
	as := []slog.Attr{slog.String("session", sess.id), slog.String("remote", sess.remote.String())}
	if u := sess.user.Load(); u != nil {
		as = append(as, slog.String("user", u.Name))
	}
	return as
}

// sessionByID finds a session by its listener and ftpserverlib client number.
func (s *Server) sessionByID(listener int, clientID uint32) *session {
	sess, _ := s.reg.session(s.sessionID(listener, clientID))
	return sess
}

// sessionID names a session: LISTENER.CLIENT, and @NODE in a cluster, where
// ids must be unique across nodes.
func (s *Server) sessionID(listener int, clientID uint32) string {
	id := strconv.Itoa(listener) + "." + strconv.FormatUint(uint64(clientID), 10)
	if s.cluster != nil {
		id += "@" + s.cluster.Node()
	}
	return id
}

func sessionOf(cc ftpserver.ClientContext) *session {
	s, _ := cc.Extra().(*session)
	return s
}

func connKey(remote, local net.Addr) string { return remote.String() + "|" + local.String() }

func (d *driver) GetSettings() (*ftpserver.Settings, error) {
	cfg := d.s.state().cfg
	check := ftpserver.IPMatchRequired
	if cfg.Active.AllowForeign {
		check = ftpserver.IPMatchDisabled
	}
	set := &ftpserver.Settings{
		Listener:                 d.gate,
		ListenAddr:               d.gate.Addr().String(), // STAT prints it
		Banner:                   cfg.Server.Banner,
		PassiveTransferPortRange: d.ports,
		// Each passive port hands a connection only to the session whose client
		// address matches, and closes the others before any session sees them:
		// without it ftpserverlib keeps a refused foreign connection and serves
		// it on a retried RETR (data-connection theft).
		//
		// Behind a PROXY balancer every data connection arrives from the
		// balancer's address, which the library's shared listeners dispatch
		// on: there each session gets its own listener, and a data
		// connection must come from a client address with a session
		// (dataListener.admit; see BENCHMARKS.md, upstream changes).
		PassiveTransferPortMultiplexing: !cfg.Active.AllowForeign && !d.s.proxied(),
		PublicIPResolver:                d.s.publicIP,
		IdleTimeout:                     ceilSeconds(cfg.Server.IdleTimeout),
		ConnectionTimeout:               ceilSeconds(cfg.Server.DataTimeout),
		ActiveTransferPortNon20:         true,
		DisableActiveMode:               !cfg.Active.Enabled,
		DisableSite:                     true,
		EnableHASH:                      true,
		DeflateCompressionLevel:         cfg.Server.CompressionLevel,
		DefaultTransferType:             ftpserver.TransferTypeBinary,
		ActiveConnectionsCheck:          check,
		PasvConnectionsCheck:            check,
	}
	if d.mode == tlsModeImplicit {
		set.TLSRequired = ftpserver.ImplicitEncryption
	}
	return set, nil
}

func ceilSeconds(t time.Duration) int {
	return int((t + time.Second - 1) / time.Second)
}

func (d *driver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	s := d.s
	conn, _ := s.pendingConn(cc)
	sess := &session{
		id:     s.sessionID(d.idx, cc.ID()),
		cc:     cc,
		conn:   conn,
		remote: addrOf(cc.RemoteAddr()),
		mode:   d.mode,

		listener:    d.addr,
		connectedAt: time.Now(),
	}
	sess.log = s.log.With("session", sess.id, "remote", sess.remote.String())
	cc.SetExtra(sess)
	s.reg.add(sess)
	if s.logLevel.Level() <= slog.LevelDebug {
		cc.SetDebug(true)
	}
	sess.log.Debug("connected", "listener", d.gate.Addr().String(), "mode", d.mode)
	return s.state().cfg.Server.Banner, nil
}

// pendingConn finds the controlConn the gate accepted for cc.
func (s *Server) pendingConn(cc ftpserver.ClientContext) (*controlConn, bool) {
	return s.reg.claim(connKey(cc.RemoteAddr(), cc.LocalAddr()))
}

func (d *driver) ClientDisconnected(cc ftpserver.ClientContext) {
	s := d.s
	sess := sessionOf(cc)
	if sess == nil {
		return
	}
	s.reg.remove(sess)
	u := s.logout(sess)
	if sess.conn != nil {
		if u == nil && sess.conn.timedOut.Load() {
			sess.log.Info("idle timeout before login")
			s.failure(sess.remote)
		}
		s.noteHandshakeEnd(sess.mode, sess.conn.tlsState.Load(), sess.log)
	}
	sess.log.Debug("disconnected")
}

// logout ends a session's login: its user's slot, its tree and the logged-in
// count go back. It returns the user who was logged in, or nil.
func (s *Server) logout(sess *session) *auth.User {
	u := sess.user.Swap(nil)
	if u != nil {
		s.reg.logout(sess.remote)
		s.reg.users.Release(u.Name)
		s.metrics.sessionsLoggedIn.Dec()
	}
	if release := sess.userSlot.Swap(nil); release != nil {
		(*release)()
	}
	if t := sess.tree.Swap(nil); t != nil {
		_ = t.Close()
	}
	return u
}

func (d *driver) GetTLSConfig() (*tls.Config, error) {
	if !d.s.state().tlsConfigured() {
		return nil, errNoTLS
	}
	return d.s.baseTLS, nil
}

// PreAuthUser enforces TLS requirements at USER, before any password is sent.
// A USER on a logged-in session logs the first user out first (RFC 959 lets a
// client change user): the first login's slot and folders are given back
// whatever the new login's outcome.
func (d *driver) PreAuthUser(cc ftpserver.ClientContext, user string) error {
	st := d.s.state()
	if sess := sessionOf(cc); sess != nil {
		if old := d.s.logout(sess); old != nil {
			sess.log.Info("logout: new USER on a logged-in session", "user", old.Name)
			sess.log = d.s.log.With("session", sess.id, "remote", sess.remote.String())
		}
	}
	if err := d.s.tlsLoginRefusal(st, cc, user, "USER"); err != nil {
		return err
	}
	if cc.HasTLSForControl() && st.requireTLSData() {
		return cc.SetTLSRequirement(ftpserver.MandatoryEncryption)
	}
	return nil
}

// tlsLoginRefusal refuses a login on a control connection without TLS when the
// server ([tls] require) or the user (require_tls) wants TLS; it logs and
// counts the refusal. It is checked at USER and again at PASS, before any
// password check, so a password sent in clear is never verified.
func (s *Server) tlsLoginRefusal(st *state, cc ftpserver.ClientContext, user, command string) error {
	if cc.HasTLSForControl() {
		return nil
	}
	err := error(nil)
	if st.requireTLSLogin() {
		err = errTLSRequired
	} else if u, ok := st.dir.Lookup(user); ok && u.RequireTLS {
		err = errUserTLSRequired
	}
	if err != nil {
		s.refused(sessionOf(cc), "tls_required", "login without TLS refused at "+command, user)
	}
	return err
}

// VerifyConnection logs in, at USER and without a password, a user with
// tls_certificate_login whose name the verified client certificate carries (CN
// or SAN). Any other user goes on to PASS: for them a certificate is an extra
// requirement of the handshake (client_auth), never a replacement.
func (d *driver) VerifyConnection(cc ftpserver.ClientContext, user string, conn *tls.Conn) (ftpserver.ClientDriver, error) {
	st := d.s.state()
	if sess := sessionOf(cc); sess != nil && sess.conn != nil && d.mode != tlsModeImplicit {
		sess.conn.setReplies(conn) // explicit FTPS: the first TLS connection wharf sees
	}
	u, ok := st.dir.Lookup(user)
	if !ok || !u.TLSCertificateLogin || u.Disabled || st.tls == nil {
		return nil, nil
	}
	sess := sessionOf(cc)
	if !st.tls.certificateUser(conn.ConnectionState(), u.Name) || !u.AllowedFrom(sess.remote) {
		return nil, nil
	}
	sess.log.Info("client certificate accepted", "user", u.Name)
	return d.s.openSession(cc, sess, u)
}

func (d *driver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	s := d.s
	st := s.state()
	sess := sessionOf(cc)
	if err := s.tlsLoginRefusal(st, cc, user, "PASS"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), authTimeout)
	defer cancel()
	sess.inLogin.Store(true)
	defer sess.inLogin.Store(false)
	u, err := st.dir.Authenticate(ctx, user, pass, sess.remote)
	if err != nil {
		s.loginFailed(sess, user, auth.LoginFailureReason(err))
		return nil, errLoginIncorrect
	}
	return s.openSession(cc, sess, u)
}

func (s *Server) loginFailed(sess *session, user, reason string) {
	s.metrics.loginsTotal.WithLabelValues(loginFailure).Inc()
	s.metrics.passwordChecksTotal.WithLabelValues(metricReason(reason)).Inc()
	sess.log.Warn("login failed", "user", user, "reason", reason)
	s.publish(events.LoginEvent(s.who(sess, user), false))
	s.failure(sess.remote)
}

// metricReasons maps auth's failure reasons onto label values.
var metricReasons = map[string]string{
	auth.ReasonUnknownUser:    "unknown_user",
	auth.ReasonBadPassword:    "bad_password",
	auth.ReasonDisabled:       "disabled",
	auth.ReasonAddress:        "ipfilter",
	auth.ReasonNoPassword:     "no_password",
	auth.ReasonMalformedHash:  "bad_hash",
	auth.ReasonCheckAbandoned: "abandoned",
}

// metricReason maps a failure reason onto a bounded label value.
func metricReason(r string) string {
	if v, ok := metricReasons[r]; ok {
		return v
	}
	return "other"
}

func (s *Server) refused(sess *session, reason, msg, user string) {
	s.metrics.commandRefusals.WithLabelValues(reason).Inc()
	s.metrics.loginsTotal.WithLabelValues(loginFailure).Inc()
	sess.log.Warn(msg, "user", user, "reason", reason)
}

// openSession turns an authenticated user into a logged-in session with its tree.
func (s *Server) openSession(cc ftpserver.ClientContext, sess *session, u *auth.User) (ftpserver.ClientDriver, error) {
	var release func()
	ok := false
	if s.reg.users.Acquire(u.Name, u.MaxSessions) {
		if release, ok = s.slot("user:"+u.Name, u.MaxSessions); !ok {
			s.reg.users.Release(u.Name)
		}
	}
	if !ok {
		s.metrics.commandRefusals.WithLabelValues("max_sessions").Inc()
		s.metrics.loginsTotal.WithLabelValues(loginFailure).Inc()
		sess.log.Warn("login refused", "user", u.Name, "reason", "max_sessions", "max", u.MaxSessions)
		return nil, errTooManySessions
	}
	st := s.state()
	a := st.account(u.Name)
	if a == nil { // removed by a reload meanwhile
		s.reg.users.Release(u.Name)
		return nil, errLoginIncorrect
	}
	down, up := s.limitersFor(u.Name, a.limits)
	log := sess.log.With("user", u.Name)
	sess.userSlot.Store(&release)
	tree, err := fs.NewTree(a.mounts, fs.Options{
		AtomicUploads:  st.cfg.Server.AtomicUploads,
		DownloadLimits: []*fs.Limiter{s.serverDown, down},
		UploadLimits:   []*fs.Limiter{s.serverUp, up},
		OnTransfer:     func(t fs.Transfer) { s.transferDone(sess, u, t) },
		Logger:         log,
		StallTimeout:   st.cfg.Server.DataTimeout,
		WorkDir:        cc.Path,
	})
	if err != nil {
		s.reg.users.Release(u.Name)
		if r := sess.userSlot.Swap(nil); r != nil {
			(*r)()
		}
		s.metrics.loginsTotal.WithLabelValues(loginFailure).Inc()
		log.Error("login refused: cannot open folders", "err", err)
		return nil, errLoginIncorrect
	}
	home := a.cfg.Home
	if fi, err := tree.Stat(home); err != nil || !fi.IsDir() {
		log.Warn("home directory not available, starting at /", "home", home)
		home = "/"
	}
	cc.SetPath(home)
	sess.log = log
	sess.tree.Store(tree)
	if sess.user.Swap(u) == nil {
		s.reg.login(sess.remote)
	}
	s.metrics.loginsTotal.WithLabelValues(loginSuccess).Inc()
	s.metrics.sessionsLoggedIn.Inc()
	log.Info("login", "tls", cc.HasTLSForControl(), "anonymous", u.Anonymous)
	s.publish(events.LoginEvent(s.who(sess, u.Name), true))
	return &sessionFS{Tree: tree, s: s, sess: sess}, nil
}

func (d *driver) PostAuthMessage(_ ftpserver.ClientContext, _ string, authErr error) string {
	switch {
	case authErr == nil:
		return "Login successful."
	case errors.Is(authErr, errTooManySessions), errors.Is(authErr, errTLSRequired), errors.Is(authErr, errUserTLSRequired):
		return authErr.Error()
	default:
		return "Login incorrect."
	}
}

func (d *driver) QuitMessage() string { return "Goodbye." }

func (d *driver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	s := d.s
	if popt, ok := s.proxyOptions(); ok {
		l = proxy.Wrap(l, popt)
	}
	dl := &dataListener{
		Listener:  d.ports.WrapListener(l),
		strictEOF: func() bool { return s.state().cfg.TLS.StrictUploadEOF },
		admit:     s.dataPeerAdmission(),
		onCut: func(c *dataConn) {
			s.log.Warn("TLS upload ended without close_notify: interrupted (strict_upload_eof)",
				"remote", addrOf(c.RemoteAddr()).String())
		},
		onClose: func(c *dataConn) {
			s.noteHandshakeEnd(tlsModeData, c.tlsState.Load(), s.log.With("remote", addrOf(c.RemoteAddr()).String()))
		},
	}
	timeout := s.state().cfg.Server.DataTimeout
	dl.expireAfter(timeout, func() {
		s.log.Info("passive port released: no data connection within data_timeout",
			"port", l.Addr().String(), "data_timeout", timeout.String())
	})
	return dl, nil
}

// dataPeerAdmission is the passive data connections' own check behind a
// PROXY balancer (where ftpserverlib's shared listeners cannot be used): a
// connection from an address without a logged-in session is closed before
// the library sees it, as the shared listeners do.
func (s *Server) dataPeerAdmission() func(netip.Addr) bool {
	if !s.proxied() || s.state().cfg.Active.AllowForeign {
		return nil
	}
	return s.reg.loggedIn
}

// publicIP is the PublicIPResolver: the address announced in 227 replies.
func (s *Server) publicIP(cc ftpserver.ClientContext) (string, error) {
	return s.announcer.Address(addrOf(cc.RemoteAddr()), addrOf(cc.LocalAddr()))
}

// sessionFS is a session's tree as ftpserverlib sees it: it counts running
// transfers (graceful stop waits for them), gives Stat the permission of the
// command asking, and logs and counts refusals.
type sessionFS struct {
	*fs.Tree
	s    *Server
	sess *session
}

func (f *sessionFS) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	h, err := f.Tree.GetHandle(name, flags, offset)
	if err != nil {
		return nil, f.refused(name, err)
	}
	f.s.reg.transfers.Add(1)
	lt := &liveTransfer{direction: admin.Download, path: name, started: time.Now()}
	if flags&(os.O_WRONLY|os.O_RDWR) != 0 {
		lt.direction = admin.Upload
	}
	lt.progress, _ = h.(interface{ Transferred() int64 })
	f.sess.live.Store(lt)
	return h, nil
}

func (f *sessionFS) Stat(name string) (os.FileInfo, error) {
	cmd := f.sess.cc.GetLastCommand()
	need, ok := statNeeds[cmd]
	if !ok {
		need = fs.PermList | fs.PermRead
	}
	if cmd == "LIST" || cmd == "NLST" {
		name = f.listPath(name)
	}
	fi, err := f.Tree.StatFor(name, need)
	if cmd == "RNFR" {
		f.sess.rnfr = ""
		if err == nil {
			f.sess.rnfr = name
		}
	}
	if err != nil {
		return nil, f.refused(name, err)
	}
	return fi, nil
}

// listPath drops ls-style options from a LIST or NLST argument, as vsftpd
// does: ftpserverlib strips only -a, -l, -al and -la and would take the rest
// ("-CF", "-1", "-lR dir") as a path. Words starting with "-" at the start of
// the argument are options, never a name.
func (f *sessionFS) listPath(name string) string {
	cwd := f.sess.cc.Path()
	rel := name
	if path.IsAbs(name) {
		if cwd != "/" && !strings.HasPrefix(name, cwd+"/") {
			return name
		}
		rel = strings.TrimPrefix(strings.TrimPrefix(name, cwd), "/")
	}
	if !strings.HasPrefix(rel, "-") {
		return name
	}
	for strings.HasPrefix(rel, "-") {
		i := strings.IndexByte(rel, ' ')
		if i < 0 {
			rel = ""
			break
		}
		rel = strings.TrimLeft(rel[i:], " ")
	}
	p := path.Join(cwd, rel)
	if path.IsAbs(rel) {
		p = path.Clean(rel)
	}
	f.sess.cc.SetListPath(p)
	return p
}

func (f *sessionFS) ReadDir(name string) ([]os.FileInfo, error) {
	read := f.Tree.ReadDir
	if cmd := f.sess.cc.GetLastCommand(); cmd == "LIST" || cmd == "NLST" {
		name = f.listPath(name)
	}
	if f.sess.cc.GetLastCommand() == "NLST" {
		read = f.Tree.ReadDirNames // NLST shows names only: no stat per entry
	}
	fis, err := read(name)
	return fis, f.refused(name, err)
}

func (f *sessionFS) Mkdir(name string, perm os.FileMode) error {
	return f.done(events.Mkdir, name, "", f.Tree.Mkdir(name, perm))
}

func (f *sessionFS) Remove(name string) error {
	return f.done(events.Delete, name, "", f.Tree.Remove(name))
}

func (f *sessionFS) RemoveDir(name string) error {
	return f.done(events.Rmdir, name, "", f.Tree.RemoveDir(name))
}

// done publishes a completed file operation, or logs and counts its refusal.
func (f *sessionFS) done(k events.Kind, name, target string, err error) error {
	if err != nil {
		what := name
		if target != "" {
			what += " -> " + target
		}
		return f.refused(what, err)
	}
	f.s.sessEvent(f.sess, k, name, target)
	return nil
}

// errNoRNFR answers an RNTO whose RNFR failed: ftpserverlib would otherwise
// rename the file of an earlier, accepted RNFR.
var errNoRNFR = errors.New("RNFR first: the last RNFR was refused")

func (f *sessionFS) Rename(from, to string) error {
	pending := f.sess.rnfr
	f.sess.rnfr = ""
	if pending != from {
		return f.refused(from+" -> "+to, errNoRNFR)
	}
	return f.done(events.Rename, from, to, f.Tree.Rename(from, to))
}

func (f *sessionFS) Chtimes(name string, atime, mtime time.Time) error {
	return f.done(events.Mtime, name, "", f.Tree.Chtimes(name, atime, mtime))
}

// refused logs and counts a refusal (permission, missing file, bad name); it
// returns err unchanged.
func (f *sessionFS) refused(name string, err error) error {
	if err == nil {
		return nil
	}
	reason := "error"
	switch {
	case errors.Is(err, os.ErrPermission):
		reason = "permission"
	case errors.Is(err, os.ErrNotExist):
		reason = "not_found"
	case errors.Is(err, ftpserver.ErrFileNameNotAllowed):
		reason = "name_not_allowed"
	}
	f.s.metrics.commandRefusals.WithLabelValues(reason).Inc()
	f.sess.log.Info("command refused", "command", f.sess.cc.GetLastCommand(), "path", name, "reason", reason, "err", err)
	return err
}

func (s *Server) transferDone(sess *session, u *auth.User, t fs.Transfer) {
	defer s.reg.transfers.Add(-1)
	up, cut := 0, 0
	if t.Direction == fs.Upload {
		up = 1
	}
	if !t.Complete {
		cut = 1
	}
	s.metrics.transferDone[up][cut].Inc()
	s.metrics.transferDoneBytes[up].Add(float64(t.Bytes))
	s.xfer.write(t, sess.remote, u)
	sess.live.Store(nil)
	k := events.Download
	if t.Direction == fs.Upload {
		k = events.Upload
	}
	s.publish(events.Transfer(k, s.who(sess, u.Name), t.Path, t.Bytes, t.Duration, t.Complete))
}
