package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

// check_event over HTTP: the long poll of the real gateway against the real session.

// ceHold sets check_event's hold on both sides, and turns events on as the environment's
// defaults do (a Config built in code has PostEvent false).
func ceHold(d time.Duration) option {
	return func(s *session.Config, g *gateway.Config) {
		s.Hold = d
		g.CheckEventHold = d
		s.PostEvent = true
		s.PostEventList = events.DefaultPostEventList
	}
}

// ceSettle waits until the items stored so far have reached the session's check_event
// (its buffer, or a waiting caller): the stream has sent them all to the feed's consumer, and
// the feed has taken the last one it was sent.
func ceSettle(e *env) {
	e.t.Helper()
	js, err := jetstream.New(e.nc)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		e.t.Fatal(err)
	}
	for {
		// The feed is the stream's one ephemeral (ordered) consumer; the reporters' are durable.
		var feed []*jetstream.ConsumerInfo
		consumers := str.ListConsumers(ctx)
		for ci := range consumers.Info() {
			if ci.Config.Durable == "" {
				feed = append(feed, ci)
			}
		}
		if len(feed) > 1 {
			e.t.Fatalf("%d ephemeral consumers on the stream: which is check_event's feed?", len(feed))
		}
		// The consumer's NumPending can lag a store the publisher already had acked (the server
		// counts it after): what the feed must have is the last message stored on its subjects.
		if consumers.Err() == nil && len(feed) == 1 {
			last, err := lastStored(ctx, str, feed[0].Config.FilterSubjects)
			if err != nil {
				e.t.Fatal(err)
			}
			if last > 0 && e.sess.CheckEventFed() >= last {
				return
			}
		}
		if ctx.Err() != nil {
			e.t.Fatal("the check_event feed did not catch up within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lastStored is the stream sequence of the latest message on any of subjects (0: none).
func lastStored(ctx context.Context, str jetstream.Stream, subjects []string) (uint64, error) {
	var last uint64
	for _, subj := range subjects {
		m, err := str.GetLastMsgForSubject(ctx, subj)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("last message on %s: %w", subj, err)
		}
		last = max(last, m.Sequence)
	}
	return last, nil
}

// ceWaitWaiting waits until n check_event calls wait at the session for an item. (Counting the
// calls the session has taken would not do: its micro service counts a call answered at once
// after the answer went out, so a count read just after an answer may still miss it.)
func ceWaitWaiting(e *env, n int) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.sess.CheckEventWaiting() < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d check_event calls not waiting within 10s (%d are)", n, e.sess.CheckEventWaiting())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ceReleases follows the gateway's ticket releases (check_event_release) from now on: the
// returned func waits for the next one and says whether its items were delivered.
func ceReleases(t *testing.T, e *env) func() bool {
	t.Helper()
	releases := make(chan *nats.Msg, 100)
	sub, err := e.nc.ChanSubscribe(events.Subjects{}.CheckEventRelease(), releases)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := e.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() bool {
		t.Helper()
		select {
		case m := <-releases:
			var r events.CheckEventRelease
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Fatalf("release %s: %v", m.Data, err)
			}
			return r.Delivered
		case <-time.After(5 * time.Second):
			t.Fatal("the gateway released no ticket")
			return false
		}
	}
}

// ceInject makes the account receive a group message and returns its id.
func ceInject(e *env, content string) int64 {
	e.t.Helper()
	r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: friendID, Content: content})
	if r.Code != 0 || r.ID == 0 {
		e.t.Fatalf("inject %q: %+v", content, r)
	}
	return r.ID
}

type ceResult struct {
	status int
	body   []byte
	err    error
	took   time.Duration
}

// ceCall calls check_event with GET on its own; safe in any goroutine (it never fails the test).
func ceCall(ctx context.Context, e *env, client *http.Client) ceResult {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/openqq/check_event", nil)
	if err != nil {
		return ceResult{err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return ceResult{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return ceResult{status: resp.StatusCode, body: body, err: err, took: time.Since(start)}
}

// ceItems decodes a check_event answer: a JSON array (never null) of objects (never null).
func ceItems(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		t.Fatalf("check_event answered %s, want a JSON array (err %v)", body, err)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		if string(r) == "null" {
			t.Fatalf("check_event answered %s: item %d is null", body, i)
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if err := dec.Decode(&out[i]); err != nil || out[i] == nil {
			t.Fatalf("item %d of %s is not an object (%v)", i, body, err)
		}
	}
	return out
}

// ceIDs returns the ids of the message items, failing unless each is a JSON integer.
func ceIDs(t *testing.T, items []map[string]any) []int64 {
	t.Helper()
	var ids []int64
	for _, it := range items {
		n, ok := it["id"].(json.Number)
		if !ok {
			t.Fatalf("item %v: id is %T, want a JSON integer", it, it["id"])
		}
		id, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			t.Fatalf("item %v: id %s is not an integer", it, n)
		}
		ids = append(ids, id)
	}
	return ids
}

// ceEmpty checks that a call on an empty buffer waits for the hold and answers [].
func ceEmpty(t *testing.T, e *env, hold time.Duration) {
	t.Helper()
	start := time.Now()
	code, body := e.get("check_event", nil)
	took := time.Since(start)
	if code != http.StatusOK || string(body) != "[]" {
		t.Fatalf("empty buffer: HTTP %d %s, want 200 []", code, body)
	}
	if took < hold-50*time.Millisecond || took > hold+2*time.Second {
		t.Errorf("empty buffer answered after %s, want after the hold of %s", took, hold)
	}
}

func TestCheckEventHTTPDrainAll(t *testing.T) {
	const hold = 500 * time.Millisecond
	e := start(t, ceHold(hold))
	var want []int64
	for i := 1; i <= 3; i++ {
		want = append(want, ceInject(e, fmt.Sprintf("m%d", i)))
	}
	ceSettle(e)

	start := time.Now()
	code, body := e.get("check_event", nil)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	if took := time.Since(start); took >= hold {
		t.Errorf("a non-empty buffer answered after %s, want at once", took)
	}
	items := ceItems(t, body)
	if got := ceIDs(t, items); !slices.Equal(got, want) {
		t.Fatalf("ids %v, want %v in order", got, want)
	}
	for i, it := range items {
		if it["post_type"] != events.PostReceiveMessage || it["type"] != events.GroupMessage ||
			it["content"] != fmt.Sprintf("m%d", i+1) || it["class"] != "recv" {
			t.Errorf("item %d: %v", i, it)
		}
		for _, k := range []string{"sender_id", "group_id", "time"} {
			if _, ok := it[k].(json.Number); !ok {
				t.Errorf("item %d: %s is %T, want a JSON integer", i, k, it[k])
			}
		}
	}
	// The buffer is empty now: the next call waits, then answers [] (never null).
	ceEmpty(t, e, hold)
}

func TestCheckEventHTTPWaitingCallerWoken(t *testing.T) {
	const hold = 5 * time.Second
	e := start(t, ceHold(hold))
	res := make(chan ceResult, 1)
	go func() { res <- ceCall(context.Background(), e, e.http) }()
	ceWaitWaiting(e, 1) // the call is waiting
	injected := time.Now()
	id := ceInject(e, "wake up")
	var r ceResult
	select {
	case r = <-res:
	case <-time.After(hold + 3*time.Second):
		t.Fatal("no answer")
	}
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("check_event: %v, HTTP %d %s", r.err, r.status, r.body)
	}
	if took := time.Since(injected); took > 2*time.Second {
		t.Errorf("answered %s after the message, want well before the hold (%s)", took, hold)
	}
	items := ceItems(t, r.body)
	if got := ceIDs(t, items); !slices.Equal(got, []int64{id}) {
		t.Fatalf("got %s, want [message %d]", r.body, id)
	}
	if items[0]["content"] != "wake up" {
		t.Errorf("item %v", items[0])
	}
}

func TestCheckEventHTTPOnlyReportedEvents(t *testing.T) {
	const hold = 500 * time.Millisecond
	e := start(t, ceHold(hold))
	all := e.subscribe("")
	// A relogin publishes state_change, input_qrcode and login again, after the session started.
	if code, body := e.get("relogin", nil); code != http.StatusOK {
		t.Fatalf("relogin: HTTP %d %s", code, body)
	}
	all.event(events.EventLogin)
	for {
		ev := all.event(events.EventStateChange)
		if len(ev.Params) == 2 && strings.Contains(string(ev.Params[1]), string(events.StateRunning)) {
			break
		}
	}
	e.waitState(events.StateRunning)
	r := e.inject(events.Injection{Event: events.EventNewFriend, Friend: &events.Friend{ID: 3000000001, UID: 3000001, Name: "新朋友"}})
	if r.Code != 0 {
		t.Fatalf("inject new_friend: %+v", r)
	}
	id := ceInject(e, "after relogin")
	ceSettle(e)

	code, body := e.get("check_event", nil)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	items := ceItems(t, body)
	if len(items) != 2 {
		t.Fatalf("got %s, want [new_friend, message %d]", body, id)
	}
	ev := items[0]
	if ev["post_type"] != "event" || ev["event"] != events.EventNewFriend {
		t.Errorf("first item %v, want the new_friend event", ev)
	}
	params, _ := ev["params"].([]any)
	if len(params) != 1 {
		t.Fatalf("new_friend params %v", ev["params"])
	}
	if f, _ := params[0].(map[string]any); f == nil || f["id"] != json.Number("3000000001") || f["name"] != "新朋友" {
		t.Errorf("new_friend params %v", params)
	}
	if got := ceIDs(t, items[1:]); !slices.Equal(got, []int64{id}) {
		t.Errorf("second item %v, want message %d", items[1], id)
	}
	for _, it := range items {
		switch it["event"] {
		case events.EventLogin, events.EventStop, events.EventStateChange, events.EventInputQRCode:
			t.Errorf("check_event handed out the client's own event %v", it["event"])
		}
	}
	ceEmpty(t, e, hold)
}

func TestCheckEventHTTPConcurrentCallers(t *testing.T) {
	const (
		hold    = 5 * time.Second
		callers = 5
	)
	e := start(t, ceHold(hold))
	results := make(chan ceResult, callers)
	for range callers {
		go func() { results <- ceCall(context.Background(), e, e.http) }()
	}
	ceWaitWaiting(e, callers) // all are waiting
	var want []int64
	for i := range callers {
		want = append(want, ceInject(e, fmt.Sprintf("c%d", i)))
	}
	var got []int64
	for range callers {
		var r ceResult
		select {
		case r = <-results:
		case <-time.After(hold + 3*time.Second):
			t.Fatal("a caller got no answer")
		}
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("check_event: %v, HTTP %d %s", r.err, r.status, r.body)
		}
		ids := ceIDs(t, ceItems(t, r.body))
		if len(ids) != 1 {
			t.Errorf("a waiting caller got %s, want exactly one item", r.body)
		}
		got = append(got, ids...)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("callers got %v together, want each of %v exactly once", got, want)
	}
}

// TestCheckEventHTTPConcurrentCallersBurst: more items than callers, arriving at once; the
// callers keep calling until everything arrived. Nothing twice, nothing lost.
func TestCheckEventHTTPConcurrentCallersBurst(t *testing.T) {
	const (
		hold    = time.Second
		callers = 5
		n       = 15
	)
	e := start(t, ceHold(hold))
	var (
		mu  sync.Mutex
		got []int64
	)
	done := make(chan struct{})
	more := make(chan struct{}, 1) // a caller got items
	errs := make(chan string, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				r := ceCall(context.Background(), e, e.http)
				if r.err != nil || r.status != http.StatusOK {
					errs <- fmt.Sprintf("check_event: %v, HTTP %d %s", r.err, r.status, r.body)
					return
				}
				var items []map[string]any
				dec := json.NewDecoder(bytes.NewReader(r.body))
				dec.UseNumber()
				if err := dec.Decode(&items); err != nil || items == nil {
					errs <- fmt.Sprintf("check_event answered %s", r.body)
					return
				}
				mu.Lock()
				for _, it := range items {
					if it == nil {
						errs <- fmt.Sprintf("null item in %s", r.body)
						mu.Unlock()
						return
					}
					id, _ := strconv.ParseInt(fmt.Sprint(it["id"]), 10, 64)
					got = append(got, id)
				}
				mu.Unlock()
				select {
				case more <- struct{}{}:
				default:
				}
			}
		}()
	}
	ceWaitWaiting(e, callers) // every caller is waiting
	var want []int64
	for i := range n {
		want = append(want, ceInject(e, fmt.Sprintf("b%d", i)))
	}
	deadline := time.After(10 * time.Second)
wait:
	for {
		mu.Lock()
		k := len(got)
		mu.Unlock()
		if k >= n {
			break
		}
		select {
		case <-more:
		case <-deadline:
			break wait
		}
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("callers got %v together, want each of %v exactly once", got, want)
	}
}

func TestCheckEventHTTPCallerGoneLosesNothing(t *testing.T) {
	const hold = 3 * time.Second
	e := start(t, ceHold(hold))

	t.Run("client timeout", func(t *testing.T) {
		e := e.with(t)
		release := ceReleases(t, e)
		short := &http.Client{Timeout: 300 * time.Millisecond}
		r := ceCall(context.Background(), e, short)
		if r.err == nil {
			t.Fatalf("the short client got HTTP %d %s, want a time-out", r.status, r.body)
		}
		if release() {
			t.Fatal("the gateway released the timed-out caller's ticket as delivered")
		}
		id := ceInject(e, "after timeout")
		ceSettle(e)
		next := ceCall(context.Background(), e, e.http)
		if next.err != nil || next.status != http.StatusOK {
			t.Fatalf("next caller: %v, HTTP %d %s", next.err, next.status, next.body)
		}
		if got := ceIDs(t, ceItems(t, next.body)); !slices.Equal(got, []int64{id}) {
			t.Fatalf("next caller got %s, want [message %d]", next.body, id)
		}
		if next.took > hold/2 {
			t.Errorf("next caller waited %s for an item that was buffered", next.took)
		}
		// The gateway releases a ticket after it wrote the answer: wait for this one here, or
		// it could reach the next subtest's subscription.
		if !release() {
			t.Fatal("the gateway released the answered caller's ticket as undelivered")
		}
	})

	t.Run("cancelled request", func(t *testing.T) {
		e := e.with(t)
		release := ceReleases(t, e)
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan ceResult, 1)
		go func() { res <- ceCall(ctx, e, e.http) }()
		ceWaitWaiting(e, 1) // the call is waiting
		cancel()
		if r := <-res; r.err == nil {
			t.Fatalf("cancelled call got HTTP %d %s", r.status, r.body)
		}
		if release() {
			t.Fatal("the gateway released the cancelled caller's ticket as delivered")
		}
		id := ceInject(e, "after cancel")
		ceSettle(e)
		code, body := e.get("check_event", nil)
		if code != http.StatusOK {
			t.Fatalf("HTTP %d %s", code, body)
		}
		if got := ceIDs(t, ceItems(t, body)); !slices.Equal(got, []int64{id}) {
			t.Fatalf("next caller got %s, want [message %d]", body, id)
		}
		if !release() {
			t.Fatal("the gateway released the answered caller's ticket as undelivered")
		}
	})

	// The message arrives as the caller hangs up: it may reach the session's waiter for that
	// caller before the gateway's release does. Either way the next caller gets it. The one
	// case HTTP cannot help: the gateway wrote the answer before it could see that the caller
	// had gone (its release says delivered); such a round proves nothing and is passed over.
	t.Run("message as the caller hangs up", func(t *testing.T) {
		e := e.with(t)
		release := ceReleases(t, e)
		// Rounds go on until minJudged of them proved something: a test that judged none
		// would pass while proving nothing.
		const minJudged, maxRounds = 8, 32
		judged, i := 0, 0
		for ; judged < minJudged && i < maxRounds; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			res := make(chan ceResult, 1)
			go func() { res <- ceCall(ctx, e, e.http) }()
			ceWaitWaiting(e, 1) // the call is waiting
			injected := make(chan int64, 1)
			jitter := time.Duration(i%4) * time.Millisecond
			go func() {
				time.Sleep(jitter) // varies the hang-up against the injection; not a wait
				cancel()
			}()
			go func() { // injects without t: this goroutine must not fail the test
				b, _ := json.Marshal(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: friendID, Content: "hang-up " + strconv.Itoa(i)})
				m, err := e.nc.Request(events.Subjects{}.SimInject(), b, 5*time.Second)
				var rep events.InjectReply
				if err == nil {
					err = json.Unmarshal(m.Data, &rep)
				}
				if err != nil || rep.Code != 0 {
					injected <- 0
					return
				}
				injected <- rep.ID
			}()
			first := <-res
			delivered := release()
			id := <-injected
			if id == 0 {
				t.Fatal("inject failed")
			}
			ceSettle(e)
			var got []int64
			if first.err == nil && first.status == http.StatusOK {
				// Answered before it was cancelled.
				got = append(got, ceIDs(t, ceItems(t, first.body))...)
			} else if delivered {
				t.Logf("round %d: the gateway wrote its answer as the caller hung up (%v)", i, first.err)
				// Empty the buffer for the next round, without waiting.
				if _, err := e.nc.RequestMsg(newCheckEventMsg(events.Subjects{}, "", 0), 5*time.Second); err != nil {
					t.Fatal(err)
				}
				continue
			}
			judged++
			if !slices.Contains(got, id) {
				next := ceCall(context.Background(), e, e.http)
				release()
				if next.err != nil || next.status != http.StatusOK {
					t.Fatalf("next caller: %v, HTTP %d %s", next.err, next.status, next.body)
				}
				got = append(got, ceIDs(t, ceItems(t, next.body))...)
				if next.took > hold/2 {
					t.Errorf("round %d: next caller waited %s", i, next.took)
				}
			}
			if !slices.Equal(got, []int64{id}) {
				t.Fatalf("round %d: callers got %v, want [%d] exactly once", i, got, id)
			}
		}
		t.Logf("%d of %d rounds judged", judged, i)
		if judged < minJudged {
			t.Fatalf("only %d of %d rounds could be judged, want %d", judged, i, minJudged)
		}
	})
}

// newCheckEventMsg is a check_event request as the gateway sends it: a ticket and a hold.
func newCheckEventMsg(subj events.Subjects, ticket string, hold time.Duration) *nats.Msg {
	m := nats.NewMsg(subj.API(events.RouteCheckEvent))
	m.Header.Set(events.HeaderTicket, ticket)
	m.Header.Set(events.HeaderHold, hold.String())
	m.Data = []byte("{}")
	return m
}

// TestCheckEventReleaseEndpointPutsBack: items handed out under a ticket whose caller turned
// out to be gone (the gateway releases it undelivered) go back to the front of the buffer.
func TestCheckEventReleaseEndpointPutsBack(t *testing.T) {
	const hold = 500 * time.Millisecond
	e := start(t, ceHold(hold))
	a := ceInject(e, "a")
	b := ceInject(e, "b")
	ceSettle(e)

	subj := events.Subjects{}
	msg := newCheckEventMsg(subj, "ticket-1", hold)
	reply, err := e.nc.RequestMsg(msg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, ceItems(t, reply.Data)); !slices.Equal(got, []int64{a, b}) {
		t.Fatalf("ticket-1 got %s, want [%d %d]", reply.Data, a, b)
	}
	c := ceInject(e, "c")
	ceSettle(e)
	rel, _ := json.Marshal(events.CheckEventRelease{Ticket: "ticket-1", Delivered: false})
	if _, err := e.nc.Request(subj.CheckEventRelease(), rel, 5*time.Second); err != nil {
		t.Fatalf("release: %v", err)
	}
	code, body := e.get("check_event", nil)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	if got := ceIDs(t, ceItems(t, body)); !slices.Equal(got, []int64{a, b, c}) {
		t.Fatalf("next caller got %s, want [%d %d %d]: the released items first", body, a, b, c)
	}

	// A delivered release forgets the items.
	d := ceInject(e, "d")
	ceSettle(e)
	reply, err = e.nc.RequestMsg(newCheckEventMsg(subj, "ticket-2", hold), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := ceIDs(t, ceItems(t, reply.Data)); !slices.Equal(got, []int64{d}) {
		t.Fatalf("ticket-2 got %s, want [%d]", reply.Data, d)
	}
	rel, _ = json.Marshal(events.CheckEventRelease{Ticket: "ticket-2", Delivered: true})
	if _, err := e.nc.Request(subj.CheckEventRelease(), rel, 5*time.Second); err != nil {
		t.Fatalf("release: %v", err)
	}
	ceEmpty(t, e, hold)
}

func TestCheckEventHTTPPost(t *testing.T) {
	const hold = 500 * time.Millisecond
	e := start(t, ceHold(hold))
	a := ceInject(e, "form")
	ceSettle(e)
	code, body := e.postForm("check_event", q("client", "default"))
	if code != http.StatusOK {
		t.Fatalf("POST form: HTTP %d %s", code, body)
	}
	if got := ceIDs(t, ceItems(t, body)); !slices.Equal(got, []int64{a}) {
		t.Fatalf("POST form got %s, want [%d]", body, a)
	}
	b := ceInject(e, "json")
	ceSettle(e)
	code, body = e.postJSON("check_event", map[string]string{})
	if code != http.StatusOK {
		t.Fatalf("POST JSON: HTTP %d %s", code, body)
	}
	if got := ceIDs(t, ceItems(t, body)); !slices.Equal(got, []int64{b}) {
		t.Fatalf("POST JSON got %s, want [%d]", body, b)
	}
	// An empty POST waits for the hold and answers [].
	start := time.Now()
	code, body = e.postForm("check_event", nil)
	if code != http.StatusOK || string(body) != "[]" {
		t.Fatalf("empty POST: HTTP %d %s, want 200 []", code, body)
	}
	if took := time.Since(start); took < hold-50*time.Millisecond {
		t.Errorf("empty POST answered after %s, before the hold", took)
	}
}

func TestCheckEventHTTPJSONP(t *testing.T) {
	const hold = 500 * time.Millisecond
	e := start(t, ceHold(hold))
	id := ceInject(e, "jsonp")
	ceSettle(e)
	code, body := e.get("check_event", q("datatype", "jsonp", "callback", "cb"))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d %s", code, body)
	}
	s := string(body)
	if !strings.HasPrefix(s, "cb(") || !strings.HasSuffix(s, ")") {
		t.Fatalf("JSONP body %s, want cb([...])", body)
	}
	if got := ceIDs(t, ceItems(t, []byte(s[3:len(s)-1]))); !slices.Equal(got, []int64{id}) {
		t.Fatalf("JSONP got %s, want [%d]", body, id)
	}
	code, body = e.get("check_event", q("datatype", "jsonp", "callback", "cb"))
	if code != http.StatusOK || string(body) != "cb([])" {
		t.Fatalf("empty JSONP: HTTP %d %s, want cb([])", code, body)
	}
}
