package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// seqOf is the stream sequence of the first item on subject name that ok accepts.
func (w *wxEnv) seqOf(name string, ok func(map[string]any) bool) uint64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := w.js.OrderedConsumer(ctx, w.subj.Stream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{w.subj.Event(name)}})
	if err != nil {
		w.t.Fatal(err)
	}
	for {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			w.t.Fatalf("no %s item as wanted: %v", name, err)
		}
		if ok(object(w.t, m.Data())) {
			md, err := m.Metadata()
			if err != nil {
				w.t.Fatal(err)
			}
			return md.Sequence.Stream
		}
	}
}

// waitFed waits until check_event's feed has taken the stream's item seq.
func (w *wxEnv) waitFed(seq uint64) {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for w.sess.CheckEventFed() < seq {
		if time.Now().After(deadline) {
			w.t.Fatalf("check_event's feed did not take item %d within 10s (fed %d)", seq, w.sess.CheckEventFed())
		}
		time.Sleep(5 * time.Millisecond) // the feed tells no one: poll
	}
}

// check_event over HTTP: what is queued comes at once, in one array; with nothing queued the
// call waits for one item; login and state_change are never in it (Openwx collects messages
// and roster events only).
func TestOpenwxCheckEvent(t *testing.T) {
	w := startWX(t, func(s *wxSetup) { s.gw.CheckEventHold = 5 * time.Second })
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	in1 := w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wangID, Content: "一"})
	_, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "id", wangID, "content", "二")
	sentID := sent(t, "send", 200, r, wangID)
	in3 := w.inject(wx.Injection{Event: events.EventNewFriend, Friend: &wx.Friend{Name: "新朋友"}})
	if in1.Code != 0 || in3.Code != 0 {
		t.Fatalf("inject: %+v %+v", in1, in3)
	}
	w.waitFed(w.seqOf(events.EventNewFriend, func(map[string]any) bool { return true }))
	code, body := w.get(wx.RouteCheckEvent, nil)
	got := array(t, body)
	if code != 200 || len(got) != 3 {
		t.Fatalf("check_event: %d %s, want the three items queued", code, body)
	}
	fields(t, "received", got[0], map[string]any{"post_type": "receive_message", "id": in1.ID, "content": "一", "sender_id": wangID})
	fields(t, "sent", got[1], map[string]any{"post_type": "send_message", "id": sentID, "content": "二"})
	fields(t, "event", got[2], map[string]any{"post_type": "event", "event": events.EventNewFriend})
	for _, it := range got {
		if it["event"] == events.EventLogin || it["event"] == events.EventStateChange {
			t.Errorf("check_event gave %v", it["event"])
		}
	}
	// Nothing queued: the call waits for the next item (a POST as well as a GET).
	done := make(chan []byte, 1)
	go func() {
		resp, err := w.http.Post(w.base+wx.APIPath(wx.RouteCheckEvent), "application/x-www-form-urlencoded", strings.NewReader(""))
		if err != nil || resp.StatusCode != http.StatusOK {
			done <- nil
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- b
	}()
	// Whether it comes while the call waits or just before, the next item is the answer.
	in4 := w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wangID, Content: "四"})
	select {
	case b := <-done:
		if b == nil {
			t.Fatal("check_event failed")
		}
		items := array(t, b)
		if len(items) != 1 || items[0]["id"] != in4.ID {
			t.Errorf("the long poll: %s, want [the message 四]", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the long poll did not end on the next item")
	}
}
