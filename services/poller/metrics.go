package poller

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/infra/metrics"
)

// The outcomes of one poll.
const (
	pollAnswered = "answered" // the poll server answered without a redirect
	pollCommand  = "command"  // a redirect that was carried out as an API call
	pollRefused  = "refused"  // a redirect that is no /openqq/<route>
	pollFailed   = "failed"   // the poll or the API call failed
)

var pollCycles = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: metrics.Namespace, Name: "poll_cycles_total",
	Help: "Polls of POLL_API, by outcome: answered, command, refused or failed (a poll cut short because the client stopped running is not counted).",
}, []string{"outcome"})

// showPollCycles shows every outcome, as 0 before its first poll, once there is a heartbeat.
func showPollCycles() {
	for _, o := range []string{pollAnswered, pollCommand, pollRefused, pollFailed} {
		pollCycles.WithLabelValues(o)
	}
}
