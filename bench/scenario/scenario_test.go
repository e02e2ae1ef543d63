package scenario

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

// TestMain lets this test binary serve as the bare baseline server when the harness starts it
// as one.
func TestMain(m *testing.M) {
	if ServeBareIfChild() {
		return
	}
	os.Exit(m.Run())
}

// TestScenarios runs every scenario once with tiny sizes. It checks that each completes with
// numbers and without loss, never how fast: timings on a shared test machine mean nothing.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds openqq and starts its processes (skipped with -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	repo, err := proctest.FindRepo(".")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHarness(ctx, Tiny(), repo, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)

	var all []Row
	for _, s := range h.Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			rows := s.Run(ctx)
			h.StopAll()
			all = append(all, rows...)
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			for _, r := range rows {
				t.Logf("%s | %s | %s | %s", r.Path, r.What, r.Measured, r.BaselineText)
				if r.Error != "" {
					t.Errorf("%s: %s", r.What, r.Error)
					continue
				}
				if r.Measured == "" || r.Metric == "" {
					t.Errorf("%s: no measurement", r.What)
				}
				if r.Baseline != nil && *r.Baseline <= 0 && r.Unit != "ms" {
					t.Errorf("%s: baseline %v", r.What, *r.Baseline)
				}
				if r.Unit == "req/s" || r.Unit == "events/s" {
					if r.Value <= 0 {
						t.Errorf("%s: %v %s", r.What, r.Value, r.Unit)
					}
				}
			}
			checkNoLoss(t, rows)
			if s.Name == "hosts" {
				checkHosts(t, rows)
			}
		})
	}
	checkReport(t, all)
}

// checkReport renders the rows the run produced and checks that the report shows each one:
// its path, what it measures, its figure and its baseline's.
func checkReport(t *testing.T, rows []Row) {
	t.Helper()
	if len(rows) == 0 {
		t.Fatal("the run produced no rows to report")
	}
	md := (&Results{Mode: "test", Rows: rows}).Markdown()
	for _, r := range rows {
		if r.Ratio != nil && !strings.Contains(md, fmt.Sprintf("| %.2f |", *r.Ratio)) {
			t.Errorf("the report lacks the ratio %.2f of row %q:\n%s", *r.Ratio, r.What, md)
		}
		for _, want := range []string{r.Path, r.What, r.Measured, r.BaselineText} {
			if r.Error != "" && want == r.Measured {
				want = "error: " + firstLine(r.Error)
			}
			if want != "" && !strings.Contains(md, cell(want)) {
				t.Errorf("the report lacks %q of row %q:\n%s", want, r.What, md)
			}
		}
	}
}

// checkNoLoss fails on any row that saw an event lost or delivered twice, and on any error in
// the API loads.
func checkNoLoss(t *testing.T, rows []Row) {
	t.Helper()
	for _, r := range rows {
		for _, key := range []string{"openqq", "baseline", "delivery"} {
			switch v := r.Raw[key].(type) {
			case Delivery:
				if !v.Lossless() {
					t.Errorf("%s: %s: %d missing, %d wrong id", r.What, key, v.Missing, v.WrongID)
				}
			case Throughput:
				if v.Errors > 0 || v.Requests == 0 {
					t.Errorf("%s: %s: %d requests, %d errors (%s)", r.What, key, v.Requests, v.Errors, v.FirstError)
				}
			case Latency:
				if v.Errors > 0 || v.P99ms <= 0 {
					t.Errorf("%s: %s: p99 %v ms, %d errors (%s)", r.What, key, v.P99ms, v.Errors, v.FirstError)
				}
			}
		}
		switch r.Path {
		case pathLongPoll, pathEvents:
			if (r.Metric == "missing" || r.Metric == "events not delivered once") && r.Value != 0 {
				t.Errorf("%s: %s", r.What, r.Measured)
			}
		}
	}
}

// checkHosts checks that the many-accounts scenario gives each of its rows, with figures that
// make sense (never how fast): RSS per account, start latency, the API spread over the accounts
// and the events from many accounts against their single-account baselines, failover.
func checkHosts(t *testing.T, rows []Row) {
	t.Helper()
	found := map[string]Row{}
	for _, r := range rows {
		if r.Path != pathHosts || r.Error != "" {
			continue
		}
		switch {
		case r.Unit == "MB":
			found["rss"] = r
		case strings.Contains(r.What, "start_client"):
			found["start"] = r
		case strings.Contains(r.What, "get_user_info"):
			found["api"] = r
		case r.Unit == "events/s":
			found["events"] = r
		case strings.HasPrefix(r.What, "failover"):
			found["failover"] = r
		}
	}
	for _, k := range []string{"rss", "start", "api", "events", "failover"} {
		r, ok := found[k]
		if !ok {
			t.Errorf("many accounts: no %s row", k)
			continue
		}
		if r.Value <= 0 {
			t.Errorf("many accounts: %s row %q: value %v", k, r.What, r.Value)
		}
		if k == "api" || k == "events" {
			if r.Baseline == nil || *r.Baseline <= 0 || r.Ratio == nil || *r.Ratio <= 0 {
				t.Errorf("many accounts: %s row %q: no baseline or ratio (%v, %v)", k, r.What, r.Baseline, r.Ratio)
			}
		}
		if k == "start" {
			p50, p99 := r.Raw["p50_ms"].(float64), r.Raw["p99_ms"].(float64)
			if p50 <= 0 || p99 < p50 {
				t.Errorf("many accounts: start p50 %v ms, p99 %v ms", p50, p99)
			}
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		if got := Percentile(s, c.q); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}
