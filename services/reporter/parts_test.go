package reporter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// bareStream is a real NATS server with the QQ_EVENTS stream and no session: the test stores
// the items itself.
func bareStream(t *testing.T) (*embednats.Server, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{"qq.events.>"}}); err != nil {
		t.Fatal(err)
	}
	return srv, nc, js
}

// apiStub answers API requests on the real NATS server in the session's place, with codes
// the test chooses, and counts them by route.
type apiStub struct {
	mu    sync.Mutex
	calls map[string]int
}

func newAPIStub(t *testing.T, nc *nats.Conn, code func(route string, n int) int) *apiStub {
	t.Helper()
	a := &apiStub{calls: map[string]int{}}
	sub, err := nc.Subscribe("qq.api.*", func(m *nats.Msg) {
		route := events.EventName(m.Subject) // the last token
		a.mu.Lock()
		a.calls[route]++
		n := a.calls[route]
		a.mu.Unlock()
		_ = m.Respond(events.MustMarshal(events.Status{Code: code(route, n), Status: "stub"}))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return a
}

func (a *apiStub) count(route string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[route]
}

// An answer {"reply":"x","shutup":1} whose shutup fails twice (the API unavailable), then
// succeeds: the item is retried until the shutup is applied, and the reply is sent once.
func TestAnswerPartsAppliedOnce(t *testing.T) {
	t.Parallel()
	srv, nc, js := bareStream(t)
	api := newAPIStub(t, nc, func(route string, n int) int {
		if route == events.RouteShutupGroupMember && n <= 2 {
			return events.CodeUnavailable
		}
		return events.CodeOK
	})
	rc := newReceiver(t, func(p post) answer {
		return answer{status: http.StatusOK, ctype: "application/json", body: `{"reply":"x","shutup":1}`}
	})
	runReporter(t, srv, fastConfig(rc.url()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	item := fmt.Sprintf(`{"post_type":"receive_message","type":"group_message","class":"recv","id":1,"content":"mute me",`+
		`"sender":"m","sender_id":%d,"sender_uid":1,"group":"g","group_id":%d,"group_uid":2}`, plainMemberID, adminGroupID)
	if _, err := js.Publish(ctx, "qq.events.group_message", []byte(item)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 15*time.Second, "the shutup applied on its third try", func() bool {
		return api.count(events.RouteShutupGroupMember) >= 3
	})
	waitUntil(t, 15*time.Second, "the item settled", func() bool {
		idle, _ := targetIdle(ctx, js, consumerName(rc.url()))
		return idle
	})
	if n := api.count(events.RouteSendGroupMessage); n != 1 {
		t.Errorf("reply sent %d times, want 1", n)
	}
	if n := api.count(events.RouteShutupGroupMember); n != 3 {
		t.Errorf("shutup asked %d times, want 3 (two failures, one success)", n)
	}
	if n := len(rc.all()); n != 3 {
		t.Errorf("item posted %d times, want 3 (once per try of its answer)", n)
	}
}

// A target that comes back after POST_MAX_LAG gets the recent items and none of the stale
// ones; the stale ones are parked with the dead letters, marked stale, and replay on request.
func TestMaxLagParksStaleItems(t *testing.T) {
	t.Parallel()
	srv, _, js := bareStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	publish := func(id int) {
		item := fmt.Sprintf(`{"post_type":"receive_message","type":"friend_message","id":%d,"sender_id":7,"content":"m%d"}`, id, id)
		if _, err := js.Publish(ctx, "qq.events.friend_message", []byte(item)); err != nil {
			t.Fatal(err)
		}
	}
	rc := newReceiver(t, nil)
	cfg := fastConfig(rc.url())
	cfg.PostMaxLag = 2 * time.Second
	// The target was used before: its consumer exists and holds its place.
	r, stop := runReporter(t, srv, cfg)
	publish(1)
	rc.waitFor(t, 15*time.Second, "the first item", func(ps []post) bool { return len(ps) == 1 })
	stop()
	// Away longer than POST_MAX_LAG: these become stale.
	publish(2)
	publish(3)
	deadline := time.Now().Add(cfg.PostMaxLag + 500*time.Millisecond)
	waitUntil(t, 10*time.Second, "POST_MAX_LAG to pass", func() bool { return time.Now().After(deadline) })
	runReporter(t, srv, cfg)
	publish(4)
	rc.waitFor(t, 15*time.Second, "the recent item", func(ps []post) bool { return hasID(ps, 4) })
	s := &system{srv: srv, js: js}
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	for _, id := range []int64{2, 3} {
		if hasID(rc.all(), id) {
			t.Errorf("stale item %d was posted", id)
		}
	}
	// Parked, marked stale.
	dl, err := js.Stream(ctx, r.subj.DeadLetterStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("%d dead letters, want the 2 stale items", info.State.Msgs)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := dl.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Header.Get(HeaderDLStale) != "1" || !strings.Contains(m.Header.Get(HeaderDLError), "POST_MAX_LAG") {
			t.Errorf("dead letter %d not marked stale: %v", seq, m.Header)
		}
	}
	if got := metricstest.Local(t).Value("openqq_deliveries_total", "target", consumerName(rc.url()), "outcome", outcomeStale); got < 2 {
		t.Errorf("stale items not counted in %s_deliveries_total{outcome=stale}", "openqq")
	}
	// Replayed on request.
	res, err := r.Replay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Delivered != 2 {
		t.Errorf("replay: %+v, want 2 delivered", res)
	}
	for _, id := range []int64{2, 3} {
		if !hasID(rc.all(), id) {
			t.Errorf("stale item %d not replayed", id)
		}
	}
}

func hasID(ps []post, id int64) bool {
	for _, p := range ps {
		if n, ok := p.num("id"); ok && n == id {
			return true
		}
	}
	return false
}
