package wx

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

// The consulted friend's answer is consult's reply.
func TestConsultAnswered(t *testing.T) {
	v := start(t, nil)
	xiaoice := v.friend(sim.XiaoiceAccount)
	r := v.call(wx.RouteConsult, events.Params{"account": sim.XiaoiceAccount, "content": "haha"})
	sentID(t, "consult", r, xiaoice.ID)
	if r["reply"] != "[小冰] 收到: haha" {
		t.Errorf("consult: reply %v, want 小冰's answer", r["reply"])
	}
	if _, ok := r["reply_status"]; ok {
		t.Errorf("an answered consult has no reply_status: %v", r)
	}
	if v.p.answers.pending() != 0 {
		t.Errorf("%d consult waiters left", v.p.answers.pending())
	}
}

// Another friend speaking first does not end the wait (Mojo's bug); the consulted friend's
// message does.
func TestConsultWaitsForItsFriend(t *testing.T) {
	v := start(t, func(_ *Config, sc *sim.Config) { sc.Answerers = []string{} })
	wang, other := v.friend("老王"), v.friend("表妹")
	type result struct {
		r   map[string]any
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := v.nc.Request(v.e.Subjects().API(wx.RouteConsult),
			events.MustMarshal(events.Params{"id": wang.ID, "content": "明天几点?", "timeout": "60"}), 30*time.Second)
		var res result
		res.err = err
		if err == nil {
			res.err = json.Unmarshal(m.Data, &res.r)
		}
		done <- res
	}()
	// The question is sent (and so its waiter registered) before anyone speaks.
	waitFor(t, "the question sent", func() bool { return len(v.sentTo(wang.ID)) == 1 && v.p.answers.pending() == 1 })
	if rep := v.inject(wx.Injection{Type: wx.FriendMessage, SenderID: other.ID, Content: "我先说"}); rep.Code != 0 {
		t.Fatalf("inject: %+v", rep)
	}
	select {
	case res := <-done:
		t.Fatalf("consult ended on another friend's message: %+v", res)
	default:
	}
	if v.p.answers.pending() != 1 {
		t.Fatalf("the waiter is gone after another friend's message")
	}
	if rep := v.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Content: "八点"}); rep.Code != 0 {
		t.Fatalf("inject: %+v", rep)
	}
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	sentID(t, "consult", res.r, wang.ID)
	if res.r["reply"] != "八点" {
		t.Errorf("consult: reply %v, want 八点", res.r["reply"])
	}
}

// No answer in time: reply null and reply_status "reply timeout", the send's id and code.
func TestConsultTimeout(t *testing.T) {
	v := start(t, func(_ *Config, sc *sim.Config) { sc.Answerers = []string{} })
	wang := v.friend("老王")
	r := v.call(wx.RouteConsult, events.Params{"markname": "老王", "content": "在吗", "timeout": "0.2"})
	sentID(t, "consult timeout", r, wang.ID)
	if reply, ok := r["reply"]; !ok || reply != nil || r["reply_status"] != wx.ReplyTimeout {
		t.Errorf("consult timeout: %v, want reply null and reply_status %q", r, wx.ReplyTimeout)
	}
	if v.p.answers.pending() != 0 {
		t.Errorf("%d consult waiters left", v.p.answers.pending())
	}
}

func TestConsultRefusals(t *testing.T) {
	v := start(t, nil)
	for _, c := range []struct {
		name string
		p    events.Params
		code int
	}{
		{"no friend named", events.Params{"content": "x"}, 100},
		{"unknown friend", events.Params{"id": "@nobody", "content": "x"}, 100},
		{"a group is not a friend", events.Params{"id": v.group("PERL学习交流").ID, "content": "x"}, 100},
		{"nothing to say", events.Params{"account": sim.XiaoiceAccount}, events.CodeContentEmpty},
		{"timeout 0", events.Params{"account": sim.XiaoiceAccount, "content": "x", "timeout": "0"}, events.CodeBadRequest},
		{"timeout negative", events.Params{"account": sim.XiaoiceAccount, "content": "x", "timeout": "-5"}, events.CodeBadRequest},
		{"timeout not a number", events.Params{"account": sim.XiaoiceAccount, "content": "x", "timeout": "soon"}, events.CodeBadRequest},
		{"timeout over the cap", events.Params{"account": sim.XiaoiceAccount, "content": "x", "timeout": "301"}, events.CodeBadRequest},
		{"timeout NaN", events.Params{"account": sim.XiaoiceAccount, "content": "x", "timeout": "NaN"}, events.CodeBadRequest},
	} {
		r := v.call(wx.RouteConsult, c.p)
		if code(t, r) != c.code || r["status"] == "" {
			t.Errorf("%s: %v, want code %d", c.name, r, c.code)
		}
	}
	if n := len(v.sim.Sent()); n != 0 {
		t.Errorf("refused consults sent %d messages", n)
	}
}

// A login that ends ends the consult calls waiting on its ids: they answer "reply timeout"
// at once rather than at their time-out.
func TestConsultEndsWithTheLogin(t *testing.T) {
	v := start(t, func(_ *Config, sc *sim.Config) { sc.Answerers = []string{} })
	wang := v.friend("老王")
	done := make(chan map[string]any, 1)
	go func() {
		m, err := v.nc.Request(v.e.Subjects().API(wx.RouteConsult),
			events.MustMarshal(events.Params{"id": wang.ID, "content": "还在吗", "timeout": "300"}), 30*time.Second)
		var r map[string]any
		if err == nil {
			_ = json.Unmarshal(m.Data, &r)
		}
		done <- r
	}()
	waitFor(t, "the question sent", func() bool { return v.p.answers.pending() == 1 && len(v.sentTo(wang.ID)) == 1 })
	v.sim.Drop()
	r := <-done
	if r == nil || r["reply_status"] != wx.ReplyTimeout || r["reply"] != nil {
		t.Errorf("consult across a lost login: %v", r)
	}
}

// Over CONSULT_MAX calls waiting at once, one more is refused at once (-3), nothing sent.
func TestConsultMax(t *testing.T) {
	v := start(t, func(c *Config, sc *sim.Config) { c.ConsultMax = 1; sc.Answerers = []string{} })
	wang, other := v.friend("老王"), v.friend("表妹")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = v.nc.Request(v.e.Subjects().API(wx.RouteConsult),
			events.MustMarshal(events.Params{"id": wang.ID, "content": "等你", "timeout": "60"}), 30*time.Second)
	}()
	waitFor(t, "the first consult waiting", func() bool { return v.p.answers.pending() == 1 })
	r := v.call(wx.RouteConsult, events.Params{"id": other.ID, "content": "x"})
	want(t, "one consult too many", r, events.CodeUnavailable, "")
	if len(v.sentTo(other.ID)) != 0 {
		t.Error("the refused consult was sent")
	}
	v.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Content: "来了"})
	<-done
}
