// Package server runs wharf: it loads the configuration file into a runtime
// state, serves FTP and FTPS through ftpserverlib with wharf's drivers, and
// owns metrics, logs, reload and shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"

	"github.com/wharf-ftp/wharf/admin"
	"github.com/wharf-ftp/wharf/auth"
	"github.com/wharf-ftp/wharf/cluster"
	"github.com/wharf-ftp/wharf/events"
	"github.com/wharf-ftp/wharf/events/hooks"
	"github.com/wharf-ftp/wharf/fs"
	"github.com/wharf-ftp/wharf/passive"
	"github.com/wharf-ftp/wharf/proxy"
	"github.com/wharf-ftp/wharf/server/config"
)

// Options says where the configuration comes from and where output goes.
type Options struct {
	ConfigPath string    // "" = the embedded default
	Stdout     io.Writer // the embedded default's password line
	Stderr     io.Writer // logs
	Version    string    // shown by the admin API
	// Upgrade starts a gapless upgrade (the admin API's POST /api/v1/upgrade);
	// nil: the API answers 501.
	Upgrade func() error
	// Listen gives the control, admin and metrics listeners: those handed over
	// by the process this one replaces, or new ones. nil: always new ones.
	Listen ListenFunc
}

// Server is a running wharf.
type Server struct {
	opts     Options
	log      *slog.Logger
	logLevel *slog.LevelVar
	cur      atomic.Pointer[state]
	boot     *config.Config // the file as read at start: what restart-only settings still run with
	node     string         // [cluster] node, or the host name: read once ([cluster] needs a restart)
	embedded *embedded

	metrics   *metrics
	verifier  *auth.Verifier
	autoban   *auth.Autoban
	ports     *passive.Ports
	announcer *passive.Announcer
	baseTLS   *tls.Config
	xfer      *xferLog

	serverDown, serverUp *fs.Limiter
	userLimMu            sync.Mutex
	userLim              map[string][2]*fs.Limiter

	listeners  []*ftpListener
	metricsSrv *metricsServer
	reg        *registry
	stopping   atomic.Bool
	reloadMu   sync.Mutex
	banSaveMu  sync.Mutex

	storage storage // folders' quotas and their usage, across reloads

	cluster   *cluster.Cluster // nil without [cluster]
	bus       *events.Bus
	hooks     atomic.Pointer[hooks.Runner]
	adminSrv  *admin.Server
	adminAddr string

	startedAt    time.Time
	loadedAt     time.Time // of the running configuration; under reloadMu
	reloadErrors []string  // of the last rejected reload, nil after a good one; under reloadMu

	ctx    context.Context
	cancel context.CancelFunc
}

// ftpListener is one ftpserverlib server on one control listener.
type ftpListener struct {
	srv  *ftpserver.FtpServer
	gate *gate
	addr string
	mode string
	done chan struct{}
}

// New loads the configuration and builds the server without listening yet.
// A configuration error is returned as config.Errors.
func New(opts Options) (*Server, error) {
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	s := &Server{opts: opts, reg: newRegistry(), userLim: make(map[string][2]*fs.Limiter)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if opts.ConfigPath == "" {
		e, err := newEmbedded()
		if err != nil {
			return nil, err
		}
		s.embedded = e
	}
	cfg, err := s.loadConfig()
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.logLevel = new(slog.LevelVar)
	s.logLevel.Set(cfg.Log.Level)
	s.log = newLogger(opts.Stderr, cfg.Log.Format, s.logLevel)
	logWarnings(s.log, cfg)

	s.verifier = auth.NewVerifier(0, 0, 0)
	s.serverDown = fs.NewLimiter(cfg.Limits.Download)
	s.serverUp = fs.NewLimiter(cfg.Limits.Upload)
	s.baseTLS = s.baseTLSConfig()

	st, err := s.buildState(cfg)
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.autoban = auth.NewAutoban(st.ban, nil, s.log.With("component", "autoban"))
	s.ports, err = passive.NewPorts(cfg.Passive.Ports, cfg.Passive.AnnouncedPorts)
	if err != nil {
		s.cleanup()
		return nil, err
	}
	s.metrics = newMetrics(func() float64 { return float64(s.autoban.Active()) }, func() float64 { return float64(s.ports.InUse()) },
		s.clusterUp)
	s.metrics.reg.MustRegister(s.storageCollectors()...)
	s.bus = events.NewBus()
	if err := s.startHooks(cfg); err != nil {
		s.cleanup()
		return nil, err
	}
	s.autoban.OnBan(func(_ netip.Addr, bi auth.BanInfo) { s.afterBan(bi) }) // autoban logs the ban
	s.ports.OnExhausted(func() {
		s.metrics.passiveExhausted.Inc()
		s.log.Warn("every passive port is in use: PASV/EPSV refused", "ports", s.ports.Listen().String())
	})
	if cfg.Autoban.StateFile != "" {
		if err := s.autoban.Load(cfg.Autoban.StateFile); err != nil {
			s.log.Error("autoban state file ignored", "file", cfg.Autoban.StateFile, "err", err)
		}
	}
	s.announcer = passive.NewAnnouncer(st.announce)
	s.xfer = newXferLog(cfg.Log.TransferLog)
	s.cur.Store(st)
	s.node = cfg.Cluster.NodeName()
	if err := s.startCluster(cfg); err != nil { // its callbacks may run at once: after the state is in place
		s.cleanup()
		return nil, err
	}
	go s.calibrate(st)
	s.boot = cfg
	s.loadedAt = time.Now().UTC()
	s.metrics.reloadSuccessful.Set(1)
	s.metrics.reloadTimestamp.SetToCurrentTime()
	return s, nil
}

func (s *Server) state() *state { return s.cur.Load() }

func (s *Server) loadConfig() (*config.Config, error) {
	if s.embedded != nil {
		return config.Parse("embedded default", s.embedded.text, config.Options{})
	}
	return config.Load(s.opts.ConfigPath, config.Options{})
}

// Start binds every listener and starts serving. The embedded default prints
// its password line on Stdout.
func (s *Server) Start() error {
	st := s.state()
	cfg := st.cfg
	if err := s.xfer.open(); err != nil {
		return fmt.Errorf("opening transfer log: %w", err)
	}
	for _, addr := range cfg.Server.Listen {
		if err := s.startListener(addr, tlsModeExplicit); err != nil {
			s.stopListeners()
			return err
		}
	}
	for _, addr := range cfg.TLS.ImplicitListen {
		if err := s.startListener(addr, tlsModeImplicit); err != nil {
			s.stopListeners()
			return err
		}
	}
	if cfg.Metrics.Listen != "" {
		ms, err := startMetricsServer(s.listen, cfg.Metrics.Listen, s.metrics, s.healthy, s.log.With("component", "metrics"))
		if err != nil {
			s.stopListeners()
			return fmt.Errorf("metrics listener: %w", err)
		}
		s.metricsSrv = ms
	}
	if err := s.startAdmin(cfg); err != nil {
		s.stopListeners()
		if s.metricsSrv != nil {
			_ = s.metricsSrv.Close(context.Background())
		}
		return fmt.Errorf("admin listener: %w", err)
	}
	s.startedAt = time.Now().UTC()
	s.announcer.Start(s.ctx)
	passiveAttrs := []any{"ports", s.ports.Listen().String()}
	if !s.ports.Announced().IsZero() {
		passiveAttrs = append(passiveAttrs, "announced_ports", s.ports.Announced().String())
	}
	s.log.Info("passive: "+s.announcer.Describe(), passiveAttrs...)
	s.log.Info("wharf serving", "listen", nonNil(s.ControlAddrs()), "implicit", nonNil(s.ImplicitAddrs()),
		"tls_min_version", tlsVersionName(tlsMin(st)), "users", len(cfg.Users), "config", s.configName())
	if s.embedded != nil {
		s.embedded.announce(s.opts.Stdout, s.ControlAddrs(), cfg.Passive.Ports.String(), s.adminAddr)
	}
	go s.autobanSaver()
	return nil
}

func tlsMin(st *state) uint16 {
	if st.tls == nil {
		return 0
	}
	return st.tls.minVersion
}

func (s *Server) configName() string {
	if s.embedded != nil {
		return "embedded default"
	}
	return s.opts.ConfigPath
}

func (s *Server) startListener(addr, mode string) error {
	ln, err := s.listenControl(addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	if popt, ok := s.proxyOptions(); ok {
		ln = proxy.Wrap(ln, popt) // PROXY first: admission judges the header's address
	}
	g := &gate{Listener: ln, s: s, mode: mode}
	idx := len(s.listeners)
	d := &driver{s: s, gate: g, mode: mode, idx: idx, addr: addr, ports: s.ports.View()}
	srv := ftpserver.NewFtpServer(d)
	srv.Logger = slog.New(libHandler{
		Handler:  s.log.Handler().WithAttrs([]slog.Attr{slog.String("component", "ftp")}),
		sessions: func(id uint32) *session { return s.sessionByID(idx, id) },
	})
	if err := srv.Listen(); err != nil {
		_ = ln.Close()
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	fl := &ftpListener{srv: srv, gate: g, addr: ln.Addr().String(), mode: mode, done: make(chan struct{})}
	s.listeners = append(s.listeners, fl)
	go func() {
		defer close(fl.done)
		if err := srv.Serve(); err != nil {
			s.log.Error("listener stopped", "address", fl.addr, "err", err)
		}
	}()
	return nil
}

// ControlAddrs returns the bound plain/explicit FTPS control addresses.
func (s *Server) ControlAddrs() []string { return s.addrs(tlsModeExplicit) }

// ImplicitAddrs returns the bound implicit FTPS addresses.
func (s *Server) ImplicitAddrs() []string { return s.addrs(tlsModeImplicit) }

// MetricsAddr returns the bound metrics address, or "".
func (s *Server) MetricsAddr() string {
	if s.metricsSrv == nil {
		return ""
	}
	return s.metricsSrv.Addr()
}

func (s *Server) addrs(mode string) []string {
	var out []string
	for _, l := range s.listeners {
		if l.mode == mode {
			out = append(out, l.addr)
		}
	}
	return out
}

func (s *Server) healthy() bool {
	if s.stopping.Load() || len(s.listeners) == 0 {
		return false
	}
	for _, l := range s.listeners {
		select {
		case <-l.done:
			return false
		default:
		}
	}
	return true
}

// Reload loads the configuration again and swaps it in whole. A file that fails
// validation changes nothing: the errors are logged and returned.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.log.Info("reloading configuration", "config", s.configName())
	cfg, err := s.loadConfig()
	var st *state
	if err == nil {
		st, err = s.buildState(cfg)
	}
	if err != nil {
		s.metrics.reloadSuccessful.Set(0)
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				s.log.Error("reload rejected: " + e.Error())
			}
		} else {
			s.log.Error("reload rejected", "err", err)
		}
		s.log.Error("configuration unchanged: the running configuration stays")
		s.reloadErrors = errorLines(err)
		return err
	}
	logWarnings(s.log, cfg)
	s.cur.Store(st)
	go s.calibrate(st)
	s.logLevel.Set(cfg.Log.Level)
	s.applyLimits(st)
	s.autoban.SetPolicy(st.ban)
	s.announcer.Update(st.announce)
	if err := s.xfer.reopen(cfg.Log.TransferLog); err != nil {
		s.log.Error("transfer log", "err", err)
	}
	s.noteRestartNeeded(s.boot, cfg)
	if err := s.startHooks(cfg); err != nil {
		s.log.Error("hooks unchanged", "err", err)
	}
	s.loadedAt, s.reloadErrors = time.Now().UTC(), nil
	s.metrics.reloadSuccessful.Set(1)
	s.metrics.reloadTimestamp.SetToCurrentTime()
	s.log.Info("configuration reloaded", "users", len(cfg.Users), "tls_min_version", tlsVersionName(tlsMin(st)))
	return nil
}

// logWarnings logs the warnings of a configuration file, as check prints them.
func logWarnings(log *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		log.Warn("configuration " + w.Error())
	}
}

// noteRestartNeeded logs settings that a reload cannot change and that differ
// from what runs (the values read at start), at every reload until a restart
// applies them or the file says the running value again.
func (s *Server) noteRestartNeeded(old, cfg *config.Config) {
	check := func(name string, changed bool) {
		if changed {
			s.log.Warn("setting changed but needs a restart to take effect", "setting", name)
		}
	}
	check("server.listen", !slices.Equal(old.Server.Listen, cfg.Server.Listen))
	check("tls.implicit_listen", !slices.Equal(old.TLS.ImplicitListen, cfg.TLS.ImplicitListen))
	check("metrics.listen", old.Metrics.Listen != cfg.Metrics.Listen)
	check("passive.ports", old.Passive.Ports != cfg.Passive.Ports || old.Passive.AnnouncedPorts != cfg.Passive.AnnouncedPorts)
	check("server.idle_timeout", old.Server.IdleTimeout != cfg.Server.IdleTimeout)
	check("server.data_timeout", old.Server.DataTimeout != cfg.Server.DataTimeout)
	check("server.compression_level", old.Server.CompressionLevel != cfg.Server.CompressionLevel)
	check("active", old.Active != cfg.Active)
	check("log.format", old.Log.Format != cfg.Log.Format)
	check("autoban.state_file", old.Autoban.StateFile != cfg.Autoban.StateFile)
	check("proxy_protocol", !slices.Equal(old.Proxy.Trusted, cfg.Proxy.Trusted) || old.Proxy.Timeout != cfg.Proxy.Timeout)
	check("cluster", old.Cluster != cfg.Cluster)
	check("admin.listen", old.Admin.Listen != cfg.Admin.Listen || old.Admin.TLS != cfg.Admin.TLS)
}

// Shutdown stops accepting connections, lets running transfers finish until ctx
// is done, then closes every session. It returns how many transfers were running
// when it started and how many it had to cut.
func (s *Server) Shutdown(ctx context.Context) (waited, cut int) {
	s.stopping.Store(true)
	s.stopListeners()
	waited = int(s.reg.transfers.Load())
	if waited > 0 {
		s.log.Info("waiting for transfers to finish", "transfers", waited)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for s.reg.transfers.Load() > 0 {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
		}
	}
	cut = int(s.reg.transfers.Load())
	s.reg.each(func(sess *session) bool {
		sess.closeWith("Server shutting down, closing control connection.")
		return true
	})
	if s.adminSrv != nil {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.adminSrv.Shutdown(c)
		cancel()
	}
	hc, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.stopHooks(hc)
	hcancel()
	s.bus.Close()
	if s.cluster != nil {
		c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.cluster.Close(c)
		cancel()
	}
	s.cancel()
	if err := s.saveBans(); err != nil {
		s.log.Error("autoban state file", "err", err)
	}
	if s.metricsSrv != nil {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.metricsSrv.Close(c)
		cancel()
	}
	s.xfer.close()
	s.cleanup()
	s.log.Info("stopped", "transfers_waited_for", waited, "transfers_cut", cut)
	return waited, cut
}

func (s *Server) stopListeners() {
	for _, l := range s.listeners {
		_ = l.srv.Stop()
	}
	for _, l := range s.listeners {
		<-l.done
	}
}

func (s *Server) cleanup() {
	if s.embedded != nil {
		s.embedded.cleanup()
	}
}

// saveBans writes the ban state file, if one is configured; one writer at a time.
func (s *Server) saveBans() error {
	file := s.state().cfg.Autoban.StateFile
	if file == "" {
		return nil
	}
	s.banSaveMu.Lock()
	defer s.banSaveMu.Unlock()
	return s.autoban.Save(file)
}

// autobanSaver writes the ban state file every minute while bans change.
func (s *Server) autobanSaver() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			if err := s.saveBans(); err != nil {
				s.log.Error("autoban state file", "err", err)
			}
		}
	}
}

// proxyOptions are the PROXY protocol settings of the listeners, control and
// passive data alike; false when [proxy_protocol] trusts no balancer (the
// listeners are then not wrapped at all).
func (s *Server) proxyOptions() (proxy.Options, bool) {
	pp := s.boot.Proxy
	if len(pp.Trusted) == 0 {
		return proxy.Options{}, false
	}
	return proxy.Options{
		Trusted: pp.Trusted,
		Timeout: pp.Timeout,
		Logger:  s.log.With("component", "proxy"),
		OnRefused: func(netip.Addr, string) {
			s.metrics.connectionsTotal.WithLabelValues(connRefusedProxy).Inc() // the package logs it
		},
	}, true
}

// proxied reports whether listeners expect PROXY headers from balancers.
func (s *Server) proxied() bool { return len(s.boot.Proxy.Trusted) > 0 }

// nonNil makes an empty list a JSON [] rather than null in the logs.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// ShutdownGrace is how long Shutdown should let transfers run.
func (s *Server) ShutdownGrace() time.Duration { return s.state().cfg.Server.ShutdownGrace }

// calibrate times one check of each kind of hash st's users have (the failure
// floor), then hands the memory those checks used back to the system: a
// memory-hard hash leaves its arena (19 MiB for argon2id's default) as
// garbage, which would otherwise stay resident and set the collector's first
// goal at twice the arena, so that the first listings and transfers grow the
// process instead of reusing a small heap.
func (s *Server) calibrate(st *state) {
	st.dir.Calibrate(s.ctx)
	if s.ctx.Err() == nil {
		debug.FreeOSMemory()
	}
}
