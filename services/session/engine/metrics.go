package engine

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics"
)

// The metrics are registered once per process and labelled with the engine's micro service
// ("openqq", "openwx") and subject prefix, so that several engines in one process (a QQ and a
// WeChat account) report apart.
var (
	eventsPublished = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "events_published_total",
		Help: "Messages and events stored in the event stream, by name (group_message, state_change, ...).",
	}, []string{"service", "prefix", "name"})
	outboxReports = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "outbox_reports",
		Help: "Reports queued for the event stream and not stored yet (they pile up while NATS is away).",
	}, []string{"service", "prefix"})
	sessionCalls = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "session_calls_total",
		Help: `API calls the session answered, by route and API code ("0" success, "-2" not ready, ...).`,
	}, []string{"service", "prefix", "route", "code"})
)

// metricLabels are the labels that tell one engine's series from another's.
type metricLabels struct{ service, prefix string }

// allStates are the states openqq_client_state reports, each one always.
var allStates = []events.State{
	events.StateInit, events.StateLoading, events.StateScaning, events.StateConfirming,
	events.StateUpdating, events.StateRunning, events.StateStop,
}

var clientStateDesc = prometheus.NewDesc(
	prometheus.BuildFQName(metrics.Namespace, "", "client_state"),
	"The client state: 1 for the current one, 0 for the others, for each running engine (service and subject prefix).",
	[]string{"service", "prefix", "state"}, nil)

// stateCollector reads the state of the running engines when /metrics is scraped.
type stateCollector struct {
	mu      sync.Mutex
	engines map[*Engine]struct{}
}

var runningEngines = &stateCollector{engines: map[*Engine]struct{}{}}

func init() { prometheus.MustRegister(runningEngines) }

// trackState reports e in openqq_client_state until the returned function is called.
func trackState(e *Engine) (untrack func()) {
	// Shown as 0 before the first report, as the state's series are.
	outboxReports.WithLabelValues(e.labels.service, e.labels.prefix).Add(0)
	runningEngines.mu.Lock()
	runningEngines.engines[e] = struct{}{}
	runningEngines.mu.Unlock()
	return func() {
		runningEngines.mu.Lock()
		delete(runningEngines.engines, e)
		runningEngines.mu.Unlock()
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- clientStateDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	count := map[metricLabels]map[events.State]int{}
	c.mu.Lock()
	for e := range c.engines {
		if count[e.labels] == nil {
			count[e.labels] = map[events.State]int{}
		}
		count[e.labels][e.State()]++
	}
	c.mu.Unlock()
	for l, states := range count {
		for _, st := range allStates {
			ch <- prometheus.MustNewConstMetric(clientStateDesc, prometheus.GaugeValue, float64(states[st]), l.service, l.prefix, string(st))
		}
	}
}
