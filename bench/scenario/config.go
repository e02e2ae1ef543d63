// Package scenario is openqq's benchmark harness: each scenario starts the system the way a user
// runs it (the all-in-one binary, or nats-server plus the service binaries), drives it over HTTP
// and NATS on loopback, and measures it against a baseline taken side by side in the same run.
// A figure counts only as a ratio against its baseline: absolute numbers depend on the machine.
package scenario

import "time"

// Config sizes a run. Full is `make bench`, Quick is `BENCH_QUICK=1 make bench`, Tiny is the
// test that keeps the harness from rotting.
type Config struct {
	Name string

	// Warmup runs before each HTTP measurement and is not counted.
	Warmup time.Duration
	// Rounds: openqq and its baseline are measured in turns, Rounds times each, and each round
	// takes its share of the warm-up and of the duration.
	Rounds int
	// ThroughputDur is one closed-loop measurement at Conns connections.
	ThroughputDur time.Duration
	Conns         int
	// LatencyDur is one open-loop measurement at Rate requests per second.
	LatencyDur time.Duration
	Rate       float64

	// The large roster: LargeGroups groups of LargeMembers members each, read back by
	// get_group_info over LargeConns connections for LargeDur; then over LargeBurstConns, to
	// see that every call is still answered.
	LargeGroups, LargeMembers int
	LargeConns                int
	LargeBurstConns           int
	LargeDur                  time.Duration

	// Events injected group messages, delivered to a sink answering at once.
	Events int
	// InjectWorkers is how many injections are in flight at once.
	InjectWorkers int
	// PostConcurrency is POST_CONCURRENCY, and the baseline consumer's concurrency.
	PostConcurrency int

	// ScaleEvents go to a sink answering after ScaleDelay, with each number of reporters.
	ScaleEvents    int
	ScaleDelay     time.Duration
	ScaleReporters []int

	// LongPollCallers check_event callers are held for up to LongPollHold, then as many
	// events are injected.
	LongPollCallers int
	LongPollHold    time.Duration

	// The Openwx media rows: an image of MediaBytes sent over MediaConns connections for
	// MediaDur; the memory row sends MediaSends of them (100 × 1 MB in the full pass).
	MediaBytes int
	MediaConns int
	MediaDur   time.Duration
	MediaSends int

	// StartRuns is how many times the all-in-one is started for the start-up time.
	StartRuns int
	// IdleSettle is how long the all-in-one idles before its RSS is read.
	IdleSettle time.Duration

	// HostAccounts simulated accounts run on 2 session hosts (openqq-session processes) whose
	// leases live HostLeaseTTL: their RSS, start latency and failover.
	HostAccounts int
	HostLeaseTTL time.Duration
}

// Full is the full pass: a few minutes.
func Full() Config {
	return Config{
		Name:   "full",
		Rounds: 3, Warmup: 3 * time.Second, ThroughputDur: 10 * time.Second, Conns: 64,
		LatencyDur: 10 * time.Second, Rate: 2000,
		LargeGroups: 500, LargeMembers: 200, LargeConns: 2, LargeBurstConns: 8, LargeDur: 10 * time.Second,
		Events: 100_000, InjectWorkers: 64, PostConcurrency: 16,
		ScaleEvents: 12_000, ScaleDelay: 20 * time.Millisecond, ScaleReporters: []int{1, 2, 4},
		LongPollCallers: 1000, LongPollHold: 10 * time.Second,
		MediaBytes: 1 << 20, MediaConns: 4, MediaDur: 6 * time.Second, MediaSends: 100,
		StartRuns: 5, IdleSettle: 2 * time.Second,
		HostAccounts: 1000, HostLeaseTTL: 10 * time.Second,
	}
}

// Quick is a pass of about a minute: the same rows with shorter durations and smaller counts.
func Quick() Config {
	return Config{
		Name:   "quick",
		Rounds: 2, Warmup: time.Second, ThroughputDur: 1500 * time.Millisecond, Conns: 64,
		LatencyDur: 1500 * time.Millisecond, Rate: 2000,
		LargeGroups: 500, LargeMembers: 200, LargeConns: 2, LargeBurstConns: 8, LargeDur: 1500 * time.Millisecond,
		Events: 10_000, InjectWorkers: 64, PostConcurrency: 16,
		ScaleEvents: 2_000, ScaleDelay: 20 * time.Millisecond, ScaleReporters: []int{1, 2, 4},
		LongPollCallers: 1000, LongPollHold: 5 * time.Second,
		MediaBytes: 1 << 20, MediaConns: 4, MediaDur: 1500 * time.Millisecond, MediaSends: 30,
		StartRuns: 3, IdleSettle: time.Second,
		HostAccounts: 200, HostLeaseTTL: 5 * time.Second,
	}
}

// Tiny runs every scenario once with tiny sizes, for the test: numbers, not timings.
func Tiny() Config {
	return Config{
		Name:   "tiny",
		Rounds: 1, Warmup: 100 * time.Millisecond, ThroughputDur: 300 * time.Millisecond, Conns: 8,
		LatencyDur: 300 * time.Millisecond, Rate: 200,
		LargeGroups: 2, LargeMembers: 10, LargeConns: 2, LargeBurstConns: 4, LargeDur: 300 * time.Millisecond,
		Events: 300, InjectWorkers: 8, PostConcurrency: 16,
		ScaleEvents: 100, ScaleDelay: 20 * time.Millisecond, ScaleReporters: []int{1, 2},
		LongPollCallers: 50, LongPollHold: 3 * time.Second,
		MediaBytes: 64 << 10, MediaConns: 2, MediaDur: 300 * time.Millisecond, MediaSends: 5,
		StartRuns: 1, IdleSettle: 100 * time.Millisecond,
		HostAccounts: 10, HostLeaseTTL: 2 * time.Second,
	}
}
