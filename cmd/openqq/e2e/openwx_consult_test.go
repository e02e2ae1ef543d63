package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// consult through HTTP: it sends, then holds the call until the consulted friend answers.

type consultResult struct {
	code int
	r    map[string]any
}

// consultAsync calls consult in the background (a POST form; no helper that may fail the test
// off its goroutine).
func (w *wxEnv) consultAsync(kv ...string) <-chan consultResult {
	ch := make(chan consultResult, 1)
	body := q(kv...).Encode()
	u := w.base + wx.APIPath(wx.RouteConsult)
	go func() {
		resp, err := w.http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			ch <- consultResult{}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ch <- consultResult{resp.StatusCode, jsonObjectOrNil(b)}
	}()
	return ch
}

// jsonObjectOrNil decodes a JSON object (numbers as json.Number), nil if it is none: it runs
// off the test's goroutine, where a helper must not fail the test.
func jsonObjectOrNil(b []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// The friend who answers (小冰, the sim's answerer): consult returns the answer.
func TestOpenwxConsultAnswered(t *testing.T) {
	w := startWX(t, withSim(func(c *wxsim.Config) { c.Answerers = []string{wxsim.XiaoiceAccount} }))
	xiaoiceID := str(t, w.friendBy("account", wxsim.XiaoiceAccount), "id")
	for _, v := range vias {
		code, r := w.wcall(v, wx.RouteConsult, "account", wxsim.XiaoiceAccount, "content", "今天天气 "+string(v), "timeout", "10")
		id := sent(t, "consult", code, r, xiaoiceID)
		if r["reply"] != "[小冰] 收到: 今天天气 "+string(v) {
			t.Errorf("consult %s: reply %v", v, r["reply"])
		}
		lacksKeys(t, "an answered consult", r, "reply_status")
		if !strings.Contains(id, ":") {
			t.Errorf("id %q", id)
		}
	}
}

// Another friend speaking first does not end the call (Mojo's bug: its timer went on the
// first message from anyone, and the call then waited for ever); the consulted friend's
// answer does. Without an answer the call ends at its timeout with reply_status
// "reply timeout" and reply null.
func TestOpenwxConsultWaitsForItsFriend(t *testing.T) {
	w := startWX(t)
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	otherID := str(t, w.friendBy("account", wxsim.PayAccount), "id")
	it := w.subscribeWX()
	res := w.consultAsync("id", wangID, "content", "晚上吃什么", "timeout", "20")
	// The question is out: the call waits for 老王 from now on.
	awaitContent(t, it, wx.FriendMessage, "晚上吃什么")
	if r := w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: otherID, Content: "我先说"}); r.Code != 0 {
		t.Fatalf("inject: %+v", r)
	}
	awaitContent(t, it, wx.FriendMessage, "我先说")
	// The other friend's message has gone through the session: a sentinel of a third friend
	// after it, then the call must still be waiting.
	sentinelID := str(t, w.friendBy("account", "weixingongzuo"), "id")
	w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: sentinelID, Content: "哨兵"})
	awaitContent(t, it, wx.FriendMessage, "哨兵")
	select {
	case got := <-res:
		t.Fatalf("consult ended on another friend's message: %d %v", got.code, got.r)
	default:
	}
	w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wangID, Content: "火锅"})
	select {
	case got := <-res:
		if got.code != 200 || got.r == nil {
			t.Fatalf("consult: %d %v", got.code, got.r)
		}
		sent(t, "consult", got.code, got.r, wangID)
		if got.r["reply"] != "火锅" {
			t.Errorf("consult reply %v, want 老王's 火锅", got.r["reply"])
		}
	case <-time.After(15 * time.Second):
		t.Fatal("consult did not end on 老王's answer")
	}

	// Nobody answers: the time-out. Mojo: reply null and reply_status "reply timeout" beside
	// the send's code and status; openwx the same, with msg_id beside id.
	start := time.Now()
	code, r := w.wcall(viaGET, wx.RouteConsult, "markname", "老王", "content", "还在吗", "timeout", "0.5")
	id := sent(t, "consult timeout", code, r, wangID)
	wantReply(t, "consult timeout", code, r, 200, `{"id":"`+id+`","msg_id":"`+id+`","code":0,"status":"success","reply":null,"reply_status":"reply timeout"}`)
	if time.Since(start) < 500*time.Millisecond {
		t.Errorf("consult answered after %s, before its timeout", time.Since(start))
	}
}

// consult's refusals: JSON errors with non-zero codes, nothing sent, nothing stored.
func TestOpenwxConsultRefused(t *testing.T) {
	w := startWX(t)
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	perlID := str(t, w.groupBy("name", "PERL学习交流"), "id")
	for _, v := range vias {
		for _, c := range []struct {
			what   string
			kv     []string
			code   int64
			status string
		}{
			{"no friend", []string{"content", "x"}, events.CodeNotFound, "object not found"},
			{"an unknown friend", []string{"id", "@nobody", "content", "x"}, events.CodeNotFound, "object not found"},
			// consult asks a friend: a group is not one.
			{"a group", []string{"id", perlID, "content", "x"}, events.CodeNotFound, "object not found"},
			{"no content", []string{"id", wangID}, events.CodeContentEmpty, "content and media empty"},
			{"timeout 0", []string{"id", wangID, "content", "x", "timeout", "0"}, events.CodeBadRequest, "bad request"},
			{"timeout -1", []string{"id", wangID, "content", "x", "timeout", "-1"}, events.CodeBadRequest, "bad request"},
			{"timeout abc", []string{"id", wangID, "content", "x", "timeout", "abc"}, events.CodeBadRequest, "bad request"},
			{"timeout over the most", []string{"id", wangID, "content", "x", "timeout", "301"}, events.CodeBadRequest, "bad request"},
			{"timeout NaN", []string{"id", wangID, "content", "x", "timeout", "NaN"}, events.CodeBadRequest, "bad request"},
		} {
			before := w.counts()
			code, r := w.wcall(v, wx.RouteConsult, c.kv...)
			w.refused("consult "+c.what+" "+string(v), code, r, c.code, c.status, before)
		}
	}
	if got := w.sim.Sent(); len(got) != 0 {
		t.Errorf("refused consults sent %d messages", len(got))
	}
}
