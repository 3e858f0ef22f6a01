package server

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricNames lints every wharf_ metric with Prometheus' own rules.
func TestMetricNames(t *testing.T) {
	m := newMetrics(func() float64 { return 0 }, func() float64 { return 0 }, func() float64 { return 1 })
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	want := []string{
		"wharf_connections", "wharf_connections_total", "wharf_logins_total", "wharf_bans",
		"wharf_bans_total", "wharf_transfers_total", "wharf_transfer_bytes_total",
		"wharf_passive_ports_in_use", "wharf_passive_ports_exhausted_total", "wharf_tls_handshakes_total",
		"go_goroutines", "process_cpu_seconds_total",
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	for _, name := range want {
		if !have[name] {
			t.Errorf("metric %s missing", name)
		}
	}
}
