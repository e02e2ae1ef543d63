package poller_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
)

// Every poll is counted by its outcome. Not parallel: the counter has no label of its own.
func TestMetricsPollCycles(t *testing.T) {
	var (
		mu    sync.Mutex
		polls int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			return
		}
		mu.Lock()
		polls++
		n := polls
		mu.Unlock()
		switch n {
		case 1: // a command
			w.Header().Set("Location", "/openqq/get_user_info")
			w.WriteHeader(http.StatusFound)
		case 2: // refused
			w.Header().Set("Location", "/etc/passwd")
			w.WriteHeader(http.StatusFound)
		case 3: // a broken answer: the poll fails
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = rw.WriteString("HTTP/1.1 abc broken\r\n\r\n")
			_ = rw.Flush()
			_ = conn.Close()
		default: // answered
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	before := metricstest.Local(t)
	start(t, srv.URL+"/poll", 20*time.Millisecond, 0, false)
	want := map[string]float64{"command": 1, "refused": 1, "failed": 1, "answered": 2}
	var after metricstest.Snapshot
	waitFor(t, "every outcome counted", func() bool {
		after = metricstest.Local(t)
		return metricstest.Delta(before, after, "openqq_poll_cycles_total", "outcome", "answered") >= want["answered"]
	})
	for outcome, n := range want {
		got := metricstest.Delta(before, after, "openqq_poll_cycles_total", "outcome", outcome)
		if outcome == "answered" && got >= n || got == n {
			continue
		}
		t.Errorf("openqq_poll_cycles_total{outcome=%q} rose by %v, want %v", outcome, got, n)
	}
}
