package wx

import (
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

// Every route of wx.Routes but check_event has a handler, and no other route is served.
func TestEveryRouteHasAHandler(t *testing.T) {
	h := (&Platform{}).handlerNames()
	for _, r := range wx.Routes {
		if r == wx.RouteCheckEvent {
			if h[r] {
				t.Error("check_event is the engine's")
			}
			continue
		}
		if !h[r] {
			t.Errorf("no handler for %s", r)
		}
	}
	for r := range h {
		if !wx.IsRoute(r) {
			t.Errorf("handler for %s, which is not an Openwx route", r)
		}
	}
}

func TestInfoRoutes(t *testing.T) {
	v := start(t, nil)
	ro := v.ro()

	u := v.call(wx.RouteGetUserInfo, nil)
	if u["id"] != ro.User.ID || u["displayname"] != sim.UserName || u["name"] != sim.UserName {
		t.Errorf("get_user_info: %v", u)
	}
	friends := v.list(wx.RouteGetFriendInfo, nil)
	if len(friends) != len(ro.Friends) {
		t.Fatalf("get_friend_info: %d friends, want %d", len(friends), len(ro.Friends))
	}
	var xiaoice map[string]any
	for _, f := range friends {
		if f["account"] == sim.XiaoiceAccount {
			xiaoice = f
		}
	}
	if xiaoice == nil || xiaoice["category"] != wx.CategoryOfficial || xiaoice["displayname"] != "小冰" {
		t.Errorf("get_friend_info: 小冰 is %v", xiaoice)
	}
	groups := v.list(wx.RouteGetGroupInfo, nil)
	if len(groups) != len(ro.Groups) {
		t.Fatalf("get_group_info: %d groups, want %d", len(groups), len(ro.Groups))
	}
	for _, g := range groups {
		if ms, ok := g["member"].([]any); !ok || len(ms) == 0 {
			t.Errorf("get_group_info: group %v without members", g["displayname"])
		}
	}
	// The unnamed group is named after its first members, as Mojo.
	if groups[2]["name"] != "" || !has(groups[2]["displayname"].(string), "、") {
		t.Errorf("unnamed group: %v", groups[2]["displayname"])
	}
	for _, g := range v.list(wx.RouteGetGroupBasicInfo, nil) {
		if _, ok := g["member"]; ok || g["id"] == "" {
			t.Errorf("get_group_basic_info: %v", g)
		}
	}

	// The replies are versioned by the engine: the holder of the current version gets no body.
	first := v.raw(wx.RouteGetFriendInfo, nil)
	etag := first.Header.Get(events.HeaderETag)
	again := v.raw(wx.RouteGetFriendInfo, nil, events.HeaderIfNoneMatch, etag)
	if etag == "" || again.Header.Get(events.HeaderNotModified) == "" || len(again.Data) != 0 {
		t.Errorf("cached get_friend_info: etag %q, then headers %v and %d bytes", etag, again.Header, len(again.Data))
	}
	// A roster change makes a new version.
	v.inject(wx.Injection{Event: events.EventNewFriend, Friend: &wx.Friend{Name: "新朋友"}})
	after := v.raw(wx.RouteGetFriendInfo, nil, events.HeaderIfNoneMatch, etag)
	if after.Header.Get(events.HeaderNotModified) != "" || !has(string(after.Data), "新朋友") {
		t.Errorf("after new_friend: headers %v, body %.100s", after.Header, after.Data)
	}
}

func TestSearch(t *testing.T) {
	v := start(t, nil)
	r := v.list(wx.RouteSearchFriend, events.Params{"account": sim.XiaoiceAccount})
	if len(r) != 1 || r[0]["name"] != "小冰" {
		t.Errorf("search_friend account: %v", r)
	}
	// Every param must match (AND); client and the transport's params are not filters.
	r = v.list(wx.RouteSearchFriend, events.Params{"province": "北京", "city": "海淀", "client": "x", "callback": "f"})
	if len(r) == 0 {
		t.Error("search_friend province+city: nothing")
	}
	for _, f := range r {
		if f["province"] != "北京" || f["city"] != "海淀" {
			t.Errorf("search_friend province+city: %v", f)
		}
	}
	want(t, "search_friend by nothing", v.call(wx.RouteSearchFriend, events.Params{"client": "x", "_": "1"}), 100, "object not found")
	want(t, "search_group by nothing", v.call(wx.RouteSearchGroup, events.Params{}), 100, "object not found")
	want(t, "search_friend nobody", v.call(wx.RouteSearchFriend, events.Params{"name": "没有这个人"}), 100, "object not found")
	want(t, "search_friend two attributes that no friend has together",
		v.call(wx.RouteSearchFriend, events.Params{"account": sim.XiaoiceAccount, "name": "微信支付"}), 100, "object not found")

	g := v.list(wx.RouteSearchGroup, events.Params{"displayname": sim.OwnGroupName})
	if len(g) != 1 || g[0]["name"] != sim.OwnGroupName {
		t.Fatalf("search_group displayname: %v", g)
	}
	if ms, ok := g[0]["member"].([]any); !ok || len(ms) == 0 {
		t.Errorf("search_group: no members in %v", g[0])
	}
	want(t, "search_group unknown id", v.call(wx.RouteSearchGroup, events.Params{"id": "@@nope"}), 100, "object not found")
}

func TestClientRoutes(t *testing.T) {
	v := start(t, nil)
	ci := v.call(wx.RouteGetClientInfo, nil)
	if code(t, ci) != 0 || ci["http_debug"] != "0" || ci["account"] != "default" || ci["status"] != "success" ||
		ci["state"] != string(events.StateRunning) {
		t.Errorf("get_client_info: %v", ci)
	}
	if v, ok := ci["log_encoding"]; !ok || v != nil {
		t.Errorf("get_client_info: log_encoding %v, want null", v)
	}
	for _, k := range []string{"pid", "starttime", "runtime", "os", "version", "log_level", "log_path"} {
		if _, ok := ci[k]; !ok {
			t.Errorf("get_client_info lacks %s: %v", k, ci)
		}
	}
	st := v.call(wx.RouteStopClient, nil)
	if code(t, st) != 0 || !has(st["status"].(string), "will stop in") {
		t.Errorf("stop_client: %v", st)
	}
	waitFor(t, "stopped", func() bool { return v.e.State() == events.StateStop })
}
