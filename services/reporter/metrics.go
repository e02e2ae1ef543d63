package reporter

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/infra/metrics"
)

// The outcomes of one delivery attempt.
const (
	outcomeDelivered    = "delivered"
	outcomeRetried      = "retried"
	outcomeDeadLettered = "dead_lettered"
	outcomeStale        = "stale" // older than POST_MAX_LAG: parked with the dead letters
)

// Targets are labelled by their consumer's name (reporter_<hash of the URL>), never by the
// URL, whose query or user information may hold a secret.
var (
	deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "deliveries_total",
		Help: "Delivery attempts, by target (its consumer's name) and outcome: delivered, retried, dead_lettered or stale (parked unposted, older than POST_MAX_LAG).",
	}, []string{"target", "outcome"})
	deliveryDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Name: "delivery_duration_seconds",
		Help:    "Time of one delivery attempt (the POST, and applying its answer), by target.",
		Buckets: metrics.DurationBuckets,
	}, []string{"target"})
	answersApplied = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "answers_applied_total",
		Help: "API calls made for the receivers' answers (reply, media, shutup) that the API carried out, by route.",
	}, []string{"route"})
	mediaMissing = promauto.NewCounter(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "media_missing_total",
		Help: "Media messages posted without media_data because the media store no longer had the media (expired).",
	})
	consumerPending = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "consumer_pending",
		Help: "Items of a target not delivered yet: not handed out (pending) plus handed out and not acknowledged (ack pending).",
	}, []string{"target"})
)

// observeDelivery counts one delivery attempt.
func observeDelivery(t target, outcome string, took time.Duration) {
	deliveries.WithLabelValues(t.consumer(), outcome).Inc()
	deliveryDuration.WithLabelValues(t.consumer()).Observe(took.Seconds())
}

// pendingEvery is how often openqq_consumer_pending is refreshed.
var pendingEvery = 5 * time.Second

// watchPending keeps openqq_consumer_pending of t up to date until ctx ends.
func (r *Reporter) watchPending(ctx context.Context, t target, consumers []string) {
	name := t.consumer()
	for _, o := range []string{outcomeDelivered, outcomeRetried, outcomeDeadLettered, outcomeStale} {
		deliveries.WithLabelValues(name, o) // shown as 0 before the first attempt
	}
	tick := time.NewTicker(pendingEvery)
	defer tick.Stop()
	for {
		// Every partition's consumer reads every item: the most behind tells the backlog.
		qctx, cancel := context.WithTimeout(ctx, pendingEvery)
		pending, ok := uint64(0), false
		for _, c := range consumers {
			if c, err := r.js.Consumer(qctx, r.subj.Stream(), c); err == nil {
				info := c.CachedInfo()
				pending, ok = max(pending, info.NumPending+uint64(info.NumAckPending)), true
			}
		}
		if ok {
			consumerPending.WithLabelValues(name).Set(float64(pending))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
