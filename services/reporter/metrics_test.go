package reporter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// logLines decodes the JSON log lines written to b.
func logLines(t *testing.T, b *proctest.SyncBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

// Each delivery attempt is counted once with its outcome, timed, and logged as one line with
// the item's id, seq, target, outcome and duration; applied answers and the consumer's backlog
// are counted too. Not parallel: answers_applied_total has no target label.
func TestMetricsDeliveries(t *testing.T) {
	s := startSystem(t)
	rc := newReceiver(t, nil)
	var (
		mu    sync.Mutex
		tries = map[string]int{}
	)
	rc.setRespond(func(p post) answer {
		content := p.str("content")
		mu.Lock()
		tries[content]++
		n := tries[content]
		mu.Unlock()
		switch {
		case content == "metrics: always fails":
			return answer{status: http.StatusInternalServerError}
		case content == "metrics: fails once" && n == 1:
			return answer{status: http.StatusServiceUnavailable}
		case content == "metrics: fails once" && p.str("post_type") == events.PostReceiveMessage:
			return answer{status: http.StatusOK, ctype: "application/json", body: `{"reply":"metrics: pong"}`}
		}
		return answer{status: http.StatusOK}
	})
	cfg := fastConfig(rc.url())
	cfg.PostMaxDeliver = 3
	target := consumerName(rc.url())
	var logs proctest.SyncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	before := metricstest.Local(t)
	answered := before.Value("openqq_answers_applied_total", "route", events.RouteSendGroupMessage)
	runReporterOn(t, natstest.Connect(t, s.srv), cfg, log)
	s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "metrics: fails once"})
	s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "metrics: always fails"})

	rc.waitFor(t, 15*time.Second, "the reply's report", func(ps []post) bool {
		for _, p := range ps {
			if p.str("content") == "metrics: pong" {
				return true
			}
		}
		return false
	})
	waitUntil(t, 15*time.Second, "a dead letter", func() bool {
		return metricstest.Local(t).Value("openqq_deliveries_total", "target", target, "outcome", outcomeDeadLettered) == 1
	})
	s.waitConsumerIdle(t, target, 15*time.Second)
	// The last attempt's count follows its ack (handle's deferred count): settle.
	var after metricstest.Snapshot
	all, accepted := rc.all(), rc.accepted()
	waitUntil(t, 5*time.Second, "every attempt counted", func() bool {
		after = metricstest.Local(t)
		return after.Value("openqq_deliveries_total", "target", target) == float64(len(all))
	})

	for outcome, want := range map[string]int{
		outcomeDelivered:    len(accepted),
		outcomeRetried:      len(all) - len(accepted) - 1,
		outcomeDeadLettered: 1,
	} {
		if got := after.Value("openqq_deliveries_total", "target", target, "outcome", outcome); got != float64(want) {
			t.Errorf("openqq_deliveries_total{outcome=%q} = %v, want %d (%d POSTs, %d accepted)", outcome, got, want, len(all), len(accepted))
		}
	}
	if got := after.Value("openqq_delivery_duration_seconds", "target", target); got != float64(len(all)) {
		t.Errorf("openqq_delivery_duration_seconds count = %v, want %d", got, len(all))
	}
	if got := after.Value("openqq_answers_applied_total", "route", events.RouteSendGroupMessage) - answered; got != 1 {
		t.Errorf("openqq_answers_applied_total{route=send_group_message} rose by %v, want 1", got)
	}
	for _, tg := range after.LabelValues("openqq_deliveries_total", "target") {
		if bytes.Contains([]byte(tg), []byte("127.0.0.1")) {
			t.Errorf("target label %q names the URL", tg)
		}
	}

	// One line per attempt, whatever its outcome.
	var lines []map[string]any
	for _, l := range logLines(t, &logs) {
		if _, ok := l["outcome"]; ok && l["target"] != nil {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(all) {
		t.Errorf("%d delivery log lines for %d attempts", len(lines), len(all))
	}
	delivered := 0
	for _, l := range lines {
		for _, key := range []string{"id", "seq", "target", "outcome", "took"} {
			if v, ok := l[key]; !ok || v == "" {
				t.Errorf("delivery log line without %s: %v", key, l)
			}
		}
		switch l["outcome"] {
		case outcomeDelivered:
			delivered++
			if l["level"] != "INFO" || l["msg"] != "delivered" {
				t.Errorf("delivered logged as %v %q", l["level"], l["msg"])
			}
		case outcomeRetried:
			if l["level"] != "INFO" && l["level"] != "WARN" {
				t.Errorf("retry logged at %v", l["level"])
			}
		case outcomeDeadLettered:
			if l["level"] != "WARN" {
				t.Errorf("dead letter logged at %v", l["level"])
			}
		default:
			t.Errorf("outcome %v", l["outcome"])
		}
	}
	if delivered != len(accepted) {
		t.Errorf("%d delivered lines, %d accepted POSTs", delivered, len(accepted))
	}

	// The backlog: refreshed every few seconds, 0 once everything is settled.
	waitUntil(t, 3*pendingEvery, "openqq_consumer_pending 0", func() bool {
		snap := metricstest.Local(t)
		return snap.Has("openqq_consumer_pending", "target", target) && snap.Value("openqq_consumer_pending", "target", target) == 0
	})
}
