// Package metricstest reads Prometheus metrics in tests: a /metrics page, or the process's
// default registry, parsed with the Prometheus text parser. Metrics are process-global and
// tests of a package share a process, so tests compare two snapshots rather than read
// absolute values.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Snapshot is one parsed scrape, by metric name.
type Snapshot map[string]*dto.MetricFamily

// Scrape GETs url and parses it as the Prometheus text format.
func Scrape(t testing.TB, url string) Snapshot {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Ask for the text format: without it promhttp may choose another.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d: %s", url, resp.StatusCode, body)
	}
	return Parse(t, string(body))
}

// Local scrapes the process's default registry, as /metrics serves it.
func Local(t testing.TB) Snapshot {
	t.Helper()
	srv := httptest.NewServer(promhttp.Handler())
	defer srv.Close()
	return Scrape(t, srv.URL)
}

// Parse parses a page of the Prometheus text format.
func Parse(t testing.TB, text string) Snapshot {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, text)
	}
	return Snapshot(fams)
}

// Value sums the series of name whose labels include the given pairs (label, value, label,
// value, ...): a counter's or gauge's value, a histogram's or summary's count. It is 0 when
// there is no such series.
func (s Snapshot) Value(name string, labels ...string) float64 {
	f, ok := s[name]
	if !ok {
		return 0
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			sum += float64(m.GetSummary().GetSampleCount())
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// Has reports whether name has a series with the given label pairs.
func (s Snapshot) Has(name string, labels ...string) bool {
	f, ok := s[name]
	if !ok {
		return false
	}
	for _, m := range f.GetMetric() {
		if matches(m, labels) {
			return true
		}
	}
	return false
}

// LabelValues lists the values label takes in the series of name.
func (s Snapshot) LabelValues(name, label string) []string {
	seen := map[string]bool{}
	if f, ok := s[name]; ok {
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					seen[lp.GetValue()] = true
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Type is the type of name ("" when it is missing).
func (s Snapshot) Type(name string) string {
	f, ok := s[name]
	if !ok {
		return ""
	}
	return strings.ToLower(f.GetType().String())
}

func matches(m *dto.Metric, labels []string) bool {
	if len(labels)%2 != 0 {
		panic(fmt.Sprintf("metricstest: odd label pairs %q", labels))
	}
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Delta is after's value minus before's.
func Delta(before, after Snapshot, name string, labels ...string) float64 {
	return after.Value(name, labels...) - before.Value(name, labels...)
}
