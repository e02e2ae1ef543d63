package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// sentReports are the send_message reports stored on the stream.
func (s *system) sentReports(t *testing.T) []*events.Message {
	t.Helper()
	var out []*events.Message
	for _, m := range s.streamItems(t, "qq.events.*") {
		it, err := events.DecodeItem(m.Data)
		if err != nil {
			continue
		}
		if msg, ok := it.(*events.Message); ok && msg.PostType == events.PostSendMessage {
			out = append(out, msg)
		}
	}
	return out
}

func describeMsgs(ms []*events.Message) string {
	var sb strings.Builder
	for _, m := range ms {
		b, _ := json.Marshal(m)
		sb.Write(b)
		sb.WriteByte('\n')
	}
	return sb.String()
}

// A {"reply":...} answer lands in the conversation the message came from, for every type.
func TestAnswerReplyLandsInConversation(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	w := watch(t, s.nc)
	rc := newReceiver(t, func(p post) answer {
		if p.str("post_type") != events.PostReceiveMessage {
			return answer{status: http.StatusOK, ctype: "text/html", body: "<html>ok</html>"}
		}
		body, _ := json.Marshal(map[string]string{"reply": "re:" + p.str("content")})
		return answer{status: http.StatusOK, ctype: "application/json; charset=utf-8", body: string(body)}
	})
	runReporter(t, s.srv, fastConfig(rc.url()))

	type want struct {
		typ                         string
		receiver, group, discussID  int64
		groupRef, discussRef, rcRef bool
	}
	cases := []struct {
		name string
		in   events.Injection
		want want
	}{
		{"friend", events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "f"},
			want{typ: events.FriendMessage, receiver: friendID, rcRef: true}},
		{"group", events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "g"},
			want{typ: events.GroupMessage, group: adminGroupID, groupRef: true}},
		{"discuss", events.Injection{Type: events.DiscussMessage, DiscussID: discussID, SenderID: discussMember, Content: "d"},
			want{typ: events.DiscussMessage, discussID: discussID, discussRef: true}},
		{"sess via group", events.Injection{Type: events.SessMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "sg"},
			want{typ: events.SessMessage, receiver: plainMemberID, group: adminGroupID, rcRef: true, groupRef: true}},
		{"sess via discuss", events.Injection{Type: events.SessMessage, DiscussID: discussID, SenderID: discussMember, Content: "sd"},
			want{typ: events.SessMessage, receiver: discussMember, discussID: discussID, rcRef: true, discussRef: true}},
	}
	for _, c := range cases {
		s.mustInject(t, c.in)
	}
	var sent []*events.Message
	waitUntilf(t, 15*time.Second, func() string { return "five replies; sent:\n" + describeMsgs(sent) }, func() bool {
		sent = w.sent()
		return len(sent) >= len(cases)
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got *events.Message
			for _, m := range sent {
				if m.Content == "re:"+c.in.Content {
					if got != nil {
						t.Fatalf("two replies to %q", c.in.Content)
					}
					got = m
				}
			}
			if got == nil {
				t.Fatalf("no reply to %q; sent:\n%s", c.in.Content, describeMsgs(sent))
			}
			w := c.want
			if got.Type != w.typ || got.From != events.FromReply || got.Class != events.ClassSend {
				t.Errorf("reply type %q from %q class %q, want %q from reply", got.Type, got.From, got.Class, w.typ)
			}
			if got.SendResult == nil || got.SendResult.Code != 0 {
				t.Errorf("reply not sent: %+v", got.SendResult)
			}
			if (got.Receiver != nil) != w.rcRef || w.rcRef && got.Receiver.ID != w.receiver {
				t.Errorf("receiver %+v, want %d", got.Receiver, w.receiver)
			}
			if (got.GroupRef != nil) != w.groupRef || w.groupRef && got.GroupRef.ID != w.group {
				t.Errorf("group %+v, want %d", got.GroupRef, w.group)
			}
			if (got.DiscussRef != nil) != w.discussRef || w.discussRef && got.DiscussRef.ID != w.discussID {
				t.Errorf("discuss %+v, want %d", got.DiscussRef, w.discussID)
			}
		})
	}
	// The replies' own reports reach post_api as send_message, marked from "reply".
	ps := rc.waitFor(t, 15*time.Second, "the replies' send_message reports", func(ps []post) bool {
		n := 0
		for _, p := range ps {
			if p.str("post_type") == events.PostSendMessage && p.str("from") == events.FromReply {
				n++
			}
		}
		return n >= len(cases)
	})
	for _, p := range ps {
		if p.str("post_type") == events.PostSendMessage {
			checkIDs(t, "send_message report", p.Item)
		}
	}
}

var mutedUntil = regexp.MustCompile(`muted until (\S+)`)

// {"shutup":1,"shutup_time":120} on a group message mutes its sender for 120 seconds.
func TestAnswerShutupMutesTheSender(t *testing.T) {
	t.Parallel()
	const otherMember = int64(2375543805) // a plain member of otherGroupID, where the account is no admin
	s := startSystem(t)
	rc := newReceiver(t, func(p post) answer {
		if p.str("post_type") == events.PostReceiveMessage && strings.HasPrefix(p.str("content"), "mute me") {
			return answer{status: http.StatusOK, ctype: "application/json", body: `{"shutup":1,"shutup_time":120}`}
		}
		return answer{status: http.StatusOK}
	})
	runReporter(t, s.srv, fastConfig(rc.url()))

	start := time.Now()
	s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "mute me"})
	var rep events.InjectReply
	waitUntilf(t, 15*time.Second, func() string { return fmt.Sprintf("the sender to be muted; last reply %+v", rep) }, func() bool {
		rep = s.inject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "still here?"})
		return rep.Code != events.CodeOK
	})
	if rep.Code != events.CodeFailure {
		t.Fatalf("muted sender: reply %+v", rep)
	}
	m := mutedUntil.FindStringSubmatch(rep.Status)
	if m == nil {
		t.Fatalf("refusal %q does not say until when", rep.Status)
	}
	until, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	// shutup_time is in seconds (post_api's unit), not the API's minutes.
	if d := until.Sub(start); d < 110*time.Second || d > 140*time.Second {
		t.Errorf("muted for about %v, want 120s", d.Round(time.Second))
	}
	// Only the sender: another member still speaks.
	s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: friendID, Content: "I may speak"})

	// Where the account is no admin the API refuses: that is final, the item is acked and
	// nobody is muted.
	s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: otherGroupID, SenderID: otherMember, Content: "mute me too"})
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: otherGroupID, SenderID: otherMember, Content: "not muted"})
	for _, p := range rc.all() {
		if p.str("content") == "mute me too" && p.Status != http.StatusOK {
			t.Errorf("unexpected status %d", p.Status)
		}
	}
}

// A receiver that answers everything with a reply, its own replies' reports included, gets
// one reply per message: never the endless loop of Mojo.
func TestAnswerAlwaysReplyingReceiverDoesNotLoop(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	rc := newReceiver(t, func(post) answer {
		return answer{status: http.StatusOK, ctype: "application/json", body: `{"reply":"again","format":"text"}`}
	})
	runReporter(t, s.srv, fastConfig(rc.url()))
	s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "hello bot"})
	rc.waitFor(t, 15*time.Second, "the reply's own report", func(ps []post) bool {
		for _, p := range ps {
			if p.str("post_type") == events.PostSendMessage && p.str("from") == events.FromReply {
				return true
			}
		}
		return false
	})
	// Once the consumer has settled everything, every reply that will ever be sent is stored.
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	sent := s.sentReports(t)
	if len(sent) != 1 {
		t.Fatalf("%d messages sent, want exactly one reply:\n%s", len(sent), describeMsgs(sent))
	}
	if m := sent[0]; m.Content != "again" || m.From != events.FromReply || m.Receiver == nil || m.Receiver.ID != friendID {
		t.Errorf("reply %+v", m)
	}
}

// Answers that must not count: a non-2xx status, or a body that is not labelled JSON.
func TestAnswerNotApplied(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	cases := map[string]answer{
		"500 json":          {status: http.StatusInternalServerError, ctype: "application/json", body: `{"reply":"nope"}`},
		"404 json":          {status: http.StatusNotFound, ctype: "application/json", body: `{"reply":"nope","shutup":1}`},
		"302 json":          {status: http.StatusFound, ctype: "application/json", body: `{"reply":"nope"}`},
		"200 text/plain":    {status: http.StatusOK, ctype: "text/plain", body: `{"reply":"nope"}`},
		"200 text/html":     {status: http.StatusOK, ctype: "text/html; charset=utf-8", body: `{"reply":"nope"}`},
		"200 sniffed":       {status: http.StatusOK, body: `{"reply":"nope"}`},
		"200 json array":    {status: http.StatusOK, ctype: "application/json", body: `[{"reply":"nope"}]`},
		"204 json":          {status: http.StatusNoContent, ctype: "application/json"},
		"200 json empty":    {status: http.StatusOK, ctype: "application/json", body: `{"reply":""}`},
		"200 json send tip": {status: http.StatusOK, ctype: "application/json", body: `{"format":"json"}`},
	}
	var mu sync.Mutex
	tries := map[string]int{}
	rc := newReceiver(t, func(p post) answer {
		c, ok := cases[p.str("content")]
		if !ok || p.str("post_type") != events.PostReceiveMessage {
			return answer{status: http.StatusOK}
		}
		mu.Lock()
		tries[p.str("content")]++
		n := tries[p.str("content")]
		mu.Unlock()
		if n > 1 && c.status/100 != 2 {
			return answer{status: http.StatusOK} // the retry is accepted, without an answer
		}
		return c
	})
	runReporter(t, s.srv, fastConfig(rc.url()))
	for name := range cases {
		s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: name})
	}
	rc.waitFor(t, 15*time.Second, "every case accepted", func(ps []post) bool {
		got := map[string]bool{}
		for _, p := range ps {
			got[p.str("content")] = true
		}
		for name := range cases {
			if !got[name] {
				return false
			}
		}
		return true
	})
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	if sent := s.sentReports(t); len(sent) != 0 {
		t.Errorf("answers were applied:\n%s", describeMsgs(sent))
	}
	mu.Lock()
	defer mu.Unlock()
	for name, c := range cases {
		if want := 1; c.status/100 != 2 {
			if tries[name] < 2 {
				t.Errorf("%s: tried %d times, want a retry", name, tries[name])
			}
		} else if tries[name] != want {
			t.Errorf("%s: tried %d times, want %d", name, tries[name], want)
		}
	}
}

// An answer is applied once per item, however often it is delivered and by however many
// replicas.
func TestAnswerAppliedOnce(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	id := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "answer me once"})
	var item []byte
	var seq uint64
	for _, m := range s.streamItems(t, "qq.events.friend_message") {
		if strings.Contains(string(m.Data), fmt.Sprintf(`"id":%d`, id)) {
			item, seq = m.Data, m.Sequence
		}
	}
	if item == nil {
		t.Fatalf("message %d not on the stream", id)
	}
	const url = "http://127.0.0.1:1/post_api"
	var rs []*Reporter
	for range 2 {
		r, err := New(natstest.Connect(t, s.srv), fastConfig(url), natstest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	ctx := context.Background()
	a := Answer{Reply: "only once", ShutupTime: DefaultShutupTime}
	for i := range 2 {
		if err := rs[0].apply(ctx, newHTTPTarget(rs[0], url), "qq.events.friend_message", seq, item, a); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			r := rs[i%2]
			if err := r.apply(ctx, newHTTPTarget(r, url), "qq.events.friend_message", seq, item, a); err != nil {
				t.Errorf("concurrent apply: %v", err)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, m := range s.sentReports(t) {
		if m.Content == "only once" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("answer applied %d times, want 1", n)
	}

	// Another item gets its own answer.
	id2 := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "and me"})
	for _, m := range s.streamItems(t, "qq.events.friend_message") {
		if strings.Contains(string(m.Data), fmt.Sprintf(`"id":%d`, id2)) {
			if err := rs[1].apply(ctx, newHTTPTarget(rs[1], url), m.Subject, m.Sequence, m.Data, Answer{Reply: "second"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	n = 0
	for _, m := range s.sentReports(t) {
		if m.Content == "second" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("second answer applied %d times, want 1", n)
	}
}
