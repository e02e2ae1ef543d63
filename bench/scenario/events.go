package scenario

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

const (
	pathEvents   = "events"
	pathScaleOut = "scale-out"
)

// deliveryText is a delivery's cell: rate, loss, duplicates and latency.
func deliveryText(d Delivery, withLatency bool) string {
	s := fmt.Sprintf("%s events/s", num(d.PerSec))
	if d.Lossless() {
		s += ", no loss"
	} else {
		s += fmt.Sprintf(", **%d missing, %d wrong id**", d.Missing, d.WrongID)
	}
	if d.Duplicates > 0 {
		s += fmt.Sprintf(", %d duplicates", d.Duplicates)
	}
	if d.MaxGapMs >= 1000 {
		s += fmt.Sprintf(", **stalled for %s s**", num(d.MaxGapMs/1000))
	}
	if withLatency {
		s += fmt.Sprintf(" (e2e p50 %s ms, p99 %s ms)", num(d.P50ms), num(d.P99ms))
	}
	if d.Note != "" {
		s += " [" + d.Note + "]"
	}
	return s
}

// Events: group messages injected into the all-in-one (with POST_API), delivered by its
// reporter to a sink answering at once; against the minimal loop with the same payloads.
func (h *Harness) Events(ctx context.Context) []Row {
	cfg := h.Cfg
	what := fmt.Sprintf("%s injected group messages → all-in-one → sink answering at once (POST_CONCURRENCY %d, POST_ORDER=none)", group(strconv.Itoa(cfg.Events)), cfg.PostConcurrency)
	rows, err := h.events(ctx, what)
	if err != nil {
		return append(rows, errorRow(pathEvents, what, err))
	}
	return rows
}

func (h *Harness) events(ctx context.Context, what string) ([]Row, error) {
	cfg := h.Cfg
	sink, err := NewSink(0)
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	h.logf("events: all-in-one with POST_API")
	// All into one group: with the default POST_ORDER=conversation that is one POST at a time;
	// this row measures the unordered pipeline (the ordered row has 100 conversations).
	sys, err := h.AllInOne(ctx, map[string]string{
		"POST_API": sink.URL, "POST_CONCURRENCY": strconv.Itoa(cfg.PostConcurrency), "POST_ORDER": "none",
	})
	if err != nil {
		return nil, err
	}
	defer sys.Stop()
	// The reporter delivers the login event first: then it is up.
	select {
	case <-sink.AnyPost():
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("the reporter delivered nothing within 30s; log:\n%s", sys.Main.Tail(3000))
	}

	// Saturated: as many as the injector can push.
	sink.Reset(cfg.Events)
	h.logf("events: injecting %d messages", cfg.Events)
	in, err := InjectAll(ctx, sys.NATS, cfg.Events, cfg.InjectWorkers)
	if err != nil {
		return nil, err
	}
	waitDelivered(ctx, sink, stallWait)
	got := sink.Result(in.T0, in.IDs)
	bodies := sink.Bodies()
	if err := sys.Crashed(); err != nil {
		return nil, err
	}

	// Paced, for the end-to-end latency at a rate both keep up with.
	nPaced := int(cfg.Rate / 2 * cfg.LatencyDur.Seconds())
	rate := cfg.Rate / 2
	sink.Reset(nPaced)
	h.logf("events: %d messages at %.0f/s", nPaced, rate)
	inPaced, err := InjectPaced(ctx, sys.NATS, nPaced, rate)
	if err != nil {
		return nil, err
	}
	waitDelivered(ctx, sink, stallWait)
	gotPaced := sink.Result(inPaced.T0, inPaced.IDs)
	problems, lines := sys.Problems()
	sys.Stop()

	h.logf("events: baseline (minimal JetStream loop)")
	ids := make([]int64, cfg.Events)
	pay := make([][]byte, cfg.Events)
	for i := range cfg.Events {
		ids[i] = int64(i + 1)
		if in.IDs[i] != 0 {
			ids[i] = in.IDs[i]
		}
		pay[i] = bodyFor(bodies, i)
		if pay[i] == nil {
			return nil, fmt.Errorf("no message reached the sink: nothing to publish in the baseline")
		}
	}
	// One run, fed as openqq is: the same injector over TCP, each injection answered once its
	// message is stored (BaselineInjected).
	// A stall shows in the baseline's cell (deliveryText), as in openqq's.
	var stalls []Delivery
	runs := 1
	base, baseIn, err := h.BaselineInjected(ctx, pay, ids, cfg.PostConcurrency, cfg.InjectWorkers)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	basePaced, err := h.BaselinePaced(ctx, pay[:nPaced], ids[:nPaced], cfg.PostConcurrency, rate)
	if err != nil {
		return nil, fmt.Errorf("baseline (paced): %w", err)
	}

	r := ratio(got.PerSec, base.PerSec)
	met := atLeast(r, 0.5)
	raw := map[string]any{"openqq": got, "injector": in, "baseline": base, "baseline_injector": baseIn, "baseline_stalled_runs": stalls,
		"log_error_lines": problems, "log_error_sample": lines}
	rows := []Row{{
		Path: pathEvents, What: what, Metric: "events/s", Unit: "events/s",
		Value: got.PerSec, Baseline: f64(base.PerSec), Ratio: r,
		Measured:     deliveryText(got, true) + fmt.Sprintf("; injector %s/s", num(in.PerSec)),
		BaselineText: deliveryText(base, true) + fmt.Sprintf("; injector %s/s", num(baseIn.PerSec)) + stalledNote(runs, len(stalls)),
		Target:       "≥ 0.5 of baseline", Met: met, Raw: raw,
	}, {
		Path: pathEvents, What: "zero loss: every injected id counted at the sink", Metric: "missing", Unit: "events",
		Value:    float64(got.Missing + got.WrongID),
		Measured: fmt.Sprintf("%d of %d received (%d missing, %d wrong id, %d duplicates; %d injection errors)", got.Received, got.Sent, got.Missing, got.WrongID, got.Duplicates, in.Errors),
		Target:   "zero loss", Met: boolp(got.Lossless() && in.Errors == 0),
	}, {
		Path: pathEvents, What: fmt.Sprintf("end-to-end latency at %s events/s (%d messages)", num(rate), nPaced),
		Metric: "e2e p99 ms", Unit: "ms", Value: gotPaced.P99ms, Baseline: f64(basePaced.P99ms), Ratio: ratio(gotPaced.P99ms, basePaced.P99ms),
		Measured:     fmt.Sprintf("p50 %s ms, p99 %s ms, max %s ms%s", num(gotPaced.P50ms), num(gotPaced.P99ms), num(gotPaced.MaxMs), lossNote(gotPaced)),
		BaselineText: fmt.Sprintf("p50 %s ms, p99 %s ms%s", num(basePaced.P50ms), num(basePaced.P99ms), lossNote(basePaced)),
		Target:       "–", Raw: map[string]any{"openqq": gotPaced, "baseline": basePaced, "injector": inPaced},
	}}
	if !got.Lossless() || in.Errors > 0 {
		rows[0].Measured += fmt.Sprintf("; injector: %s", in.FirstError)
	}
	return rows, nil
}

// stallWait is how long a delivery may make no progress before what has not arrived counts as
// lost: longer than a pull consumer takes to notice a missed heartbeat (2 × 15 s) and resume.
const stallWait = 45 * time.Second

func stalledNote(runs, stalled int) string {
	if stalled == 0 {
		return ""
	}
	return fmt.Sprintf(" (best of %d runs, %d of which stalled)", runs, stalled)
}

func lossNote(d Delivery) string {
	if d.Lossless() {
		return ""
	}
	return fmt.Sprintf(" (**%d missing**)", d.Missing)
}

// ScaleOut: nats-server, openqq-session and 1, 2, 4 openqq-reporter processes with the default
// POST_ORDER=conversation (and POST_PARTITIONS), delivering to a sink that answers after
// ScaleDelay. The messages, over 100 conversations as in the ordered row, are stored first and
// the reporters started together afterwards, so that the storing rate does not cap delivery;
// the rate is taken between the 10th and the 90th percentile of arrivals, and each
// conversation's order is checked at the sink. The baseline is one reporter.
// scaleOutPartitions splits each URL for the scale-out row: as many partitions as its most
// replicas, as a deployment that runs replicas sets POST_PARTITIONS.
const scaleOutPartitions = 4

func (h *Harness) ScaleOut(ctx context.Context) []Row {
	cfg := h.Cfg
	var rows []Row
	var one *Delivery
	for _, n := range cfg.ScaleReporters {
		what := fmt.Sprintf("%s messages over %d conversations stored, then %d openqq-reporter process(es) × POST_CONCURRENCY %d (ordered, POST_PARTITIONS %d), sink answering after %s",
			group(strconv.Itoa(cfg.ScaleEvents)), orderedConversations, n, cfg.PostConcurrency, scaleOutPartitions, cfg.ScaleDelay)
		d, bad, raw, err := h.scaleOut(ctx, n)
		if err != nil {
			rows = append(rows, errorRow(pathScaleOut, what, err))
			continue
		}
		ideal := float64(n*cfg.PostConcurrency) / cfg.ScaleDelay.Seconds()
		measured := fmt.Sprintf("%s events/s (%.0f%% of the ideal %s/s)", num(d.SteadyPerSec), 100*d.SteadyPerSec/ideal, num(ideal))
		if d.Lossless() {
			measured += ", no loss"
		} else {
			measured += fmt.Sprintf(", **%d missing, %d wrong id**", d.Missing, d.WrongID)
		}
		if bad == 0 {
			measured += ", in order"
		} else {
			measured += fmt.Sprintf(", **%d out of order**", bad)
		}
		if d.Duplicates > 0 {
			measured += fmt.Sprintf(", %d duplicates", d.Duplicates)
		}
		if d.MaxGapMs >= 1000 {
			measured += fmt.Sprintf(", **stalled for %s s**", num(d.MaxGapMs/1000))
		}
		row := Row{
			Path: pathScaleOut, What: what, Metric: "events/s", Unit: "events/s", Value: d.SteadyPerSec,
			Measured: measured, Target: "–", Raw: raw,
		}
		if one == nil && n == 1 {
			one = &d
		}
		if one != nil {
			row.Baseline = f64(one.SteadyPerSec)
			row.BaselineText = fmt.Sprintf("1 reporter: %s events/s", num(one.SteadyPerSec))
			row.Ratio = ratio(d.SteadyPerSec, one.SteadyPerSec)
		}
		ok := d.Lossless() && bad == 0
		switch {
		case n == 1:
			row.Target = "zero loss, in order (the baseline)"
			row.Met = boolp(ok)
		case n == 4:
			row.Target = "≥ 3.2× of 1 reporter, zero loss, in order"
			row.Met = boolp(*atLeast(row.Ratio, 3.2) && ok)
		default:
			row.Target = "zero loss, in order"
			row.Met = boolp(ok)
		}
		rows = append(rows, row)
	}
	return rows
}

func (h *Harness) scaleOut(ctx context.Context, reporters int) (Delivery, int, map[string]any, error) {
	cfg := h.Cfg
	n := cfg.ScaleEvents
	subjects, bodies, keys, ids := make([]string, n), make([][]byte, n), make([]string, n), make([]int64, n)
	for i := range n {
		subjects[i], bodies[i], keys[i] = orderedItem(i)
		ids[i] = int64(i + 1)
	}
	sink, err := NewSink(cfg.ScaleDelay)
	if err != nil {
		return Delivery{}, 0, nil, err
	}
	defer sink.Close()
	h.logf("scale-out: %d reporter(s)", reporters)
	sys, err := h.Cluster(ctx, false, nil)
	if err != nil {
		return Delivery{}, 0, nil, err
	}
	defer sys.Stop()
	sink.Reset(n)
	if err := storeAll(ctx, sys.NATS, subjects, bodies); err != nil {
		return Delivery{}, 0, nil, err
	}
	t0 := time.Now().UnixNano()
	errs := make(chan error, reporters)
	for range reporters {
		go func() {
			// The default POST_ORDER=conversation, split as a deployment of replicas is
			// (docker-compose.yml): the replicas share the partitions.
			_, err := h.Reporter(ctx, sys, map[string]string{
				"POST_API": sink.URL, "POST_CONCURRENCY": strconv.Itoa(cfg.PostConcurrency),
				"POST_PARTITIONS": strconv.Itoa(scaleOutPartitions),
				"POST_MAX_LAG":    "0s", "POST_BACKFILL": "1h",
			})
			errs <- err
		}()
	}
	for range reporters {
		if err := <-errs; err != nil {
			return Delivery{}, 0, nil, err
		}
	}
	waitDelivered(ctx, sink, stallWait)
	starts := make([]int64, n)
	for i := range starts {
		starts[i] = t0
	}
	d := sink.Result(starts, ids)
	bad := outOfOrder(sink, keys)
	if err := sys.Crashed(); err != nil {
		return d, bad, nil, err
	}
	problems, lines := sys.Problems()
	return d, bad, map[string]any{"delivery": d, "out_of_order": bad, "reporters": reporters, "log_error_lines": problems, "log_error_sample": lines}, nil
}
