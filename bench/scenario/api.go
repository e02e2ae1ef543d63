package scenario

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

const (
	pathSmall = "API, small reply"
	pathLarge = "API, large reply"
)

type route struct {
	name  string
	query string // path and query
	check func(Reply) Check
}

var smallRoutes = []route{
	{events.RouteGetUserInfo, events.APIPath(events.RouteGetUserInfo), func(r Reply) Check { return sameLength(len(r.Body)) }},
	{events.RouteSendFriendMessage, events.APIPath(events.RouteSendFriendMessage) + "?id=" + strconv.Itoa(defaultFriendID) + "&content=bench",
		func(Reply) Check { return codeOK }},
}

// capture GETs a route and keeps its reply for the bare baseline.
func capture(ctx context.Context, base, query string) (Reply, error) {
	status, body, hdr, err := Fetch(ctx, NewClient(1), base+query)
	if err != nil {
		return Reply{}, err
	}
	if status != 200 {
		return Reply{}, fmt.Errorf("%s: HTTP %d: %.300s", query, status, body)
	}
	return Reply{Header: hdr, Body: body}, nil
}

// A load is one call measured against its baselines, in the same run, on each system: closed
// loop at Conns connections (a row per system and baseline, with its throughput target), then,
// with latency, open loop at Rate (p99 target maxP99ms, none if 0). Every API row of the table
// is one.
type load struct {
	path, what string // the rows' path, and what they measure (the route, and how it is called)
	bases      []baseline
	systems    []measured
	check      Check
	latency    bool
	maxP99ms   float64
	// conns is the closed loop's connections; 0: Conns.
	conns int
	// perReq, with perReqUnit, adds a second figure to each throughput (MB/s of a 1 MB send:
	// perReq 1, "MB/s").
	perReq     float64
	perReqUnit string
}

// baseline is a load's call on a baseline server, and what that server is ("bare handler").
type baseline struct {
	t    Target
	name string
}

// measured is one system a load measures: its name, its call, and its throughput target as a
// ratio of each baseline (0 or missing: none).
type measured struct {
	name string
	t    Target
	want []float64
}

func (h *Harness) measure(ctx context.Context, iv Interleaved, l load) []Row {
	cfg := h.Cfg
	conns := cfg.Conns
	if l.conns > 0 {
		conns = l.conns
	}
	var targets []Target
	for _, b := range l.bases {
		targets = append(targets, b.t)
	}
	for _, m := range l.systems {
		targets = append(targets, m.t)
	}
	text := func(t Throughput) string {
		s := throughputText(t)
		if l.perReqUnit != "" {
			s += fmt.Sprintf(", %s %s", num(t.PerSec*l.perReq), l.perReqUnit)
		}
		return s
	}
	nb := len(l.bases)
	h.logf("%s: %s, closed loop at %d connections", l.path, l.what, conns)
	t := iv.ClosedOf(ctx, targets, conns, l.check)
	var rows []Row
	for i, m := range l.systems {
		x := t[nb+i]
		for j, b := range l.bases {
			base := t[j]
			rt := ratio(x.PerSec, base.PerSec)
			row := Row{
				Path: l.path, What: fmt.Sprintf("%s, %s, %d connections", l.what, m.name, conns),
				Metric: "req/s", Unit: "req/s", Value: x.PerSec, Baseline: f64(base.PerSec), Ratio: rt,
				Measured: text(x), BaselineText: text(base) + " (" + b.name + ")",
				Target: "–", Raw: map[string]any{"openqq": x, "baseline": base},
			}
			if j < len(m.want) && m.want[j] > 0 {
				met := atLeast(rt, m.want[j])
				*met = *met && x.Errors == 0 && base.Errors == 0
				row.Target, row.Met = fmt.Sprintf("≥ %.2g of baseline", m.want[j]), met
			}
			rows = append(rows, row)
		}
	}
	if !l.latency {
		return rows
	}
	h.logf("%s: %s, open loop at %.0f req/s", l.path, l.what, cfg.Rate)
	ivl := iv
	ivl.Dur = cfg.LatencyDur
	lat := ivl.OpenOf(ctx, targets, cfg.Rate, l.check)
	for i, m := range l.systems {
		x := lat[nb+i]
		for j, b := range l.bases {
			lbase := lat[j]
			row := Row{
				Path: l.path, What: fmt.Sprintf("%s, %s, at %s req/s", l.what, m.name, group(fmt.Sprintf("%.0f", cfg.Rate))),
				Metric: "p99 ms", Unit: "ms", Value: x.P99ms, Baseline: f64(lbase.P99ms), Ratio: ratio(x.P99ms, lbase.P99ms),
				Measured: latencyText(x), BaselineText: latencyText(lbase) + " (" + b.name + ")",
				Target: "–", Raw: map[string]any{"openqq": x, "baseline": lbase},
			}
			if l.maxP99ms > 0 {
				row.Target = fmt.Sprintf("p99 ≤ %g ms", l.maxP99ms)
				row.Met = boolp(x.P99ms <= l.maxP99ms && x.Errors == 0 && x.P99ms > 0)
			}
			rows = append(rows, row)
		}
	}
	return rows
}

func throughputText(t Throughput) string {
	s := fmt.Sprintf("%s req/s", num(t.PerSec))
	if t.Errors > 0 {
		s += fmt.Sprintf(" (**%d errors**: %s)", t.Errors, t.FirstError)
	}
	return s
}

func latencyText(l Latency) string {
	s := fmt.Sprintf("p50 %s ms, p99 %s ms", num(l.P50ms), num(l.P99ms))
	if l.LagMs >= 2 {
		// The generator itself did not get the CPU in time: the machine was busy.
		s += fmt.Sprintf(" (generator late by up to %s ms)", num(l.LagMs))
	}
	if l.Errors > 0 {
		s += fmt.Sprintf(" (**%d errors**: %s)", l.Errors, l.FirstError)
	}
	return s
}

// APISmall: get_user_info and send_friend_message (sim, sync) through the gateway of the
// all-in-one and of the multi-process system: req/s at Conns connections, and p50/p99 at a
// fixed Rate; against a bare handler serving the same bytes.
func (h *Harness) APISmall(ctx context.Context) []Row {
	rows, err := h.apiSmall(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathSmall, "get_user_info, send_friend_message", err))
	}
	return rows
}

func (h *Harness) apiSmall(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	h.logf("API small: starting the all-in-one and the multi-process system")
	aio, multi, err := h.bothSystems(ctx)
	if err != nil {
		return nil, err
	}
	defer aio.Stop()
	defer multi.Stop()
	replies := map[string]Reply{}
	for _, r := range smallRoutes {
		rep, err := capture(ctx, aio.API, r.query)
		if err != nil {
			return nil, err
		}
		replies[r.query] = rep
	}
	// The bare handler answers by path; the query does not matter to it.
	bareRoutes := map[string]Reply{}
	for _, r := range smallRoutes {
		bareRoutes[pathOf(r.query)] = replies[r.query]
	}
	bare, bareURL, err := h.Bare(ctx, bareRoutes)
	if err != nil {
		return nil, err
	}
	defer bare.Stop()

	client := NewClient(cfg.Conns)
	iv := Interleaved{Client: client, Rounds: cfg.Rounds, Warmup: cfg.Warmup, Dur: cfg.ThroughputDur}
	var rows []Row
	for _, r := range smallRoutes {
		h.logf("API small: %s", r.name)
		rows = append(rows, h.measure(ctx, iv, load{
			path: pathSmall, what: r.name, check: r.check(replies[r.query]),
			bases: []baseline{{Get{Client: client, URL: bareURL + r.query}, "bare handler"}},
			systems: []measured{
				{"all-in-one", Get{Client: client, URL: aio.API + r.query}, []float64{0.5}},
				{"multi-process", Get{Client: client, URL: multi.API + r.query}, []float64{0.35}},
			},
			latency: true, maxP99ms: 5,
		})...)
	}
	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	h.noteProblems(rows, aio, multi)
	return rows, nil
}

// noteProblems adds the error lines of the systems' logs to the first row's raw numbers.
func (h *Harness) noteProblems(rows []Row, systems ...*System) {
	if len(rows) == 0 {
		return
	}
	total := 0
	var sample []string
	for _, s := range systems {
		n, lines := s.Problems()
		total += n
		sample = append(sample, lines...)
	}
	if rows[0].Raw == nil {
		rows[0].Raw = map[string]any{}
	}
	rows[0].Raw["log_error_lines"] = total
	rows[0].Raw["log_error_sample"] = sample
}

func firstErrText(t Throughput) string {
	if t.FirstError == "" {
		return ""
	}
	return "; first: " + t.FirstError
}

func pathOf(query string) string {
	for i, c := range query {
		if c == '?' {
			return query[:i]
		}
	}
	return query
}

// APILarge: get_group_info with a roster of LargeGroups × LargeMembers, from the all-in-one and
// the multi-process system, against the bare handler with the same bytes; and the session's
// RSS with that roster.
func (h *Harness) APILarge(ctx context.Context) []Row {
	rows, err := h.apiLarge(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathLarge, "get_group_info", err))
	}
	return rows
}

func (h *Harness) apiLarge(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	rosterPath, err := writeRoster(h.Dir("roster"), LargeRoster(cfg.LargeGroups, cfg.LargeMembers))
	if err != nil {
		return nil, err
	}
	members := cfg.LargeGroups * cfg.LargeMembers
	env := map[string]string{"SIM_ROSTER": rosterPath}
	h.logf("API large: %d×%d roster", cfg.LargeGroups, cfg.LargeMembers)
	multi, err := h.Cluster(ctx, true, env)
	if err != nil {
		return nil, err
	}
	defer multi.Stop()
	time.Sleep(cfg.IdleSettle)
	sessIdle, err := RSS(multi.Main)
	if err != nil {
		return nil, err
	}
	aio, err := h.AllInOne(ctx, env)
	if err != nil {
		return nil, err
	}
	defer aio.Stop()
	time.Sleep(cfg.IdleSettle)
	aioIdle, err := RSS(aio.Main)
	if err != nil {
		return nil, err
	}

	q := events.APIPath(events.RouteGetGroupInfo)
	rep, err := capture(ctx, aio.API, q)
	if err != nil {
		return nil, err
	}
	if _, err := capture(ctx, multi.API, q); err != nil { // the session's reply cache, as in the all-in-one
		return nil, err
	}
	sessOne, _ := RSS(multi.Main)
	bare, bareURL, err := h.Bare(ctx, map[string]Reply{q: rep})
	if err != nil {
		return nil, err
	}
	defer bare.Stop()

	client := NewClient(cfg.LargeBurstConns)
	check := sameLength(len(rep.Body))
	h.logf("API large: get_group_info (%.1f MB), closed loop at %d connections", mb(int64(len(rep.Body))), cfg.LargeConns)
	peakAIO, peakSess := PeakRSS(aio.Main), PeakRSS(multi.Main)
	iv := Interleaved{Client: client, Rounds: cfg.Rounds, Warmup: cfg.Warmup, Dur: cfg.LargeDur}
	t := iv.Closed(ctx, []string{bareURL + q, aio.API + q, multi.API + q}, cfg.LargeConns, check)
	base, one, mp := t[0], t[1], t[2]
	aioPeak, sessPeak := peakAIO(), peakSess()
	client.CloseIdleConnections()
	time.Sleep(cfg.IdleSettle)
	sessAfter, _ := RSS(multi.Main)
	aioAfter, _ := RSS(aio.Main)

	// More callers at once: every call must still be answered.
	h.logf("API large: get_group_info, closed loop at %d connections", cfg.LargeBurstConns)
	baseBurst := ClosedLoop(ctx, client, bareURL+q, cfg.LargeBurstConns, 0, cfg.LargeDur, check)
	peakAIO = PeakRSS(aio.Main)
	oneBurst := ClosedLoop(ctx, client, aio.API+q, cfg.LargeBurstConns, 0, cfg.LargeDur, check)
	aioBurstPeak := peakAIO()
	peakSess = PeakRSS(multi.Main)
	mpBurst := ClosedLoop(ctx, client, multi.API+q, cfg.LargeBurstConns, 0, cfg.LargeDur, check)
	sessBurstPeak := peakSess()

	size := fmt.Sprintf("%d groups × %d members (%s members, %.1f MB reply)", cfg.LargeGroups, cfg.LargeMembers, group(strconv.Itoa(members)), mb(int64(len(rep.Body))))
	r1 := ratio(one.PerSec, base.PerSec)
	met1 := atLeast(r1, 0.8)
	*met1 = *met1 && one.Errors == 0
	burstText := func(t Throughput) string {
		return fmt.Sprintf("%d answered, %d failed (%s req/s)", t.Requests, t.Errors, num(t.PerSec))
	}
	rows := []Row{{
		Path: pathLarge, What: fmt.Sprintf("get_group_info, %s, all-in-one, %d connections", size, cfg.LargeConns),
		Metric: "req/s", Unit: "req/s", Value: one.PerSec, Baseline: f64(base.PerSec), Ratio: r1,
		Measured: throughputText(one), BaselineText: throughputText(base) + " (bare handler)",
		Target: "≥ 0.8 of baseline", Met: met1, Raw: map[string]any{"openqq": one, "baseline": base, "reply_bytes": len(rep.Body)},
	}, {
		Path: pathLarge, What: fmt.Sprintf("get_group_info, same roster, multi-process, %d connections", cfg.LargeConns),
		Metric: "req/s", Unit: "req/s", Value: mp.PerSec, Baseline: f64(base.PerSec), Ratio: ratio(mp.PerSec, base.PerSec),
		Measured: throughputText(mp), BaselineText: throughputText(base) + " (bare handler)",
		Target: "– (the target is for the all-in-one)", Raw: map[string]any{"openqq": mp, "baseline": base},
	}, {
		Path: pathLarge, What: fmt.Sprintf("get_group_info, same roster, all-in-one, %d connections: every call answered", cfg.LargeBurstConns),
		Metric: "failed calls", Unit: "calls", Value: float64(oneBurst.Errors), Baseline: f64(baseBurst.PerSec), Ratio: ratio(oneBurst.PerSec, baseBurst.PerSec),
		Measured: burstText(oneBurst) + firstErrText(oneBurst), BaselineText: burstText(baseBurst) + " (bare handler)",
		Target: "no failed call", Met: boolp(oneBurst.Errors == 0 && oneBurst.Requests > 0), Raw: map[string]any{"openqq": oneBurst, "baseline": baseBurst},
	}, {
		Path: pathLarge, What: fmt.Sprintf("get_group_info, same roster, multi-process, %d connections: every call answered", cfg.LargeBurstConns),
		Metric: "failed calls", Unit: "calls", Value: float64(mpBurst.Errors), Baseline: f64(baseBurst.PerSec), Ratio: ratio(mpBurst.PerSec, baseBurst.PerSec),
		Measured: burstText(mpBurst) + firstErrText(mpBurst), BaselineText: burstText(baseBurst) + " (bare handler)",
		Target: "no failed call", Met: boolp(mpBurst.Errors == 0 && mpBurst.Requests > 0), Raw: map[string]any{"openqq": mpBurst, "baseline": baseBurst},
	}, {
		Path: pathLarge, What: "session RSS with that roster (openqq-session, multi-process)",
		Metric: "RSS MB", Unit: "MB", Value: mb(sessOne),
		Measured: fmt.Sprintf("%s MB after start and one get_group_info (%s MB at start; peak %s MB at %d connections, %s MB after; peak %s MB at %d)",
			num(mb(sessOne)), num(mb(sessIdle)), num(mb(sessPeak)), cfg.LargeConns, num(mb(sessAfter)), num(mb(sessBurstPeak)), cfg.LargeBurstConns),
		Target: "≤ 150 MB", Met: boolp(mb(sessOne) <= 150),
		Raw: map[string]any{"idle_bytes": sessIdle, "after_first_call_bytes": sessOne, "peak_bytes": sessPeak, "after_load_bytes": sessAfter, "burst_peak_bytes": sessBurstPeak},
	}, {
		Path: pathLarge, What: "all-in-one RSS with that roster (NATS, session and gateway in one process)",
		Metric: "RSS MB", Unit: "MB", Value: mb(aioIdle),
		Measured: fmt.Sprintf("%s MB at start; peak %s MB at %d connections, %s MB after; peak %s MB at %d",
			num(mb(aioIdle)), num(mb(aioPeak)), cfg.LargeConns, num(mb(aioAfter)), num(mb(aioBurstPeak)), cfg.LargeBurstConns),
		Target: "–",
		Raw:    map[string]any{"idle_bytes": aioIdle, "peak_bytes": aioPeak, "after_load_bytes": aioAfter, "burst_peak_bytes": aioBurstPeak},
	}}
	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	h.noteProblems(rows, aio, multi)
	return rows, nil
}
