package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/cmd/openqq/allinone"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// The metric tests are not parallel: metrics are process-wide, and a sequential test runs
// while no other test does (parallel ones wait until the sequential ones are done), so a delta
// is exactly this test's doing and one session is running.

// allInOne is allinone.Run on free ports.
type allInOne struct {
	base string // http://<the API's address>
	nc   *nats.Conn
}

func runForMetrics(t *testing.T, mod func(*allinone.Config)) *allInOne {
	t.Helper()
	cfg := allinone.Config{
		NATS: embednats.Config{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()},
		Session: session.Config{
			SubjectPrefix: "qq", Account: "default", Driver: "sim", DriverTimeout: 5 * time.Second,
			ControlDelay: 100 * time.Millisecond, LogLevel: "info", DriverConfig: &sim.Config{QRCodeDir: t.TempDir()},
		},
		Gateway: gateway.Config{Addr: "127.0.0.1:0", SubjectPrefix: "qq", APITimeout: 2 * time.Second, MaxBodyBytes: 1 << 20},
	}
	if mod != nil {
		mod(&cfg)
	}
	ready := make(chan allinone.Addrs, 1)
	cfg.Ready = func(a allinone.Addrs) { ready <- a }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- allinone.Run(ctx, cfg, natstest.Logger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("allinone.Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("allinone.Run still running 20s after the test")
		}
	})
	var a allinone.Addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("allinone.Run returned %v before it was ready", err)
	case <-time.After(10 * time.Second):
		t.Fatal("allinone.Run not ready within 10s")
	}
	nc, err := nats.Connect(a.NATS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	r := &allInOne{base: "http://" + a.HTTP.String(), nc: nc}
	metricsWait(t, "the client running", func() bool {
		resp, err := http.Get(r.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return r
}

func metricsWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// `curl localhost:5000/metrics` of `make run`: the all-in-one serves every service's metrics
// (one registry) on the API's port, and they move as the system works.
func TestMetricsAllInOne(t *testing.T) {
	post := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	postAPI := post.URL + "?token=metrics-e2e"
	r := runForMetrics(t, func(c *allinone.Config) {
		c.Reporter = reporter.Config{PostAPI: []string{postAPI}, PostEvent: true}
	})
	scrape := func() metricstest.Snapshot { return metricstest.Scrape(t, r.base+"/metrics") }

	// /healthz and /readyz are on the API's port too, without the API's JSON 403.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(r.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"status"`) {
			t.Errorf("GET %s: HTTP %d %s", path, resp.StatusCode, b)
		}
	}

	before := scrape()
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "openqq_client_state", "openqq_nats_connected", "openqq_outbox_reports"} {
		if _, ok := before[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if got := before.Value("openqq_client_state", "state", string(events.StateRunning)); got != 1 {
		t.Errorf(`openqq_client_state{state="running"} = %v, want 1`, got)
	}
	if got := before.Value("openqq_client_state"); got != 1 {
		t.Errorf("openqq_client_state sums to %v over its states, want 1", got)
	}
	if states := before.LabelValues("openqq_client_state", "state"); len(states) != 7 {
		t.Errorf("openqq_client_state states %v, want all seven", states)
	}
	for _, conn := range []string{"openqq-session", "openqq-gateway", "openqq-reporter"} {
		if got := before.Value("openqq_nats_connected", "conn", conn); got != 1 {
			t.Errorf("openqq_nats_connected{conn=%q} = %v, want 1", conn, got)
		}
	}

	// An API call.
	resp, err := http.Get(r.base + "/openqq/get_user_info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("get_user_info: HTTP %d", resp.StatusCode)
	}
	// A message the account receives.
	rep, err := r.nc.Request(events.Subjects{}.SimInject(),
		[]byte(`{"type":"group_message","group_id":2617047292,"sender_id":2372835507,"content":"metrics e2e"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep.Data), `"code":0`) {
		t.Fatalf("inject: %s", rep.Data)
	}
	if _, ok := post.Wait(15*time.Second, func(rs []proctest.Request) bool {
		for _, r := range rs {
			if strings.Contains(string(r.Body), "metrics e2e") {
				return true
			}
		}
		return false
	}); !ok {
		t.Fatal("timed out waiting for the message at post_api")
	}

	var after metricstest.Snapshot
	metricsWait(t, "the delivery counted", func() bool {
		after = scrape()
		return metricstest.Delta(before, after, "openqq_deliveries_total", "outcome", "delivered") >= 1
	})
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"openqq_api_requests_total", []string{"route", "get_user_info", "code", "200"}, 1},
		{"openqq_api_request_duration_seconds", []string{"route", "get_user_info"}, 1},
		{"openqq_session_calls_total", []string{"route", "get_user_info", "code", "0"}, 1},
		{"openqq_events_published_total", []string{"name", "group_message"}, 1},
	} {
		if got := metricstest.Delta(before, after, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v rose by %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// The target is named by its consumer, never by its URL (whose query holds a token).
	targets := after.LabelValues("openqq_deliveries_total", "target")
	if len(targets) == 0 {
		t.Error("openqq_deliveries_total has no target")
	}
	for _, tg := range append(targets, after.LabelValues("openqq_consumer_pending", "target")...) {
		if !strings.HasPrefix(tg, "reporter_") || strings.Contains(tg, "metrics-e2e") {
			t.Errorf("target label %q", tg)
		}
	}
	if got := after.Value("openqq_outbox_reports"); got < 0 {
		t.Errorf("openqq_outbox_reports = %v", got)
	}
}
