package reporter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

func TestOrderKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		item string
		want string
	}{
		{`{"post_type":"receive_message","type":"friend_message","sender_id":7,"receiver_id":1}`, "friend.7"},
		{`{"post_type":"send_message","type":"friend_message","sender_id":1,"receiver_id":7}`, "friend.7"},
		{`{"post_type":"receive_message","type":"group_message","sender_id":7,"group_id":9}`, "group.9"},
		{`{"post_type":"send_message","type":"group_message","sender_id":1,"group_id":9}`, "group.9"},
		{`{"post_type":"receive_message","type":"discuss_message","sender_id":7,"discuss_id":5}`, "discuss.5"},
		{`{"post_type":"receive_message","type":"sess_message","sender_id":7,"group_id":9}`, "sess.7.group.9"},
		{`{"post_type":"send_message","type":"sess_message","receiver_id":7,"discuss_id":5}`, "sess.7.discuss.5"},
		{`{"post_type":"event","event":"state_change","params":["running","stop"]}`, accountKey},
		{`{"post_type":"event","event":"stop","params":[]}`, accountKey},
		{`{"post_type":"event","event":"new_group_member","params":[{},{}]}`, accountKey},
		{`not json`, accountKey},
	} {
		if got := orderKey([]byte(tc.item)); got != tc.want {
			t.Errorf("orderKey(%s) = %q, want %q", tc.item, got, tc.want)
		}
	}
}

// arrival is one POST as the receiver saw it start.
type arrival struct {
	key      string
	id       int64 // the message's id; for an event, its position among the account's items
	status   int
	reporter string // the replica that posted (X-Openqq-Reporter)
}

// orderReceiver is proctest's post_api receiver, recording what it gets in the order the
// requests arrive (Respond runs as each arrives, before the answer's delay), and answering
// after a delay and with a status chosen per request.
type orderReceiver struct {
	r *proctest.Receiver

	mu       sync.Mutex
	arrivals []arrival
	tries    map[string]int // body → requests
	respond  func(body []byte, try int) (status int, delay time.Duration)
}

func newOrderReceiver(t testing.TB, respond func(body []byte, try int) (int, time.Duration)) *orderReceiver {
	t.Helper()
	rc := &orderReceiver{tries: map[string]int{}, respond: respond}
	// The arrivals are the record: the receiver keeps no copy of ten thousand requests.
	rc.r = proctest.StartReceiver(t, proctest.ReceiverOptions{Discard: true, Respond: rc.answer})
	return rc
}

func (rc *orderReceiver) url() string { return rc.r.URL }

func (rc *orderReceiver) answer(r *proctest.Request) proctest.Answer {
	var m struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &m)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tries[string(r.Body)]++
	try := rc.tries[string(r.Body)]
	status, delay := http.StatusOK, time.Duration(0)
	if rc.respond != nil {
		status, delay = rc.respond(r.Body, try)
	}
	rc.arrivals = append(rc.arrivals, arrival{key: orderKey(r.Body), id: m.ID, status: status, reporter: r.Header.Get(events.HTTPHeaderReporter)})
	return proctest.Answer{Status: status, Delay: delay}
}

func (rc *orderReceiver) all() []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]arrival(nil), rc.arrivals...)
}

// orderReport compares what a receiver got with the stored order of each key: every id of
// want (by key, in stored order) must be accepted at least once; a request for an item must
// never come after a request for a later item of its key, except as an immediate repeat of
// the same item (a re-POST after a crash).
type orderReport struct {
	lost, outOfOrder, duplicates int
	firstProblem                 string
}

func checkOrder(want map[string][]int64, got []arrival) orderReport {
	var rep orderReport
	pos := map[string]map[int64]int{} // key → id → index in stored order
	for k, ids := range want {
		pos[k] = map[int64]int{}
		for i, id := range ids {
			pos[k][id] = i
		}
	}
	last := map[string]int{} // key → index of the last item requested
	accepted := map[string]map[int64]int{}
	for _, a := range got {
		p, ok := pos[a.key][a.id]
		if !ok {
			continue
		}
		if l, seen := last[a.key]; seen && p < l {
			rep.outOfOrder++
			if rep.firstProblem == "" {
				rep.firstProblem = fmt.Sprintf("key %s: item #%d (id %d) requested after item #%d", a.key, p, a.id, l)
			}
		}
		last[a.key] = max(last[a.key], p)
		if a.status/100 == 2 {
			if accepted[a.key] == nil {
				accepted[a.key] = map[int64]int{}
			}
			accepted[a.key][a.id]++
			if accepted[a.key][a.id] > 1 {
				rep.duplicates++
			}
		}
	}
	for k, ids := range want {
		for _, id := range ids {
			if accepted[k][id] == 0 {
				rep.lost++
				if rep.firstProblem == "" {
					rep.firstProblem = fmt.Sprintf("key %s: id %d never accepted", k, id)
				}
			}
		}
	}
	return rep
}

// storedOrder reads the message ids stored on the stream by key, in stored order.
func (s *system) storedOrder(t testing.TB, filter string) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, m := range s.streamItems(t, filter) {
		var h struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(m.Data, &h) == nil && h.ID != 0 {
			k := orderKey(m.Data)
			out[k] = append(out[k], h.ID)
		}
	}
	return out
}

func count(want map[string][]int64) int {
	n := 0
	for _, ids := range want {
		n += len(ids)
	}
	return n
}

// The relay bot's burst: messages injected one after another into one group, through the
// session, with POST_CONCURRENCY=16 and a receiver whose answers take a varying time, reach
// the receiver in the order they were stored, each once: first 20, then 1,000.
func TestOrderBurstIntoOneGroup(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	rc := newOrderReceiver(t, func([]byte, int) (int, time.Duration) {
		return http.StatusOK, time.Duration(rand.IntN(2000)) * time.Microsecond
	})
	cfg := fastConfig(rc.url())
	cfg.PostConcurrency = 16
	runReporter(t, s.srv, cfg)
	for _, n := range []int{20, 1000} {
		for i := range n {
			s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID,
				Content: fmt.Sprintf("burst %d #%d", n, i+1)})
		}
		want := s.storedOrder(t, "qq.events.group_message")
		if got := count(want); got < n {
			t.Fatalf("%d messages stored, want at least %d", got, n)
		}
		var rep orderReport
		waitUntilf(t, 20*time.Second, func() string { return fmt.Sprintf("every message of the burst of %d: %+v", n, rep) }, func() bool {
			rep = checkOrder(want, rc.all())
			return rep.lost == 0
		})
		if rep.outOfOrder != 0 || rep.duplicates != 0 {
			t.Fatalf("burst of %d: %d out of order, %d duplicates; first: %s", n, rep.outOfOrder, rep.duplicates, rep.firstProblem)
		}
	}
}

// A failing conversation holds back only itself: while one group's item keeps failing, the
// other conversations go on, and that group's next item waits for it.
func TestOrderFailingKeyHoldsOnlyItself(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	var mu sync.Mutex
	failing := true
	rc := newOrderReceiver(t, func(body []byte, _ int) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if failing && strings.Contains(string(body), `"content":"stuck 1"`) {
			return http.StatusInternalServerError, 0
		}
		return http.StatusOK, 0
	})
	cfg := fastConfig(rc.url())
	cfg.PostMaxDeliver = 1000
	runReporter(t, s.srv, cfg)
	stuck := s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "stuck 1"})
	behind := s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "stuck 2"})
	other := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "free"})
	waitUntil(t, 15*time.Second, "the other conversation's message, and the stuck one tried twice", func() bool {
		tries, free := 0, false
		for _, a := range rc.all() {
			tries += b2i(a.id == stuck)
			free = free || a.id == other && a.status == http.StatusOK
		}
		return free && tries >= 2
	})
	for _, a := range rc.all() {
		if a.id == behind {
			t.Fatalf("the item behind a failing one of its conversation was posted before it was delivered")
		}
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	want := map[string][]int64{"group." + fmt.Sprint(adminGroupID): {stuck, behind}}
	var rep orderReport
	waitUntilf(t, 15*time.Second, func() string { return fmt.Sprintf("both items of the group: %+v", rep) }, func() bool {
		rep = checkOrder(want, rc.all())
		return rep.lost == 0
	})
	if rep.outOfOrder != 0 {
		t.Errorf("out of order: %s", rep.firstProblem)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// POST_ORDER=none gives up the order for throughput: items of one conversation are in flight
// together; and the same target goes back to ordered delivery when the setting does.
func TestOrderNoneDeliversOneConversationInParallel(t *testing.T) {
	t.Parallel()
	srv, _, js := bareStream(t)
	var mu sync.Mutex
	inflight, most := 0, 0
	release := make(chan struct{})
	rc := newOrderReceiver(t, func([]byte, int) (int, time.Duration) { return http.StatusOK, 0 })
	// Hold every request until two of the same conversation are in flight at once.
	rc.r.SetRespond(func(r *proctest.Request) proctest.Answer {
		mu.Lock()
		inflight++
		most = max(most, inflight)
		if most >= 2 {
			select {
			case <-release:
			default:
				close(release)
			}
		}
		mu.Unlock()
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
		a := rc.answer(r)
		mu.Lock()
		inflight--
		mu.Unlock()
		return a
	})
	ctx := t.Context()
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			item := fmt.Sprintf(`{"post_type":"receive_message","type":"group_message","id":%d,"sender_id":7,"group_id":9,"content":"m%d"}`, i, i)
			if _, err := js.Publish(ctx, "qq.events.group_message", []byte(item)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(1, 9)
	cfg := fastConfig(rc.url())
	cfg.PostOrder = OrderNone
	_, stop := runReporter(t, srv, cfg)
	waitUntil(t, 15*time.Second, "8 items delivered", func() bool { return len(rc.all()) >= 8 })
	stop()
	mu.Lock()
	if most < 2 {
		t.Errorf("POST_ORDER=none: at most %d POST in flight for one conversation, want several", most)
	}
	mu.Unlock()

	// Ordered again on the same consumer.
	most = 0
	rc.r.SetRespond(rc.answer)
	cfg.PostOrder = OrderConversation
	runReporter(t, srv, cfg)
	publish(9, 60)
	want := map[string][]int64{"group.9": nil}
	for i := int64(9); i < 60; i++ {
		want["group.9"] = append(want["group.9"], i)
	}
	var rep orderReport
	waitUntilf(t, 15*time.Second, func() string { return fmt.Sprintf("the ordered items: %+v", rep) }, func() bool {
		rep = checkOrder(want, rc.all())
		return rep.lost == 0
	})
	if rep.outOfOrder != 0 {
		t.Errorf("ordered again: %s", rep.firstProblem)
	}
}
