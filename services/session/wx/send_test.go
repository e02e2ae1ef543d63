package wx

import (
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

// sentID checks a send reply: code 0, status success, and the same "<MsgID>:<peer>" under id
// and msg_id; it returns the id.
func sentID(t *testing.T, what string, r map[string]any, peer string) string {
	t.Helper()
	id, _ := r["id"].(string)
	if code(t, r) != 0 || r["status"] != wx.SendOK || r["msg_id"] != id || !strings.HasSuffix(id, ":"+peer) {
		t.Fatalf("%s: %v, want code 0, success, id = msg_id = <MsgID>:%s", what, r, peer)
	}
	return id
}

func TestSendFriendMessage(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	for _, sel := range []events.Params{
		{"id": wang.ID},
		{"markname": "老王"},
		{"displayname": "老王"}, // display is empty: the markname is the displayname
		{"id": wang.ID, "markname": "老王"},
	} {
		content := "你好 " + strings.Join(keys(sel), "+")
		p := events.Params{"content": content}
		for k, x := range sel {
			p[k] = x
		}
		id := sentID(t, "send by "+content, v.call(wx.RouteSendFriendMessage, p), wang.ID)
		got := v.sentTo(wang.ID)
		if len(got) == 0 || got[len(got)-1].Content != content {
			t.Fatalf("send by %v: WeChat got %+v", sel, got)
		}
		// The report: send_message from the API, named from the roster.
		rep := v.item(wx.FriendMessage, func(m map[string]any) bool { return m["id"] == id })
		if rep["post_type"] != events.PostSendMessage || rep["class"] != "send" || rep["from"] != "api" ||
			rep["format"] != wx.FormatText || rep["content"] != content || rep["receiver"] != "老王" ||
			rep["receiver_id"] != wang.ID || rep["sender"] != sim.UserName || rep["code"] != 0.0 {
			t.Errorf("send_message report: %v", rep)
		}
	}
	// By account.
	xiaoice := v.friend(sim.XiaoiceAccount)
	sentID(t, "send by account", v.call(wx.RouteSendFriendMessage, events.Params{"account": sim.XiaoiceAccount, "content": "hi"}), xiaoice.ID)

	// A post_api answer is reported with from "reply", so the reporter does not answer it again.
	id := sentID(t, "reply", v.call(wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "自动回复"},
		events.HeaderFrom, events.FromReply), wang.ID)
	if rep := v.item(wx.FriendMessage, func(m map[string]any) bool { return m["id"] == id }); rep["from"] != events.FromReply {
		t.Errorf("a post_api answer's report: from %v", rep["from"])
	}
}

func TestSendGroupMessage(t *testing.T) {
	v := start(t, nil)
	g := v.group("PERL学习交流")
	for _, sel := range []events.Params{{"id": g.ID}, {"displayname": "PERL学习交流"}} {
		p := events.Params{"content": "大家好"}
		for k, x := range sel {
			p[k] = x
		}
		id := sentID(t, "send_group_message", v.call(wx.RouteSendGroupMessage, p), g.ID)
		rep := v.item(wx.GroupMessage, func(m map[string]any) bool { return m["id"] == id })
		if rep["group"] != "PERL学习交流" || rep["group_id"] != g.ID || rep["post_type"] != events.PostSendMessage {
			t.Errorf("group send_message report: %v", rep)
		}
		if _, ok := rep["receiver"]; ok {
			t.Errorf("a sent group message names no receiver, as Mojo: %v", rep)
		}
	}
	// A group is not found by a friend's selectors.
	r := v.call(wx.RouteSendGroupMessage, events.Params{"markname": "老王", "content": "x"})
	want(t, "group by markname", r, 100, "object not found")
}

func TestSendRefusals(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	cases := []struct {
		name  string
		route string
		p     events.Params
		code  int
		text  string
	}{
		{"unknown friend id", wx.RouteSendFriendMessage, events.Params{"id": "@nobody", "content": "x"}, 100, "object not found"},
		{"no selector", wx.RouteSendFriendMessage, events.Params{"content": "x"}, 100, "object not found"},
		{"selectors that disagree", wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "account": sim.XiaoiceAccount, "content": "x"}, 100, "object not found"},
		{"unknown group", wx.RouteSendGroupMessage, events.Params{"id": "@@nope", "content": "x"}, 100, "object not found"},
		{"neither content nor media", wx.RouteSendFriendMessage, events.Params{"id": wang.ID}, events.CodeContentEmpty, "content and media empty"},
		{"empty content, blank media", wx.RouteSendGroupMessage, events.Params{"displayname": "PERL学习交流", "content": "", "media_path": " "}, events.CodeContentEmpty, "content and media empty"},
		{"@all without anything", wx.RouteSendFriendMessage, events.Params{"id": wx.AllFriends}, events.CodeContentEmpty, "content and media empty"},
		{"unknown media_id", wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "media_id": "nope:3"}, 100, ""},
		{"media_data not base64", wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "media_data": "!!!"}, events.CodeBadRequest, ""},
		{"media_path outside MEDIA_DIR", wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "media_path": "/etc/passwd"}, events.CodeBadRequest, ""},
		{"media_path of another scheme", wx.RouteSendGroupMessage, events.Params{"displayname": "PERL学习交流", "media_path": "ftp://example.com/a.jpg"}, events.CodeBadRequest, ""},
		{"media_path missing", wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "media_path": "nope.jpg"}, events.CodeBadRequest, ""},
		{"media over the limit", wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "media_data": b64(make([]byte, mediaMax+1))}, events.CodeTooLarge, ""},
	}
	before := len(v.sim.Sent())
	for _, c := range cases {
		r := v.call(c.route, c.p)
		want(t, c.name, r, c.code, c.text)
		if c.code == 100 && c.text != "" && (r["id"] != nil || r["msg_id"] != nil) {
			t.Errorf("%s: id %v msg_id %v, want null", c.name, r["id"], r["msg_id"])
		}
	}
	if n := len(v.sim.Sent()); n != before {
		t.Errorf("refused sends reached WeChat: %d messages", n-before)
	}
	if n := storedMedia(t, v); n != 0 {
		t.Errorf("refused sends stored %d media", n)
	}
}

// A send WeChat refuses answers its Ret code and ErrMsg, with the local id, and is reported.
func TestSendFailure(t *testing.T) {
	v := start(t, nil)
	// A friend the session knows but WeChat does not (removed meanwhile on the server).
	v.e.Lock()
	v.p.ro.AddFriend(wx.Friend{ID: "@ghost", Name: "幽灵", Category: wx.CategoryFriend})
	v.e.Unlock()
	r := v.call(wx.RouteSendFriendMessage, events.Params{"id": "@ghost", "content": "在吗"})
	if code(t, r) != wxdriver.RetNoSuchUser || !has(r["status"].(string), "no such contact") || r["id"] == nil || r["id"] != r["msg_id"] {
		t.Fatalf("send refused by WeChat: %v, want code %d, its ErrMsg and the local id", r, wxdriver.RetNoSuchUser)
	}
	rep := v.item(wx.FriendMessage, func(m map[string]any) bool { return m["id"] == r["id"] })
	if rep["code"] != float64(wxdriver.RetNoSuchUser) || rep["status"] != r["status"] {
		t.Errorf("failed send's report: %v", rep)
	}
}

func TestSendAsync(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	r := v.call(wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "异步", "async": "1"})
	if len(r) != 2 || code(t, r) != 0 || r["status"] != "request already in execution" {
		t.Fatalf("async: %v", r)
	}
	rep := v.item(wx.FriendMessage, func(m map[string]any) bool { return m["content"] == "异步" })
	if rep["code"] != 0.0 || rep["from"] != "api" || !strings.HasSuffix(rep["id"].(string), ":"+wang.ID) {
		t.Errorf("async send's report: %v", rep)
	}
	g := v.group(sim.OwnGroupName)
	r = v.call(wx.RouteSendGroupMessage, events.Params{"id": g.ID, "content": "群异步", "async": "1"})
	want(t, "async group", r, 0, "request already in execution")
	v.item(wx.GroupMessage, func(m map[string]any) bool { return m["content"] == "群异步" })
	// async=0 waits.
	sentID(t, "async=0", v.call(wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "同步", "async": "0"}), wang.ID)
}

func TestSendToAllFriends(t *testing.T) {
	v := start(t, nil)
	r := v.call(wx.RouteSendFriendMessage, events.Params{"id": wx.AllFriends, "content": "群发"})
	if code(t, r) != 0 || r["id"] != 0.0 || r["status"] != "request already executed" {
		t.Fatalf("@all: %v", r)
	}
	friends := v.ro().Friends
	waitFor(t, "every friend got it", func() bool {
		n := 0
		for _, d := range v.sim.Sent() {
			if d.Content == "群发" {
				n++
			}
		}
		return n == len(friends)
	})
	for _, f := range friends {
		if got := v.sentTo(f.ID); len(got) != 1 || got[0].Content != "群发" {
			t.Errorf("friend %s got %+v", f.DisplayName(), got)
		}
	}
}

func keys(p events.Params) []string {
	var ks []string
	for k := range p {
		ks = append(ks, k)
	}
	return ks
}
