package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Zero loss and order for wx.events.* with two reporters: messages of several conversations
// (friends and groups) are injected at once; at post_api each conversation's items arrive in
// the order the stream stored them, none lost, none twice, and both reporters deliver.
func TestOpenwxZeroLossAndOrderTwoReporters(t *testing.T) {
	var mu sync.Mutex
	firstTry := map[string]bool{}
	w := startWX(t, withReporters(2, func(r *wxReporterSetup) {
		r.respond = func(req *proctest.Request) proctest.Answer {
			m := req.JSON()
			id, _ := m["id"].(string)
			mu.Lock()
			defer mu.Unlock()
			// Every tenth message fails its first try: the retry must keep its place.
			if id != "" && !firstTry[id] {
				firstTry[id] = true
				if len(firstTry)%10 == 0 {
					return proctest.Answer{Status: http.StatusInternalServerError}
				}
			}
			return proctest.Answer{}
		}
	}))
	r := w.roster()
	type conv struct {
		key string // the reporter's order key: friend.<id> or group.<id>
		in  func(i int) wx.Injection
	}
	var convs []conv
	for _, f := range r.friends[4:10] {
		id := str(t, f, "id")
		convs = append(convs, conv{"friend." + id, func(i int) wx.Injection {
			return wx.Injection{Type: wx.FriendMessage, SenderID: id, Content: fmt.Sprintf("f%d", i)}
		}})
	}
	for _, g := range r.groups {
		gid := str(t, g, "id")
		ms := members(t, g)
		convs = append(convs, conv{"group." + gid, func(i int) wx.Injection {
			return wx.Injection{Type: wx.GroupMessage, GroupID: gid, SenderID: str(t, ms[1+i%(len(ms)-1)], "id"), Content: fmt.Sprintf("g%d", i)}
		}})
	}
	const perConv = 40
	total := perConv * len(convs)
	ids := make(chan string, total)
	var wg sync.WaitGroup
	for _, c := range convs {
		wg.Go(func() {
			for i := range perConv {
				// Not w.inject: a helper must not fail the test off its goroutine.
				m, err := w.nc.Request(w.subj.SimInject(), events.MustMarshal(c.in(i)), 10*time.Second)
				var rep wx.InjectReply
				if err == nil {
					err = json.Unmarshal(m.Data, &rep)
				}
				if err != nil || rep.Code != 0 {
					t.Errorf("inject: %+v %v", rep, err)
					return
				}
				ids <- rep.ID
			}
		})
	}
	wg.Wait()
	close(ids)
	injected := map[string]bool{}
	for id := range ids {
		injected[id] = true
	}
	if len(injected) != total {
		t.Fatalf("%d distinct ids for %d injections", len(injected), total)
	}

	// The stored order of each conversation, read from the stream.
	stored := map[string][]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := w.js.OrderedConsumer(ctx, w.subj.Stream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{w.subj.Event(wx.FriendMessage), w.subj.Event(wx.GroupMessage)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < total; {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("reading the stream after %d items: %v", n, err)
		}
		it := object(t, m.Data())
		id, _ := it["id"].(string)
		if !injected[id] {
			continue
		}
		n++
		stored[keyOf(it)] = append(stored[keyOf(it)], id)
	}

	// Everything delivered (200), then each conversation's order.
	delivered := func(reqs []proctest.Request) map[string][]string {
		out := map[string][]string{}
		for _, req := range reqs {
			if req.Status != http.StatusOK {
				continue
			}
			m := req.JSON()
			if id, _ := m["id"].(string); injected[id] {
				out[keyOf(m)] = append(out[keyOf(m)], id)
			}
		}
		return out
	}
	count := func(d map[string][]string) int {
		n := 0
		for _, l := range d {
			n += len(l)
		}
		return n
	}
	reqs, ok := w.post.Wait(60*time.Second, func(reqs []proctest.Request) bool { return count(delivered(reqs)) >= total })
	got := delivered(reqs)
	if !ok {
		t.Fatalf("post_api got %d of %d messages within 60s", count(got), total)
	}
	if len(stored) != len(convs) {
		t.Errorf("%d conversations stored, want %d", len(stored), len(convs))
	}
	for key, want := range stored {
		if fmt.Sprint(got[key]) != fmt.Sprint(want) {
			t.Errorf("conversation %s: post_api got %v, stored %v", key, got[key], want)
		}
	}
	byReporter := map[string]int{}
	for _, req := range reqs {
		if req.Status == http.StatusOK {
			byReporter[req.Header.Get("X-Openqq-Reporter")]++
		}
	}
	if len(byReporter) < 2 {
		t.Errorf("one reporter did all the work: %v", byReporter)
	}
	t.Logf("%d messages over %d conversations, delivered by %v", total, len(convs), byReporter)
}

// keyOf is a message's conversation: its friend or its group.
func keyOf(m map[string]any) string {
	if g, _ := m["group_id"].(string); g != "" {
		return "group." + g
	}
	return fmt.Sprintf("friend.%v", m["sender_id"])
}
