package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

const pathHosts = "many accounts"

// startPace is the pause between two accounts stored: 50 starts a second.
const startPace = 20 * time.Millisecond

// Hosts: HostAccounts simulated accounts on 2 session hosts (openqq-session processes, one
// nats-server): the RSS an idle account costs, from its spec in the clients bucket (what
// start_client stores) to its client running, and the failover of a host that stops answering
// (SIGSTOP, as a lost machine or a partition: its leases must expire; a SIGKILLed process of
// the same machine is taken over at once).
func (h *Harness) Hosts(ctx context.Context) []Row {
	rows, err := h.hosts(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathHosts, fmt.Sprintf("%d simulated accounts on 2 session hosts", h.Cfg.HostAccounts), err))
	}
	return rows
}

func (h *Harness) hosts(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	n, ttl := cfg.HostAccounts, cfg.HostLeaseTTL
	_, url, err := h.NATSServer(ctx)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	start := func(id string) (*Proc, error) {
		return h.Start(id, binSession, map[string]string{
			"NATS_URL": url, "HOST_ID": id, "LEASE_TTL": ttl.String(), "DEFAULT_CLIENT": "false",
		})
	}
	a, err := start("host-a")
	if err != nil {
		return nil, err
	}
	b, err := start("host-b")
	if err != nil {
		return nil, err
	}
	prefix := events.Subjects{Prefix: events.DefaultPrefix}
	var clients, leases jetstream.KeyValue
	deadline := time.Now().Add(30 * time.Second)
	for clients == nil || leases == nil {
		clients, _ = js.KeyValue(ctx, prefix.ClientsBucket())
		leases, _ = js.KeyValue(ctx, prefix.LeasesBucket())
		if time.Now().After(deadline) {
			return nil, errors.New("the hosts created no buckets within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(cfg.IdleSettle)
	rssA0, err := RSS(a)
	if err != nil {
		return nil, err
	}
	rssB0, err := RSS(b)
	if err != nil {
		return nil, err
	}

	// Watch the leases: when each account first runs, and on which host.
	w, err := leases.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	var (
		mu      sync.Mutex
		running = map[string]time.Time{}
		where   = map[string]string{}
		changed = make(chan struct{}, 1)
	)
	go func() {
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var l events.ClientLease
			if json.Unmarshal(e.Value(), &l) != nil || l.State != events.StateRunning {
				continue
			}
			mu.Lock()
			if where[e.Key()] != l.Host {
				where[e.Key()] = l.Host
				running[e.Key()] = time.Now()
			}
			mu.Unlock()
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}()
	waitAll := func(names []string, ok func(string) bool, within time.Duration) error {
		deadline := time.After(within)
		for {
			mu.Lock()
			all := true
			for _, c := range names {
				if !ok(c) {
					all = false
					break
				}
			}
			mu.Unlock()
			if all {
				return nil
			}
			select {
			case <-changed:
			case <-deadline:
				return fmt.Errorf("not every account running within %s", within)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}

	names := make([]string, n)
	put := map[string]time.Time{}
	qr := h.Dir("qrcode")
	began := time.Now()
	for i := range names {
		c := fmt.Sprintf("acct%04d", i)
		names[i] = c
		spec := events.ClientSpec{Client: c, Source: events.SourceController, StartTime: time.Now().Unix(),
			Settings: map[string]string{"DRIVER": "sim", "SIM_QRCODE_DIR": qr}}
		mu.Lock()
		put[c] = time.Now()
		mu.Unlock()
		if _, err := clients.Put(ctx, c, events.MustMarshal(spec)); err != nil {
			return nil, err
		}
		// Paced, as start_client calls come: the latency of one start, not of a queue.
		time.Sleep(startPace)
	}
	if err := waitAll(names, func(c string) bool { _, ok := running[c]; return ok }, 5*time.Minute); err != nil {
		return nil, err
	}
	all := time.Since(began)
	lat := make([]time.Duration, 0, n)
	onA := []string{}
	mu.Lock()
	for _, c := range names {
		lat = append(lat, running[c].Sub(put[c]))
		if where[c] == "host-a" {
			onA = append(onA, c)
		}
	}
	mu.Unlock()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]

	time.Sleep(2 * cfg.IdleSettle)
	rssA, err := RSS(a)
	if err != nil {
		return nil, err
	}
	rssB, err := RSS(b)
	if err != nil {
		return nil, err
	}
	per := float64(rssA+rssB-rssA0-rssB0) / float64(n)

	// Failover: host-a stops answering (SIGSTOP); its accounts run on host-b once its leases
	// expire.
	if len(onA) == 0 {
		return nil, errors.New("host-a runs no account")
	}
	stopped := time.Now()
	if err := syscall.Kill(a.Pid(), syscall.SIGSTOP); err != nil {
		return nil, err
	}
	err = waitAll(onA, func(c string) bool { return where[c] == "host-b" }, 5*ttl+time.Minute)
	failover := time.Since(stopped)
	first := failover
	mu.Lock()
	for _, c := range onA {
		if where[c] == "host-b" {
			first = min(first, running[c].Sub(stopped))
		}
	}
	mu.Unlock()
	_ = syscall.Kill(a.Pid(), syscall.SIGKILL)
	if err != nil {
		return nil, err
	}

	spread := fmt.Sprintf("%d on host-a, %d on host-b", len(onA), n-len(onA))
	return []Row{{
		Path: pathHosts, What: fmt.Sprintf("%d simulated accounts on 2 session hosts (%s): RSS per idle account", n, spread),
		Metric: "MB", Unit: "MB", Value: per / (1 << 20),
		Measured: fmt.Sprintf("%s MB (hosts %s + %s MB idle, %s + %s MB with the accounts)", num(per/(1<<20)),
			num(mb(rssA0)), num(mb(rssB0)), num(mb(rssA)), num(mb(rssB))),
		Target: "≤ 2 MB", Met: boolp(per <= 2<<20),
		Raw: map[string]any{"rss_before": []int64{rssA0, rssB0}, "rss_after": []int64{rssA, rssB}},
	}, {
		Path: pathHosts, What: fmt.Sprintf("%d accounts stored in the clients bucket at 50/s (what start_client stores) → each running (its lease says so)", n),
		Metric: "p99 ms", Unit: "ms", Value: ms(p99),
		Measured: fmt.Sprintf("p50 %s ms, p99 %s ms; all %d running %s s after the first was stored", num(ms(p50)), num(ms(p99)), n, num(all.Seconds())),
		Target:   "p99 ≤ 500 ms", Met: boolp(p99 <= 500*time.Millisecond),
		Raw: map[string]any{"p50_ms": ms(p50), "p99_ms": ms(p99), "all_s": all.Seconds()},
	}, {
		Path: pathHosts, What: fmt.Sprintf("failover: host-a stops answering (SIGSTOP) → its %d accounts running on host-b (LEASE_TTL %s)", len(onA), ttl),
		Metric: "s", Unit: "s", Value: failover.Seconds(),
		Measured: fmt.Sprintf("all running on host-b after %s s (the first after %s s)", num(failover.Seconds()), num(first.Seconds())),
		Target:   "– (LEASE_TTL, then the logins of its accounts)",
		Raw:      map[string]any{"failover_s": failover.Seconds(), "first_s": first.Seconds(), "accounts": len(onA)},
	}}, nil
}
