package wx

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

// The driver's reports become Openwx's reports and events on WX_EVENTS.
func TestReportsAndEvents(t *testing.T) {
	v := start(t, nil)
	if v.e.Subjects().Stream() != "WX_EVENTS" {
		t.Errorf("stream %s, want WX_EVENTS", v.e.Subjects().Stream())
	}
	// The login: input_qrcode, the states, login [1] after the QR scan.
	qr := v.item(events.EventInputQRCode, func(map[string]any) bool { return true })
	if ps := qr["params"].([]any); len(ps) != 2 || ps[1] == "" {
		t.Errorf("input_qrcode: %v", ps)
	}
	login := v.item(events.EventLogin, func(map[string]any) bool { return true })
	if ps := login["params"].([]any); len(ps) != 1 || ps[0] != 1.0 {
		t.Errorf("login after a QR scan: %v, want [1]", ps)
	}
	v.item(events.EventStateChange, func(m map[string]any) bool {
		ps := m["params"].([]any)
		return ps[1] == string(events.StateRunning)
	})

	wang, g := v.friend("老王"), v.group("PERL学习交流")
	sender := g.Member[1]
	cases := []struct {
		name string
		in   wx.Injection
		want map[string]any
	}{
		{"friend text", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Content: "在吗"},
			map[string]any{"format": "text", "content": "在吗", "sender": "老王", "sender_markname": "老王", "sender_category": wx.CategoryFriend,
				"receiver": sim.UserName, "class": "recv", "post_type": events.PostReceiveMessage, "source": wx.SourceLocal}},
		{"group text", wx.Injection{Type: wx.GroupMessage, GroupID: g.ID, SenderID: sender.ID, Content: "大家好"},
			map[string]any{"format": "text", "group": "PERL学习交流", "group_id": g.ID, "sender_id": sender.ID, "sender": sender.DisplayName()}},
		{"group notice", wx.Injection{Type: wx.GroupNotice, GroupID: g.ID, Content: "你邀请灰太狼加入了群聊"},
			map[string]any{"type": wx.GroupNotice, "group_id": g.ID, "content": "你邀请灰太狼加入了群聊"}},
		{"app", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatApp,
			App: &wx.App{Title: "饿了么给你发红包", URL: "https://h.ele.me/hongbao", Name: "饿了么", ID: "wx123456"}},
			map[string]any{"format": "app", "app_title": "饿了么给你发红包", "app_url": "https://h.ele.me/hongbao", "app_id": "wx123456"}},
		{"card", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatCard, Card: &wx.Card{Name: "小冰", Account: "ms-xiaoice"}},
			map[string]any{"format": "card", "card_name": "小冰", "card_account": "ms-xiaoice"}},
		{"revoke", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatRevoke, RevokeID: "1234567890"},
			map[string]any{"format": "revoke", "revoke_id": "1234567890"}},
		{"sent from the phone", wx.Injection{Type: wx.FriendMessage, Source: wx.SourceOuter, ReceiverID: wang.ID, Content: "手机上发的"},
			map[string]any{"post_type": events.PostSendMessage, "source": wx.SourceOuter, "status": wx.StatusOuter, "receiver_id": wang.ID, "class": "send"}},
	}
	for _, c := range cases {
		rep := v.inject(c.in)
		if rep.Code != 0 || rep.ID == "" {
			t.Errorf("%s: injection %+v", c.name, rep)
			continue
		}
		typ := c.in.Type
		m := v.item(typ, func(m map[string]any) bool { return m["id"] == rep.ID })
		for k, x := range c.want {
			if m[k] != x {
				t.Errorf("%s: %s = %v, want %v (%v)", c.name, k, m[k], x, m)
			}
		}
		if c.in.Type == wx.GroupNotice {
			if _, ok := m["sender"]; ok {
				t.Errorf("a group notice has no sender: %v", m)
			}
		}
	}
	// A stranger's message is refused and nothing is reported.
	if rep := v.inject(wx.Injection{Type: wx.FriendMessage, SenderID: "@stranger", Content: "x"}); rep.Code == 0 {
		t.Errorf("a stranger's message: %+v", rep)
	}

	// Roster changes: the roster follows, the events carry the objects.
	rep := v.inject(wx.Injection{Event: events.EventNewFriend, Friend: &wx.Friend{Name: "新朋友", Account: "newbie"}})
	ev := v.item(events.EventNewFriend, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), rep.ID) })
	if f := ev["params"].([]any)[0].(map[string]any); f["displayname"] != "新朋友" || f["account"] != "newbie" {
		t.Errorf("new_friend: %v", f)
	}
	if v.friend("newbie").ID != rep.ID {
		t.Error("the new friend is not in the roster")
	}
	v.inject(wx.Injection{Event: events.EventLoseFriend, FriendID: rep.ID})
	v.item(events.EventLoseFriend, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), rep.ID) })
	for _, f := range v.ro().Friends {
		if f.ID == rep.ID {
			t.Error("the lost friend is still in the roster")
		}
	}
	v.inject(wx.Injection{Event: events.EventNewGroupMember, GroupID: g.ID, Member: &wx.Member{Name: "新人"}})
	nm := v.item(events.EventNewGroupMember, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), "新人") })
	if ps := nm["params"].([]any); len(ps) != 2 || ps[1].(map[string]any)["id"] != g.ID {
		t.Errorf("new_group_member [member, group]: %v", ps)
	}
	v.inject(wx.Injection{Event: events.EventUserPropertyChange, Property: "signature", Value: "新签名"})
	uc := v.item(events.EventUserPropertyChange, func(map[string]any) bool { return true })
	if ps := uc["params"].([]any); len(ps) != 4 || ps[1] != "signature" || ps[3] != "新签名" {
		t.Errorf("user_property_change: %v", ps)
	}
	v.inject(wx.Injection{Event: events.EventGroupMemberPropertyChange, GroupID: g.ID, MemberID: sender.ID, Property: "display", Value: "群昵称X"})
	mc := v.item(events.EventGroupMemberPropertyChange, func(map[string]any) bool { return true })
	if ps := mc["params"].([]any); len(ps) != 4 || ps[0].(map[string]any)["id"] != sender.ID || ps[3] != "群昵称X" {
		t.Errorf("group_member_property_change: %v", ps)
	}
	if got := v.ro().Member(g.ID, sender.ID); got == nil || got.Display != "群昵称X" {
		t.Errorf("the member's display: %+v", got)
	}
	v.inject(wx.Injection{Event: events.EventLoseGroup, GroupID: g.ID})
	v.item(events.EventLoseGroup, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), g.ID) })
	want(t, "send to a lost group", v.call(wx.RouteSendGroupMessage, events.Params{"id": g.ID, "content": "x"}), 100, "object not found")
}

// A dropped connection logs in again with the cookie: login [0], the same ids, and the routes
// answer again once running.
func TestLoginAfterDrop(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	v.sim.Drop()
	v.item(events.EventLogin, func(m map[string]any) bool {
		ps := m["params"].([]any)
		return len(ps) == 1 && ps[0] == 0.0
	})
	waitFor(t, "running again", func() bool { return v.e.State() == events.StateRunning })
	if v.friend("老王").ID != wang.ID {
		t.Error("a cookie login changed the ids")
	}
	sentID(t, "send after the drop", v.call(wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "回来了"}), wang.ID)
}

// check_event hands out Openwx's items: group_notice (not a QQ type) and friend_request (in
// Openwx's default post_event_list), never login or state_change.
func TestCheckEventItems(t *testing.T) {
	v := start(t, nil)
	g := v.group("PERL学习交流")
	v.inject(wx.Injection{Type: wx.GroupNotice, GroupID: g.ID, Content: "你邀请灰太狼加入了群聊"})
	v.inject(wx.Injection{Event: events.EventFriendRequest, Friend: &wx.Friend{Name: "陌生人"}, Verify: "hi"})
	seen := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for !(seen[wx.GroupNotice] && seen[events.EventFriendRequest]) && time.Now().Before(deadline) {
		r := v.raw(wx.RouteCheckEvent, nil, events.HeaderHold, "2s")
		var items []map[string]any
		if err := json.Unmarshal(r.Data, &items); err != nil {
			t.Fatalf("check_event: %.200s: %v", r.Data, err)
		}
		for _, it := range items {
			name, _ := it["type"].(string)
			if it["post_type"] == events.PostEvent {
				name, _ = it["event"].(string)
			}
			seen[name] = true
		}
	}
	if !seen[wx.GroupNotice] || !seen[events.EventFriendRequest] {
		t.Errorf("check_event handed out %v, want group_notice and friend_request", seen)
	}
	for _, n := range []string{events.EventLogin, events.EventStateChange, events.EventInputQRCode} {
		if seen[n] {
			t.Errorf("check_event handed out %s", n)
		}
	}
}

// A login reports the roster it loaded, as Mojo-Weixin did: update_user [user], update_friend
// [friend, ...] and update_group [group with its members, ...], stored before login.
func TestUpdateEventsAtLogin(t *testing.T) {
	v := start(t, nil)
	ro := v.ro()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subj := v.e.Subjects()
	names := []string{wx.EventUpdateUser, wx.EventUpdateFriend, wx.EventUpdateGroup, events.EventLogin}
	var filter []string
	for _, n := range names {
		filter = append(filter, subj.Event(n))
	}
	cons, err := v.js.OrderedConsumer(ctx, subj.Stream(), jetstream.OrderedConsumerConfig{FilterSubjects: filter})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		var ev struct {
			Event  string            `json:"event"`
			Params []json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event != name {
			t.Fatalf("got %s, want %s next (update_* before login)", ev.Event, name)
		}
		switch name {
		case wx.EventUpdateUser:
			var u wx.User
			if len(ev.Params) != 1 || json.Unmarshal(ev.Params[0], &u) != nil || u.ID != ro.User.ID {
				t.Errorf("update_user %s, want [the user %s]", m.Data(), ro.User.ID)
			}
		case wx.EventUpdateFriend:
			if len(ev.Params) != len(ro.Friends) {
				t.Errorf("update_friend has %d friends, want %d", len(ev.Params), len(ro.Friends))
			}
		case wx.EventUpdateGroup:
			var g wx.Group
			if len(ev.Params) != len(ro.Groups) || json.Unmarshal(ev.Params[0], &g) != nil || len(g.Member) == 0 {
				t.Errorf("update_group %.300s, want %d groups with their members", m.Data(), len(ro.Groups))
			}
		}
	}
}
