package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

const pathHosts = "many accounts"

// startPace is the pause between two start_client calls: 50 starts a second.
const startPace = 20 * time.Millisecond

// Hosts: HostAccounts simulated accounts on 2 session hosts (openqq-session processes, one
// nats-server, one openqq-gateway, one openqq-reporter): each account started by a
// start_client call through the gateway (the Controller every host serves), the RSS an idle
// account costs, the API's latency with calls spread over every account and the events
// delivered from many accounts, each against the single-account system (nats-server,
// openqq-session with its default account, openqq-gateway, openqq-reporter) measured in the
// same run, and last the failover of a host that stops answering (SIGSTOP, as a lost machine or
// a partition: its leases must expire; a SIGKILLed process of the same machine is taken over at
// once).
func (h *Harness) Hosts(ctx context.Context) []Row {
	rows, err := h.hosts(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathHosts, fmt.Sprintf("%d simulated accounts on 2 session hosts", h.Cfg.HostAccounts), err))
	}
	return rows
}

// hostsReporterEnv are the settings of both systems' reporters: the unordered pipeline of the events
// row (one group per account: ordered, the single account's would go one POST at a time), and
// only what is stored from their start on (not the accounts' logins before).
func (h *Harness) hostsReporterEnv(sinkURL string) map[string]string {
	return map[string]string{
		"POST_API": sinkURL, "POST_CONCURRENCY": strconv.Itoa(h.Cfg.PostConcurrency), "POST_ORDER": "none",
		"POST_BACKFILL": "1s",
	}
}

// spread is a GET of route for each account in turn: calls spread over every account.
type spread struct {
	client *http.Client
	urls   []string
	next   atomic.Int64
}

// Call makes one GET, for the next account.
func (s *spread) Call(ctx context.Context, buf *bytes.Buffer) (int, error) {
	i := int(s.next.Add(1)-1) % len(s.urls)
	return Get{Client: s.client, URL: s.urls[i]}.Call(ctx, buf)
}

func (h *Harness) hosts(ctx context.Context) (rows []Row, err error) {
	cfg := h.Cfg
	n, ttl := cfg.HostAccounts, cfg.HostLeaseTTL
	// The stock limits (nats-server 2.15: 1,000 consumers per stream), as deployed: a host
	// holds one check_event feed for all its accounts, not one per account.
	prof := hostsProfiler{h: h, addrs: map[string]string{}}
	ns, natsURL, err := h.natsServer(ctx, prof.natsConf(), "")
	if err != nil {
		return nil, err
	}
	many := &System{NATS: natsURL, Procs: []*Proc{ns}}
	defer many.Stop()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	start := func(id string) (*Proc, error) {
		p, err := h.Start(id, binSession, prof.env(id, map[string]string{
			"NATS_URL": natsURL, "HOST_ID": id, "LEASE_TTL": ttl.String(), "DEFAULT_CLIENT": "false",
			"MAX_CLIENTS": strconv.Itoa(n + 10),
		}))
		if err == nil {
			many.add(p)
		}
		return p, err
	}
	a, err := start("host-a")
	if err != nil {
		return nil, err
	}
	b, err := start("host-b")
	if err != nil {
		return nil, err
	}
	port, err := proctest.FreePort()
	if err != nil {
		return nil, err
	}
	gw, err := h.Start("openqq-gateway", binGateway, prof.env("openqq-gateway", map[string]string{"NATS_URL": natsURL, "HTTP_ADDR": "127.0.0.1:" + strconv.Itoa(port)}))
	if err != nil {
		return nil, err
	}
	many.add(gw)
	many.API = "http://127.0.0.1:" + strconv.Itoa(port)
	// The Controller answers through the gateway once a host serves it.
	if err := pollHTTP(ctx, many.API+events.APIPath(events.RouteCheckClient), 30*time.Second, gw, status200); err != nil {
		return nil, err
	}
	prefix := events.Subjects{Prefix: events.DefaultPrefix}
	var leases jetstream.KeyValue
	deadline := time.Now().Add(30 * time.Second)
	for leases == nil {
		leases, _ = js.KeyValue(ctx, prefix.LeasesBucket())
		if time.Now().After(deadline) {
			return nil, errors.New("the hosts created no leases bucket within 30 s")
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

	// start_client through the gateway, paced as calls come (the latency of one start, not of
	// a queue), each call on its own so that a slow one does not hold the next back.
	hc := NewClient(cfg.Conns)
	names := make([]string, n)
	called := make([]time.Time, n)
	replied := make([]time.Duration, n)
	var (
		calls    sync.WaitGroup
		startErr atomic.Value
	)
	qr := h.Dir("qrcode")
	profiled := prof.start(ctx, "start", time.Duration(n)*startPace)
	began := time.Now()
	for i := range names {
		c := fmt.Sprintf("acct%04d", i)
		names[i] = c
		q := url.Values{events.ParamClient: {c}, "driver": {"sim"}, "sim_qrcode_dir": {qr}}
		u := many.API + events.APIPath(events.RouteStartClient) + "?" + q.Encode()
		called[i] = time.Now()
		calls.Go(func() {
			status, body, _, err := Fetch(ctx, hc, u)
			replied[i] = time.Since(called[i])
			if err == nil && !bytes.HasPrefix(body, []byte(`{"code":0,`)) && !bytes.Contains(body, []byte(`"code":0`)) {
				err = fmt.Errorf("start_client %s: HTTP %d: %.300s", c, status, body)
			}
			if err != nil {
				startErr.CompareAndSwap(nil, err)
			}
		})
		if i+1 < n {
			sleepCtx(ctx, startPace)
		}
	}
	calls.Wait()
	if err, ok := startErr.Load().(error); ok {
		return nil, err
	}
	if err := waitAll(names, func(c string) bool { _, ok := running[c]; return ok }, 5*time.Minute); err != nil {
		return nil, err
	}
	all := time.Since(began)
	profiled()
	lat := make([]time.Duration, 0, n)
	onA := []string{}
	mu.Lock()
	for i, c := range names {
		lat = append(lat, running[c].Sub(called[i]))
		if where[c] == "host-a" {
			onA = append(onA, c)
		}
	}
	mu.Unlock()
	slices.Sort(lat)
	slices.Sort(replied)
	p50, p99 := Percentile(lat, 0.5), Percentile(lat, 0.99)

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

	spreadText := fmt.Sprintf("%d on host-a, %d on host-b", len(onA), n-len(onA))
	rows = append(rows, Row{
		Path: pathHosts, What: fmt.Sprintf("%d simulated accounts on 2 session hosts (%s): RSS per idle account", n, spreadText),
		Metric: "MB", Unit: "MB", Value: per / (1 << 20),
		Measured: fmt.Sprintf("%s MB (hosts %s + %s MB idle, %s + %s MB with the accounts)", num(per/(1<<20)),
			num(mb(rssA0)), num(mb(rssB0)), num(mb(rssA)), num(mb(rssB))),
		Target: "≤ 2 MB", Met: boolp(per <= 2<<20),
		Raw: map[string]any{"rss_before": []int64{rssA0, rssB0}, "rss_after": []int64{rssA, rssB}},
	}, Row{
		Path: pathHosts, What: fmt.Sprintf("%d start_client calls through the gateway at 50/s → each account running (its lease says so)", n),
		Metric: "p99 ms", Unit: "ms", Value: ms(p99),
		Measured: fmt.Sprintf("p50 %s ms, p99 %s ms; all %d running %s s after the first call (start_client's reply: p50 %s ms, p99 %s ms)",
			num(ms(p50)), num(ms(p99)), n, num(all.Seconds()), num(ms(Percentile(replied, 0.5))), num(ms(Percentile(replied, 0.99)))),
		Target: "p99 ≤ 500 ms", Met: boolp(p99 <= 500*time.Millisecond),
		Raw: map[string]any{"p50_ms": ms(p50), "p99_ms": ms(p99), "all_s": all.Seconds(),
			"reply_p50_ms": ms(Percentile(replied, 0.5)), "reply_p99_ms": ms(Percentile(replied, 0.99))},
	})

	// The single-account system, beside: its API and its pipeline are the baselines.
	h.logf("hosts: the single-account system")
	single, err := h.Cluster(ctx, true, map[string]string{"HOST_ID": "single", "LEASE_TTL": ttl.String()})
	if err != nil {
		return rows, err
	}
	defer single.Stop()
	manySink, err := NewSink(0)
	if err != nil {
		return rows, err
	}
	defer manySink.Close()
	singleSink, err := NewSink(0)
	if err != nil {
		return rows, err
	}
	defer singleSink.Close()
	if _, err := h.Reporter(ctx, many, prof.env("openqq-reporter", h.hostsReporterEnv(manySink.URL))); err != nil {
		return rows, err
	}
	if _, err := h.Reporter(ctx, single, h.hostsReporterEnv(singleSink.URL)); err != nil {
		return rows, err
	}

	rows = append(rows, h.hostsAPI(ctx, many, single, names, &prof)...)
	rows = append(rows, h.hostsEvents(ctx, many, single, manySink, singleSink, names, &prof)...)
	single.Stop()
	if err := many.Crashed(); err != nil {
		return rows, err
	}

	// Failover: host-a stops answering (SIGSTOP); its accounts run on host-b once its leases
	// expire.
	if len(onA) == 0 {
		return rows, errors.New("host-a runs no account")
	}
	stopped := time.Now()
	if err := syscall.Kill(a.Pid(), syscall.SIGSTOP); err != nil {
		return rows, err
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
		return rows, err
	}
	return append(rows, Row{
		Path: pathHosts, What: fmt.Sprintf("failover: host-a stops answering (SIGSTOP) → its %d accounts running on host-b (LEASE_TTL %s)", len(onA), ttl),
		Metric: "s", Unit: "s", Value: failover.Seconds(),
		Measured: fmt.Sprintf("all running on host-b after %s s (the first after %s s)", num(failover.Seconds()), num(first.Seconds())),
		Target:   "– (LEASE_TTL, then the logins of its accounts)",
		Raw:      map[string]any{"failover_s": failover.Seconds(), "first_s": first.Seconds(), "accounts": len(onA)},
	}), nil
}

// hostsAPI: get_user_info?client=NAME through the gateway at Rate, each call for the next
// account, against get_user_info of the single-account system, in interleaved rounds.
func (h *Harness) hostsAPI(ctx context.Context, many, single *System, names []string, prof *hostsProfiler) []Row {
	cfg := h.Cfg
	what := fmt.Sprintf("get_user_info?client=NAME through the gateway at %s req/s, spread over the %d accounts", num(cfg.Rate), len(names))
	hc := NewClient(cfg.Conns)
	sp := &spread{client: hc}
	for _, c := range names {
		sp.urls = append(sp.urls, many.API+events.APIPath(events.RouteGetUserInfo)+"?"+events.ParamClient+"="+c)
	}
	// Every account answers before the clock starts.
	for _, u := range sp.urls {
		if err := pollHTTP(ctx, u, 30*time.Second, nil, userInfoReady); err != nil {
			return []Row{errorRow(pathHosts, what, err)}
		}
	}
	h.logf("hosts: API, spread over %d accounts against the single account", len(names))
	iv := Interleaved{Client: hc, Rounds: cfg.Rounds, Warmup: cfg.Warmup, Dur: cfg.LatencyDur}
	// The profiles span both systems' turns: the single account's runs elsewhere.
	defer prof.start(ctx, "api", 2*(cfg.Warmup+cfg.LatencyDur))()
	lat := iv.OpenOf(ctx, []Target{sp, Get{Client: hc, URL: single.API + events.APIPath(events.RouteGetUserInfo)}}, cfg.Rate, userInfoReady)
	got, base := lat[0], lat[1]
	r := ratio(got.P99ms, base.P99ms)
	return []Row{{
		Path: pathHosts, What: what, Metric: "p99 ms", Unit: "ms", Value: got.P99ms,
		Baseline: f64(base.P99ms), Ratio: r,
		Measured:     latencyText(got),
		BaselineText: latencyText(base) + " (the single-account system: get_user_info of its default account)",
		Target:       "p99 ≤ 1.5× of the single account", Met: boolp(r != nil && *r <= 1.5 && got.Errors == 0),
		Raw: map[string]any{"openqq": got, "baseline": base},
	}}
}

// hostsEvents: Events group messages injected over qq.sim.<client>.inject, each into the next
// account, delivered by the reporter to a sink answering at once; against as many injected into
// the single-account system's default account.
func (h *Harness) hostsEvents(ctx context.Context, many, single *System, manySink, singleSink *Sink, names []string, prof *hostsProfiler) []Row {
	cfg := h.Cfg
	what := fmt.Sprintf("%s group messages injected over the %d accounts → openqq-reporter → sink answering at once (POST_CONCURRENCY %d, POST_ORDER=none)",
		group(strconv.Itoa(cfg.Events)), len(names), cfg.PostConcurrency)
	subjects := make([]string, len(names))
	for i, c := range names {
		subjects[i] = events.Subjects{Prefix: events.DefaultPrefix, Client: c}.SimInject()
	}
	run := func(s *System, sink *Sink, subject func(int) string) (Delivery, *Injected, error) {
		sink.Reset(cfg.Events)
		in, err := InjectSpread(ctx, s.NATS, cfg.Events, cfg.InjectWorkers, subject)
		if err != nil {
			return Delivery{}, nil, err
		}
		waitDelivered(ctx, sink, stallWait)
		return sink.Result(in.T0, in.IDs), in, s.Crashed()
	}
	h.logf("hosts: events, the single account")
	base, baseIn, err := run(single, singleSink, func(int) string { return proctest.InjectSubject })
	if err != nil {
		return []Row{errorRow(pathHosts, what, fmt.Errorf("single account: %w", err))}
	}
	h.logf("hosts: events, spread over %d accounts", len(names))
	// About the time the single account took: the profiles cover the start of the delivery.
	defer prof.start(ctx, "events", time.Duration(base.Seconds*float64(time.Second)))()
	got, in, err := run(many, manySink, func(seq int) string { return subjects[seq%len(subjects)] })
	if err != nil {
		return []Row{errorRow(pathHosts, what, err)}
	}
	r := ratio(got.PerSec, base.PerSec)
	ok := got.Lossless() && in.Errors == 0
	row := Row{
		Path: pathHosts, What: what, Metric: "events/s", Unit: "events/s",
		Value: got.PerSec, Baseline: f64(base.PerSec), Ratio: r,
		Measured:     deliveryText(got, true) + fmt.Sprintf("; injector %s/s", num(in.PerSec)),
		BaselineText: deliveryText(base, true) + fmt.Sprintf("; injector %s/s (the single-account system, its default account)", num(baseIn.PerSec)),
		Target:       "≥ 0.8 of the single account, zero loss", Met: boolp(*atLeast(r, 0.8) && ok),
		Raw: map[string]any{"openqq": got, "injector": in, "baseline": base, "baseline_injector": baseIn},
	}
	if in.Errors > 0 {
		row.Measured += fmt.Sprintf("; **%d injection errors**: %s", in.Errors, in.FirstError)
	}
	return []Row{row}
}

// hostsProfiler takes CPU profiles of the many-accounts system's processes through their
// health servers' pprof (HEALTH_PPROF), when the harness has a ProfileDir (BENCH_PROFILE=1).
type hostsProfiler struct {
	h     *Harness
	addrs map[string]string // process name → its HEALTH_ADDR
}

// natsConf is the nats-server's prof_port line, when profiles are wanted.
func (p *hostsProfiler) natsConf() string {
	if p.h.ProfileDir == "" {
		return ""
	}
	port, err := proctest.FreePort()
	if err != nil {
		return ""
	}
	p.addrs["nats-server"] = "127.0.0.1:" + strconv.Itoa(port)
	return fmt.Sprintf("prof_port: %d\n", port)
}

// env is a process's env, with a health server serving pprof when profiles are wanted.
func (p *hostsProfiler) env(name string, env map[string]string) map[string]string {
	if p.h.ProfileDir == "" {
		return env
	}
	port, err := proctest.FreePort()
	if err != nil {
		return env
	}
	env["HEALTH_ADDR"] = "127.0.0.1:" + strconv.Itoa(port)
	env["HEALTH_PPROF"] = "true"
	p.addrs[name] = env["HEALTH_ADDR"]
	return env
}

// start profiles every process for d (at least a second) in the background; the function it
// returns waits for the profiles and writes them, with their top functions, into ProfileDir as
// hosts-<load>-<process>.cpu.pprof and .pprof.txt.
func (p *hostsProfiler) start(ctx context.Context, load string, d time.Duration) func() {
	if p.h.ProfileDir == "" || len(p.addrs) == 0 {
		return func() {}
	}
	if err := os.MkdirAll(p.h.ProfileDir, 0o755); err != nil {
		p.h.logf("hosts: %v", err)
		return func() {}
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	var wg sync.WaitGroup
	for name, addr := range p.addrs {
		wg.Go(func() {
			c := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
			status, body, _, err := Fetch(ctx, c, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("HTTP %d: %.200s", status, body)
			}
			if err != nil {
				p.h.logf("hosts: profile of %s under %s: %v", name, load, err)
				return
			}
			path := filepath.Join(p.h.ProfileDir, fmt.Sprintf("hosts-%s-%s.cpu.pprof", load, name))
			if err := os.WriteFile(path, body, 0o644); err != nil {
				p.h.logf("hosts: %v", err)
				return
			}
			bin := binSession
			switch name {
			case "openqq-gateway":
				bin = binGateway
			case "openqq-reporter":
				bin = binReporter
			case "nats-server":
				bin = binNATS
			}
			top, err := pprofTop(ctx, filepath.Join(p.h.Bin, bin), path)
			if err != nil {
				p.h.logf("hosts: %v", err)
				return
			}
			_ = os.WriteFile(strings.TrimSuffix(path, ".cpu.pprof")+".pprof.txt", []byte(top), 0o644)
			p.h.logf("hosts: profile of %s under %s: %s", name, load, path)
		})
	}
	return wg.Wait
}
