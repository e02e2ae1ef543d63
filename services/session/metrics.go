package session

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics"
)

var (
	eventsPublished = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "events_published_total",
		Help: "Messages and events stored in the event stream, by name (group_message, state_change, ...).",
	}, []string{"name"})
	outboxReports = promauto.NewGauge(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "outbox_reports",
		Help: "Reports queued for the event stream and not stored yet (they pile up while NATS is away).",
	})
	sessionCalls = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "session_calls_total",
		Help: `API calls the session answered, by route and API code ("0" success, "-2" not ready, ...).`,
	}, []string{"route", "code"})
)

// allStates are the states openqq_client_state reports, each one always.
var allStates = []events.State{
	events.StateInit, events.StateLoading, events.StateScaning, events.StateConfirming,
	events.StateUpdating, events.StateRunning, events.StateStop,
}

var clientStateDesc = prometheus.NewDesc(
	prometheus.BuildFQName(metrics.Namespace, "", "client_state"),
	"The client state: 1 for the current one, 0 for the others. (Should one process run several sessions, each counts in its state.)",
	[]string{"state"}, nil)

// stateCollector reads the state of the running sessions when /metrics is scraped.
type stateCollector struct {
	mu       sync.Mutex
	sessions map[*Session]struct{}
}

var runningSessions = &stateCollector{sessions: map[*Session]struct{}{}}

func init() { prometheus.MustRegister(runningSessions) }

// trackState reports s in openqq_client_state until the returned function is called.
func trackState(s *Session) (untrack func()) {
	runningSessions.mu.Lock()
	runningSessions.sessions[s] = struct{}{}
	runningSessions.mu.Unlock()
	return func() {
		runningSessions.mu.Lock()
		delete(runningSessions.sessions, s)
		runningSessions.mu.Unlock()
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- clientStateDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	count := map[events.State]int{}
	c.mu.Lock()
	for s := range c.sessions {
		count[s.ClientState()]++
	}
	c.mu.Unlock()
	for _, st := range allStates {
		ch <- prometheus.MustNewConstMetric(clientStateDesc, prometheus.GaugeValue, float64(count[st]), string(st))
	}
}
