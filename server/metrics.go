package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wharf-ftp/wharf/events/hooks"
)

// Label values of wharf_connections_total{result}.
const (
	connAccepted        = "accepted"
	connRefusedFilter   = "refused_ipfilter"
	connRefusedBanned   = "refused_banned"
	connRefusedLimit    = "refused_limit"
	connRefusedProxy    = "refused_proxy"
	loginSuccess        = "success"
	loginFailure        = "failure"
	transferComplete    = "complete"
	transferInterrupted = "interrupted"
	tlsModeExplicit     = "explicit"
	tlsModeImplicit     = "implicit"
	tlsModeData         = "data"
	tlsOK               = "ok"
	tlsFailed           = "failed"
)

// metrics holds every collector wharf exports, registered on its own registry.
type metrics struct {
	reg *prometheus.Registry

	connections         prometheus.Gauge
	connectionsTotal    *prometheus.CounterVec
	loginsTotal         *prometheus.CounterVec
	bans                prometheus.GaugeFunc
	bansTotal           prometheus.Counter
	transfersTotal      *prometheus.CounterVec
	transferBytes       *prometheus.CounterVec
	transferDone        [2][2]prometheus.Counter // [upload][interrupted]: transfersTotal's series, resolved once
	transferDoneBytes   [2]prometheus.Counter    // [upload]: transferBytes' series
	passiveInUse        prometheus.GaugeFunc
	passiveExhausted    prometheus.Counter
	tlsHandshakes       *prometheus.CounterVec
	commandRefusals     *prometheus.CounterVec
	reloadSuccessful    prometheus.Gauge
	reloadTimestamp     prometheus.Gauge
	sessionsLoggedIn    prometheus.Gauge
	passwordChecksTotal *prometheus.CounterVec
	quotaRefusals       prometheus.Counter
	hookRuns            *prometheus.CounterVec
	clusterUp           prometheus.GaugeFunc
}

func newMetrics(activeBans, passiveInUse, clusterUp func() float64) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wharf_connections", Help: "Control connections currently open.",
	})
	m.connectionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_connections_total", Help: "Control connections that arrived, by result.",
	}, []string{"result"})
	m.loginsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_logins_total", Help: "Login attempts, by result.",
	}, []string{"result"})
	m.bans = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wharf_bans", Help: "Addresses currently banned by autoban.",
	}, activeBans)
	m.bansTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wharf_bans_total", Help: "Bans started by autoban.",
	})
	m.transfersTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_transfers_total", Help: "File transfers, by direction and result.",
	}, []string{"direction", "result"})
	m.transferBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_transfer_bytes_total", Help: "Bytes of file data transferred, by direction.",
	}, []string{"direction"})
	m.passiveInUse = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wharf_passive_ports_in_use", Help: "Passive ports currently listening or connected.",
	}, passiveInUse)
	m.passiveExhausted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wharf_passive_ports_exhausted_total", Help: "PASV/EPSV requests refused because every passive port was in use.",
	})
	m.tlsHandshakes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_tls_handshakes_total", Help: "TLS handshakes, by mode (explicit, implicit, data) and result.",
	}, []string{"mode", "result"})
	m.commandRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_refusals_total", Help: "Refused logins and sessions, by reason.",
	}, []string{"reason"})
	m.reloadSuccessful = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wharf_config_last_reload_successful", Help: "Whether the last configuration reload succeeded (1) or not (0).",
	})
	m.reloadTimestamp = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wharf_config_last_reload_success_timestamp_seconds", Help: "Time of the last successful configuration load.",
	})
	m.sessionsLoggedIn = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wharf_sessions", Help: "Logged-in sessions.",
	})
	m.passwordChecksTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_login_failures_total", Help: "Failed logins, by reason.",
	}, []string{"reason"})
	m.quotaRefusals = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wharf_quota_refusals_total", Help: "Uploads refused because they would pass a folder's quota.",
	})
	m.hookRuns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wharf_hook_runs_total", Help: "Hook runs, by result (ok, failed, timeout, dropped).",
	}, []string{"result"})
	m.clusterUp = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wharf_cluster_up", Help: "Whether the cluster's Redis answers (1), or not (0); 1 with no [cluster].",
	}, clusterUp)

	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.connections, m.connectionsTotal, m.loginsTotal, m.bans, m.bansTotal,
		m.transfersTotal, m.transferBytes, m.passiveInUse, m.passiveExhausted,
		m.tlsHandshakes, m.commandRefusals, m.reloadSuccessful, m.reloadTimestamp,
		m.sessionsLoggedIn, m.passwordChecksTotal, m.hookRuns, m.clusterUp, m.quotaRefusals,
	)
	for _, r := range hooks.Results {
		m.hookRuns.WithLabelValues(r)
	}
	for _, r := range []string{"unknown_user", "bad_password", "disabled", "ipfilter", "no_password", "bad_hash", "abandoned", "other"} {
		m.passwordChecksTotal.WithLabelValues(r)
	}
	for _, r := range []string{"permission", "not_found", "name_not_allowed", "error", "max_sessions", "tls_required"} {
		m.commandRefusals.WithLabelValues(r)
	}
	// Show every bounded label value from the start, so rates work from zero.
	for _, r := range []string{connAccepted, connRefusedFilter, connRefusedBanned, connRefusedLimit, connRefusedProxy} {
		m.connectionsTotal.WithLabelValues(r)
	}
	for _, r := range []string{loginSuccess, loginFailure} {
		m.loginsTotal.WithLabelValues(r)
	}
	for up, d := range []string{"download", "upload"} {
		m.transferDoneBytes[up] = m.transferBytes.WithLabelValues(d)
		for cut, r := range []string{transferComplete, transferInterrupted} {
			m.transferDone[up][cut] = m.transfersTotal.WithLabelValues(d, r)
		}
	}
	for _, mode := range []string{tlsModeExplicit, tlsModeImplicit, tlsModeData} {
		for _, r := range []string{tlsOK, tlsFailed} {
			m.tlsHandshakes.WithLabelValues(mode, r)
		}
	}
	return m
}

// metricsServer serves /metrics and /healthz.
type metricsServer struct {
	srv *http.Server
	ln  net.Listener
}

func startMetricsServer(listen ListenFunc, addr string, m *metrics, healthy func() bool, log *slog.Logger) (*metricsServer, error) {
	ln, err := listen("tcp", addr, net.Listen)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if healthy() {
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		http.Error(w, "not serving", http.StatusServiceUnavailable)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "address", ln.Addr().String())
	return &metricsServer{srv: srv, ln: ln}, nil
}

func (ms *metricsServer) Addr() string { return ms.ln.Addr().String() }

func (ms *metricsServer) Close(ctx context.Context) error { return ms.srv.Shutdown(ctx) }
