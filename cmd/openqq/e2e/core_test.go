package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

// The seeds' headline: a Chinese group message goes out, and its send_message report carries
// the same text on qq.events.group_message.
func TestChineseGroupMessageRoundTrip(t *testing.T) {
	e := start(t)
	reports := e.subscribe("qq.events.group_message")
	content := "你好，世界！\n第二行 <b>&</b> 😀\n"
	code, body := e.postForm("send_group_message", q("uid", strconv.Itoa(perlGroupUID), "content", content))
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	r := decode[events.SendReply](t, body)
	if r.Code != 0 || r.Status != "发送成功" || r.Info != "发送正常" || r.ID == nil {
		t.Fatalf("reply %s", body)
	}
	m := reports.message(events.GroupMessage)
	if m.ID != *r.ID || m.Content != content || m.PostType != events.PostSendMessage || m.Class != events.ClassSend {
		t.Fatalf("report %+v", m)
	}
	if m.GroupRef == nil || m.GroupRef.Name != "PERL学习交流" || m.GroupRef.UID != perlGroupUID || m.Sender.ID != meID {
		t.Fatalf("report names %+v %+v", m.GroupRef, m.Sender)
	}
	if m.SendResult == nil || m.SendResult.Code != 0 {
		t.Fatalf("report result %+v", m.SendResult)
	}
}

// A message the simulated account receives is published as Mojo reported it.
func TestReceivedGroupMessage(t *testing.T) {
	e := start(t)
	reports := e.subscribe("")
	r := e.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlMemberID, Content: "测试一下"})
	if r.Code != 0 || r.ID == 0 {
		t.Fatalf("inject: %+v", r)
	}
	raw := reports.next(events.GroupMessage)
	if got := raw.Header.Get(events.HeaderMsgID); got != strconv.FormatInt(r.ID, 10) {
		t.Errorf("Nats-Msg-Id %q, want %d", got, r.ID)
	}
	m := decode[map[string]any](t, raw.Data)
	for _, k := range []string{"id", "type", "class", "time", "content", "sender", "sender_id", "sender_uid",
		"receiver", "receiver_id", "receiver_uid", "group", "group_id", "group_uid", "post_type"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report lacks %q: %s", k, raw.Data)
		}
	}
	if m["post_type"] != "receive_message" || m["class"] != "recv" || m["sender_uid"] != float64(perlMemberUID) ||
		m["receiver_id"] != float64(meID) || m["group_id"] != float64(perlGroupID) {
		t.Errorf("report %s", raw.Data)
	}
}

// 100 sends at once are all answered, each with its own id, and all reported.
func TestConcurrentSends(t *testing.T) {
	e := start(t)
	reports := e.subscribe("qq.events.friend_message")
	const n = 100
	var wg sync.WaitGroup
	ids := make(chan int64, n)
	for i := range n {
		wg.Go(func() {
			code, body := e.get("send_friend_message", q("id", strconv.Itoa(friendID), "content", fmt.Sprintf("消息 %d", i)))
			r := decode[events.SendReply](t, body)
			if code != 200 || r.Code != 0 || r.ID == nil {
				t.Errorf("send %d: %d %s", i, code, body)
				return
			}
			ids <- *r.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("id %d given twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Fatalf("%d sends answered, want %d", len(seen), n)
	}
	for range n {
		m := reports.message(events.FriendMessage)
		if !seen[m.ID] {
			t.Errorf("report of unknown id %d", m.ID)
		}
		delete(seen, m.ID)
	}
}

// Before running, calls are refused at once with the documented code, except the client routes.
func TestRefusedBeforeRunning(t *testing.T) {
	e := start(t, func(s *session.Config, _ *gateway.Config) { simConfig(s).LoginDelay = time.Hour })
	e.waitState(events.StateScaning)
	for _, route := range events.Routes {
		if events.AnswersBeforeRunning(route) {
			continue
		}
		code, body := e.get(route, nil)
		if code != 200 || string(body) != `{"code":-2,"status":"client not ready: scaning"}` {
			t.Errorf("%s: %d %s", route, code, body)
		}
	}
	var info events.ClientInfo
	if code, body := e.getJSON("get_client_info", nil, &info); code != 200 || info.Code != 0 || info.State != events.StateScaning {
		t.Errorf("get_client_info: %d %s", code, body)
	}
}

// With no session, the gateway answers 503 JSON at once, never a hang.
func TestSessionAbsent(t *testing.T) {
	e := start(t, noSession)
	began := time.Now()
	code, body := e.get("get_user_info", nil)
	if code != http.StatusServiceUnavailable || string(body) != `{"code":-3,"status":"session unavailable"}` {
		t.Fatalf("%d %s", code, body)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("took %s, want within the 2s time-out", d)
	}
}
