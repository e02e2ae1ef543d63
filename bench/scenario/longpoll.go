package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

const pathLongPoll = "long poll"

type pollResult struct {
	status int
	items  []json.RawMessage
	took   time.Duration
	err    error
}

// LongPoll: LongPollCallers check_event callers held by the all-in-one, then as many events;
// each event must reach exactly one caller, no caller may wait beyond its hold, and holding the
// callers must not cost much memory.
func (h *Harness) LongPoll(ctx context.Context) []Row {
	rows, err := h.longPoll(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathLongPoll, "check_event", err))
	}
	return rows
}

func (h *Harness) longPoll(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	n := cfg.LongPollCallers
	hold := cfg.LongPollHold
	sys, err := h.AllInOne(ctx, map[string]string{
		"CHECK_EVENT_HOLD":          hold.String(),
		"CHECK_EVENT_LIST_MAX_SIZE": strconv.Itoa(max(20, n)),
	})
	if err != nil {
		return nil, err
	}
	defer sys.Stop()
	time.Sleep(cfg.IdleSettle)
	before, err := RSS(sys.Main)
	if err != nil {
		return nil, err
	}
	peak := PeakRSS(sys.Main)

	h.logf("long poll: %d check_event callers, hold %s", n, hold)
	client := NewClient(n)
	var (
		wrote   atomic.Int64
		results = make([]pollResult, n)
		wg      sync.WaitGroup
	)
	url := sys.API + events.APIPath(events.RouteCheckEvent)
	call := func(i int) {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Add(1) }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, url, nil)
		if err != nil {
			results[i].err = err
			return
		}
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			results[i] = pollResult{err: err, took: time.Since(start)}
			return
		}
		defer resp.Body.Close()
		var items []json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&items)
		results[i] = pollResult{status: resp.StatusCode, items: items, took: time.Since(start), err: err}
	}
	for i := range n {
		wg.Go(func() { call(i) })
	}
	deadline := time.Now().Add(30 * time.Second)
	for wrote.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if wrote.Load() < int64(n) {
		return nil, fmt.Errorf("only %d of %d check_event calls sent within 30s", wrote.Load(), n)
	}
	time.Sleep(500 * time.Millisecond) // every call reached the session
	held, _ := RSS(sys.Main)

	h.logf("long poll: %d events", n)
	in, err := InjectAll(ctx, sys.NATS, n, min(cfg.InjectWorkers, 16))
	if err != nil {
		return nil, err
	}
	wg.Wait()
	peakBytes := peak()
	after, _ := RSS(sys.Main)

	// Each event, by its content: how many callers got it, and with which id.
	got := make([]int, n)
	ids := make([]int64, n)
	others, failed, beyond, empty := 0, 0, 0, 0
	var maxTook time.Duration
	var firstErr string
	count := func(items []json.RawMessage) {
		for _, raw := range items {
			it, err := events.DecodeItem(raw)
			m, ok := it.(*events.Message)
			if err != nil || !ok || !strings.HasPrefix(m.Content, benchPrefix) {
				others++
				continue
			}
			seq, err := strconv.Atoi(strings.TrimPrefix(m.Content, benchPrefix))
			if err != nil || seq < 0 || seq >= n {
				others++
				continue
			}
			got[seq]++
			ids[seq] = m.ID
		}
	}
	for _, r := range results {
		maxTook = max(maxTook, r.took)
		if r.err != nil || r.status != 200 {
			failed++
			if firstErr == "" {
				firstErr = fmt.Sprintf("HTTP %d: %v", r.status, r.err)
			}
			continue
		}
		if r.took > hold+time.Second {
			beyond++
		}
		if len(r.items) == 0 {
			empty++
		}
		count(r.items)
	}
	// What no caller got should still be in the buffer: one more call collects it.
	missingFirst := 0
	for _, c := range got {
		if c == 0 {
			missingFirst++
		}
	}
	swept := 0
	if missingFirst > 0 {
		var r pollResult
		wg.Go(func() { call(0); r = results[0] })
		wg.Wait()
		swept = len(r.items)
		count(r.items)
	}
	once, missing, twice, wrongID := 0, 0, 0, 0
	for i, c := range got {
		switch {
		case c == 0:
			missing++
		case c == 1:
			once++
		default:
			twice++
		}
		if c > 0 && in.IDs[i] != 0 && ids[i] != in.IDs[i] {
			wrongID++
		}
	}
	if err := sys.Crashed(); err != nil {
		return nil, err
	}
	problems, lines := sys.Problems()
	growth := peakBytes - before
	raw := map[string]any{
		"rss_before_bytes": before, "rss_held_bytes": held, "rss_peak_bytes": peakBytes, "rss_after_bytes": after,
		"callers": n, "hold_s": hold.Seconds(), "failed_calls": failed, "first_error": firstErr,
		"empty_replies": empty, "max_call_s": maxTook.Seconds(), "beyond_hold": beyond,
		"delivered_once": once, "missing": missing, "delivered_twice_or_more": twice, "wrong_id": wrongID,
		"missing_after_callers": missingFirst, "swept_from_buffer": swept, "other_items": others,
		"injector": in, "log_error_lines": problems, "log_error_sample": lines,
	}
	nTxt := group(strconv.Itoa(n))
	return []Row{{
		Path: pathLongPoll, What: nTxt + " concurrent check_event callers held: RSS growth of the all-in-one",
		Metric: "RSS growth MB", Unit: "MB", Value: mb(growth),
		Measured: fmt.Sprintf("+%s MB (%s MB before, %s MB held, %s MB peak)", num(mb(growth)), num(mb(before)), num(mb(held)), num(mb(peakBytes))),
		Target:   "≤ 50 MB", Met: boolp(mb(growth) <= 50), Raw: raw,
	}, {
		Path: pathLongPoll, What: nTxt + " events, then: each delivered to exactly one caller",
		Metric: "events not delivered once", Unit: "events", Value: float64(missing + twice + wrongID),
		Measured: fmt.Sprintf("%d of %d once (%d missing, %d more than once, %d wrong id; %d only on a later call; %d calls failed)",
			once, n, missing, twice, wrongID, missingFirst-missing, failed),
		Target: "every event once", Met: boolp(once == n && wrongID == 0 && failed == 0),
	}, {
		Path: pathLongPoll, What: "no caller beyond its hold",
		Metric: "callers beyond hold", Unit: "callers", Value: float64(beyond),
		Measured: fmt.Sprintf("%d beyond; longest call %s s (hold %s s); %d answered [] ", beyond, num(maxTook.Seconds()), num(hold.Seconds()), empty),
		Target:   "none", Met: boolp(beyond == 0 && failed == 0),
	}}, nil
}
