package host

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/infra/metrics"
)

// The host's state, by subject prefix (one host per prefix in a process).
var (
	hostAccounts = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: metrics.Namespace, Name: "host_accounts",
		Help: "Accounts this session host runs, each under a lease it holds.",
	}, []string{"prefix"})
	accountStart = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Name: "host_account_start_seconds",
		Help:    "From taking an account's lease to its client running (the simulated account logs in at once).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"prefix"})
	leasesLost = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "host_leases_lost_total",
		Help: "Accounts stopped because their lease was lost: taken by another host, or not renewed in time (self-fencing).",
	}, []string{"prefix"})
	renewFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "host_lease_renew_failures_total",
		Help: "Lease renewals that failed (NATS away or slow); an account is stopped when they fail for LEASE_TTL minus one renewal interval.",
	}, []string{"prefix"})
)
