package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/metrics"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// waitConnected waits until openqq_nats_connected{conn} is want.
func waitConnected(t *testing.T, conn string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := metricstest.Local(t).Value("openqq_nats_connected", "conn", conn)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("openqq_nats_connected{conn=%q} = %v, want %v", conn, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A connection made by natsconn.Connect is 1 while connected and 0 while its server is away.
func TestNATSConnected(t *testing.T) {
	dir := t.TempDir()
	srv, err := embednats.Start(embednats.Config{Host: "127.0.0.1", Port: -1, StoreDir: dir}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop) // stopping twice is harmless
	nc, err := natsconn.Connect(natsconn.Config{URL: srv.ClientURL()}, "metrics-test-conn", natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	waitConnected(t, "metrics-test-conn", 1)
	if typ := metricstest.Local(t).Type("openqq_nats_connected"); typ != "gauge" {
		t.Errorf("openqq_nats_connected is a %q, want a gauge", typ)
	}

	srv.Stop()
	waitConnected(t, "metrics-test-conn", 0)
	nc.Close()
	waitConnected(t, "metrics-test-conn", 0)
}

// In-process connections of the all-in-one binary are tracked too, and several of one name
// count as connected while any is.
func TestNATSConnectedInProcess(t *testing.T) {
	srv := natstest.Start(t)
	a, err := srv.Connect("metrics-test-inproc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	b, err := srv.Connect("metrics-test-inproc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	waitConnected(t, "metrics-test-inproc", 1)
	a.Close()
	waitConnected(t, "metrics-test-inproc", 1)
	b.Close()
	waitConnected(t, "metrics-test-inproc", 0)
	metrics.TrackNATS("metrics-test-nil", (*nats.Conn)(nil)) // no connection: nothing to report
	if metricstest.Local(t).Has("openqq_nats_connected", "conn", "metrics-test-nil") {
		t.Error("a nil connection is reported")
	}
}

// health.Handler serves /metrics in the Prometheus text format, with the Go and process
// collectors, next to /healthz and /readyz.
func TestHealthHandlerServesMetrics(t *testing.T) {
	srv := httptest.NewServer(health.Handler())
	t.Cleanup(srv.Close)
	snap := metricstest.Scrape(t, srv.URL+"/metrics")
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := snap[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: HTTP %d, want 405", resp.StatusCode)
	}
}
