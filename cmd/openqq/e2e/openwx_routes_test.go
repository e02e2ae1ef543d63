package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// Every /openwx route through HTTP, as a bot calls it: GET, POST form and POST JSON, with the
// replies and codes of MOJO-OPENWX.md §2.2 as openwx answers them. Where openwx deliberately
// answers otherwise than Mojo-Weixin's code, the test pins openwx's answer and says so.

// wcall calls an Openwx route with kv carried as v says and decodes the JSON object it answers.
func (w *wxEnv) wcall(v via, route string, kv ...string) (int, map[string]any) {
	w.t.Helper()
	code, body := w.call(v, route, kv...)
	return code, object(w.t, body)
}

// wantReply fails unless the reply is exactly want (JSON, key order aside).
func wantReply(t *testing.T, what string, code int, got map[string]any, wantCode int, want string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: HTTP %d, want %d (%v)", what, code, wantCode, got)
	}
	sameJSON(t, events.MustMarshal(got), want)
}

// sent checks a send reply: HTTP 200, code 0, status success, and the same "<MsgID>:<peer>"
// under id (Mojo-Weixin's code) and msg_id (the seed's document): openwx answers both, where
// Mojo answered id only. It returns the id.
func sent(t *testing.T, what string, code int, r map[string]any, peer string) string {
	t.Helper()
	id, _ := r["id"].(string)
	if code != 200 || r["code"] != num(0) || r["status"] != "success" || r["msg_id"] != id || !strings.HasSuffix(id, ":"+peer) {
		t.Fatalf("%s: HTTP %d %v, want code 0, status success, id = msg_id = <MsgID>:%s", what, code, r, peer)
	}
	return id
}

// refused checks a refusal: a JSON object with a non-zero code (and the status's start), and
// nothing stored, in the stream or the media bucket, since before.
func (w *wxEnv) refused(what string, code int, r map[string]any, wantCode int64, status string, before storeCounts) {
	w.t.Helper()
	if got := intOf(w.t, r, "code"); got == 0 || got != wantCode {
		w.t.Errorf("%s: code %d, want %d: %v", what, got, wantCode, r)
	}
	if s, _ := r["status"].(string); !strings.HasPrefix(s, status) {
		w.t.Errorf("%s: status %q, want it to start %q", what, s, status)
	}
	if code != 200 && code != 400 && code != 413 {
		w.t.Errorf("%s: HTTP %d", what, code)
	}
	if after := w.counts(); after != before {
		w.t.Errorf("%s stored something: stream and media %+v, before %+v", what, after, before)
	}
}

// nonFriendMember is a member of the group that is not a friend of the account nor the account.
func (w *wxEnv) nonFriendMember(g map[string]any) map[string]any {
	w.t.Helper()
	r := w.roster()
	for _, m := range members(w.t, g) {
		if find(r.friends, "id", str(w.t, m, "id")) == nil && m["id"] != r.user["id"] {
			return m
		}
	}
	w.t.Fatalf("group %v has no member who is not a friend", g["displayname"])
	return nil
}

// The four get_*_info routes: GET only (Mojo's `get`): a POST is the catch-all's text 403.
func TestOpenwxInfoRoutes(t *testing.T) {
	w := startWX(t)
	for _, route := range []string{wx.RouteGetUserInfo, wx.RouteGetFriendInfo, wx.RouteGetGroupInfo, wx.RouteGetGroupBasicInfo} {
		resp, body := w.raw(w.newRequest(http.MethodPost, route, nil, strings.NewReader("a=1")))
		if resp.StatusCode != 403 || string(body) != "api not found" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("POST %s: %d %q %q, want 403 text api not found", route, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	r := w.roster()
	hasKeys(t, "user", r.user, "id", "uid", "name", "account", "province", "city", "signature", "sex", "display", "markname", "displayname")
	if !strings.HasPrefix(str(t, r.user, "id"), "@") || r.user["name"] != wxsim.UserName {
		t.Errorf("user: %v", r.user)
	}
	for _, f := range r.friends {
		hasKeys(t, "friend", f, "id", "uid", "name", "account", "province", "city", "signature", "sex", "display", "markname", "category", "displayname")
	}
	if f := find(r.friends, "id", wx.FileHelperID); f == nil || f["category"] != "系统帐号" {
		t.Errorf("the file assistant: %v", f)
	}
	if f := find(r.friends, "account", wxsim.XiaoiceAccount); f == nil || f["category"] != "公众号" || !strings.HasPrefix(str(t, f, "id"), "@") {
		t.Errorf("小冰: %v", f)
	}
	if f := find(r.friends, "markname", "老王"); f == nil || f["displayname"] != "老王" || f["category"] != "好友" {
		t.Errorf("老王: %v", f)
	}
	perl := find(r.groups, "name", "PERL学习交流")
	if perl == nil || !strings.HasPrefix(str(t, perl, "id"), "@@") || len(members(t, perl)) == 0 {
		t.Fatalf("PERL学习交流: %v", perl)
	}
	hasKeys(t, "member", members(t, perl)[0], "id", "uid", "account", "province", "city", "signature", "sex", "display", "markname", "name", "displayname")
	// A group without a name is named by its first members.
	if g := find(r.groups, "name", ""); g == nil || !strings.Contains(str(t, g, "displayname"), "、") {
		t.Errorf("the unnamed group: %v", g)
	}
	code, body := w.get(wx.RouteGetGroupBasicInfo, nil)
	basic := array(t, body)
	if code != 200 || len(basic) != len(r.groups) {
		t.Fatalf("get_group_basic_info: %d %s", code, body)
	}
	for _, g := range basic {
		lacksKeys(t, "basic group", g, "member")
		hasKeys(t, "basic group", g, "id", "uid", "owner_uid", "name", "displayname")
	}
}

func TestOpenwxSearch(t *testing.T) {
	w := startWX(t)
	for _, v := range vias {
		t.Run(string(v), func(t *testing.T) {
			w := w.with(t)
			code, body := w.call(v, wx.RouteSearchFriend, "account", wxsim.XiaoiceAccount)
			if got := array(t, body); code != 200 || len(got) != 1 || got[0]["name"] != "小冰" {
				t.Errorf("search_friend account: %d %s", code, body)
			}
			// Exact-string AND match over every attribute given.
			code, body = w.call(v, wx.RouteSearchFriend, "category", "公众号", "city", "海淀")
			if got := array(t, body); code != 200 || len(got) != 1 || got[0]["account"] != wxsim.XiaoiceAccount {
				t.Errorf("search_friend category+city: %d %s", code, body)
			}
			code, r := w.wcall(v, wx.RouteSearchFriend, "name", "nobody")
			wantReply(t, "search_friend none", code, r, 200, `{"code":100,"status":"object not found"}`)
			code, body = w.call(v, wx.RouteSearchGroup, "displayname", "PERL学习交流")
			if got := array(t, body); code != 200 || len(got) != 1 || len(members(t, got[0])) == 0 {
				t.Errorf("search_group: %d %.300s", code, body)
			}
			code, r = w.wcall(v, wx.RouteSearchGroup, "name", "没有这个群")
			wantReply(t, "search_group none", code, r, 200, `{"code":100,"status":"object not found"}`)
		})
	}
}

func TestOpenwxSendFriendMessage(t *testing.T) {
	w := startWX(t)
	wang := w.friendBy("markname", "老王")
	wangID := str(t, wang, "id")
	xiaoice := w.friendBy("account", wxsim.XiaoiceAccount)
	it := w.subscribeWX()
	for _, v := range vias {
		for _, sel := range [][]string{
			{"id", wangID}, {"markname", "老王"}, {"displayname", "老王"}, {"id", wangID, "markname", "老王"},
			{"account", wxsim.XiaoiceAccount},
		} {
			content := "你好 " + string(v) + " " + strings.Join(sel, "=")
			code, r := w.wcall(v, wx.RouteSendFriendMessage, append(sel, "content", content)...)
			peer := wangID
			if sel[0] == "account" {
				peer = str(t, xiaoice, "id")
			}
			id := sent(t, content, code, r, peer)
			rep := awaitContent(t, it, wx.FriendMessage, content)
			fields(t, "send_message report", rep, map[string]any{
				"id": id, "post_type": "send_message", "class": "send", "format": "text", "type": "friend_message",
				"receiver_id": peer, "sender": wxsim.UserName,
			})
		}
	}
	for _, v := range vias {
		before := w.counts()
		code, r := w.wcall(v, wx.RouteSendFriendMessage, "id", "@nobody", "content", "x")
		// Mojo: {"id":null,"code":100,"status":"object not found"}; openwx adds msg_id.
		wantReply(t, "unknown id", code, r, 200, `{"id":null,"msg_id":null,"code":100,"status":"object not found"}`)
		w.refused("unknown id", code, r, 100, "object not found", before)
		// Mojo never answered a send with neither content nor media (the call hung): openwx
		// refuses it at once.
		code, r = w.wcall(v, wx.RouteSendFriendMessage, "id", wangID)
		w.refused("no content", code, r, events.CodeContentEmpty, "content and media empty", before)
		code, r = w.wcall(v, wx.RouteSendFriendMessage, "id", wangID, "content", "")
		w.refused("empty content", code, r, events.CodeContentEmpty, "content and media empty", before)
	}
	// async=1: answered at once, sent in the background.
	code, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "id", wangID, "content", "异步", "async", "1")
	wantReply(t, "async", code, r, 200, `{"code":0,"status":"request already in execution"}`)
	awaitContent(t, it, wx.FriendMessage, "异步")
	// id=@all: every friend, in the background; Mojo's id 0 (and openwx's msg_id 0).
	code, r = w.wcall(viaGET, wx.RouteSendFriendMessage, "id", wx.AllFriends, "content", "群发")
	wantReply(t, "@all", code, r, 200, `{"id":0,"msg_id":0,"code":0,"status":"request already executed"}`)
	friends := w.roster().friends
	seen := map[any]bool{}
	for len(seen) < len(friends) {
		rep := awaitContent(t, it, wx.FriendMessage, "群发")
		seen[rep["receiver_id"]] = true
	}
	for _, f := range friends {
		if !seen[f["id"]] {
			t.Errorf("@all: %v got nothing", f["displayname"])
		}
	}
}

func TestOpenwxSendGroupMessage(t *testing.T) {
	w := startWX(t)
	perl := w.groupBy("name", "PERL学习交流")
	gid := str(t, perl, "id")
	it := w.subscribeWX()
	for _, v := range vias {
		for _, sel := range [][]string{{"id", gid}, {"displayname", "PERL学习交流"}} {
			content := "大家好 " + string(v) + " " + sel[0]
			code, r := w.wcall(v, wx.RouteSendGroupMessage, append(sel, "content", content)...)
			id := sent(t, content, code, r, gid)
			rep := awaitContent(t, it, wx.GroupMessage, content)
			fields(t, "group send_message", rep, map[string]any{"id": id, "group_id": gid, "group": "PERL学习交流", "class": "send"})
			lacksKeys(t, "group send_message", rep, "receiver")
		}
		before := w.counts()
		code, r := w.wcall(v, wx.RouteSendGroupMessage, "id", "@@nogroup", "content", "x")
		w.refused("unknown group", code, r, 100, "object not found", before)
		// A friend is no group.
		code, r = w.wcall(v, wx.RouteSendGroupMessage, "markname", "老王", "content", "x")
		w.refused("a friend's selector", code, r, 100, "object not found", before)
		code, r = w.wcall(v, wx.RouteSendGroupMessage, "id", gid)
		w.refused("no content", code, r, events.CodeContentEmpty, "content and media empty", before)
	}
}

func TestOpenwxRevokeMessage(t *testing.T) {
	w := startWX(t)
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	for _, v := range vias {
		_, r := w.wcall(v, wx.RouteSendFriendMessage, "id", wangID, "content", "说错了")
		id := sent(t, "send", 200, r, wangID)
		code, r := w.wcall(v, wx.RouteRevokeMessage, "id", id)
		wantReply(t, "revoke", code, r, 200, `{"id":"`+id+`","code":0,"status":"revoke success"}`)
		// Mojo answered a failed revoke with code 0; openwx with 201.
		code, r = w.wcall(v, wx.RouteRevokeMessage, "id", id)
		wantReply(t, "revoke again", code, r, 200, `{"id":"`+id+`","code":201,"status":"revoke failure"}`)
		code, r = w.wcall(v, wx.RouteRevokeMessage, "id", "12345:@nobody")
		wantReply(t, "revoke unknown", code, r, 200, `{"id":"12345:@nobody","code":201,"status":"revoke failure"}`)
		code, r = w.wcall(v, wx.RouteRevokeMessage, "id", "not-an-id")
		wantReply(t, "revoke malformed", code, r, 200, `{"id":"not-an-id","code":201,"status":"revoke failure"}`)
		code, r = w.wcall(v, wx.RouteRevokeMessage)
		wantReply(t, "revoke without id", code, r, 200, `{"id":null,"code":-1,"status":"msg id not found"}`)
	}
	if d := w.sim.Sent(); len(d) == 0 || !slices.ContainsFunc(d, func(x wxsim.Delivery) bool { return x.Revoked }) {
		t.Error("WeChat saw no revoke")
	}
}

func TestOpenwxGroupAdmin(t *testing.T) {
	w := startWX(t)
	r0 := w.roster()
	own := find(r0.groups, "name", wxsim.OwnGroupName)
	if own == nil {
		t.Fatal("no group of the account's own")
	}
	ownID := str(t, own, "id")
	// Friends who are not in the group: the ones to invite.
	var outside []string
	for _, f := range r0.friends {
		if f["category"] == "好友" && byStr(members(t, own), "id", str(t, f, "id")) == nil {
			outside = append(outside, str(t, f, "id"))
		}
	}
	if len(outside) < 4 {
		t.Fatalf("too few friends outside %s", wxsim.OwnGroupName)
	}
	it := w.subscribeWX()

	// create_group: friends= (HEAD) and friend= (the seed).
	for i, key := range []string{"friends", "friend"} {
		code, r := w.wcall(vias[i], wx.RouteCreateGroup, key, outside[0]+","+outside[1], "displayname", "新群"+key)
		if code != 200 || r["code"] != num(0) || r["status"] != "success" || !strings.HasPrefix(str(t, r, "group_id"), "@@") {
			t.Errorf("create_group %s: %d %v", key, code, r)
		}
		await(t, it, events.EventNewGroup, nil)
	}
	before := w.counts()
	code, r := w.wcall(viaJSON, wx.RouteCreateGroup, "friends", "")
	wantReply(t, "create_group empty", code, r, 200, `{"code":200,"status":"friend id empty"}`)
	code, r = w.wcall(viaGET, wx.RouteCreateGroup, "friends", outside[0]+",@nobody")
	wantReply(t, "create_group unknown", code, r, 200, `{"code":100,"status":"friend id @nobody not found"}`)
	w.refused("create_group unknown", code, r, 100, "friend id", before)

	// invite_friend and kick_group_member, both spellings, by id and displayname.
	code, r = w.wcall(viaForm, wx.RouteInviteFriend, "id", ownID, "friends", outside[2])
	wantReply(t, "invite friends=", code, r, 200, `{"code":0,"status":"success"}`)
	code, r = w.wcall(viaJSON, wx.RouteInviteFriend, "displayname", wxsim.OwnGroupName, "friend", outside[3])
	wantReply(t, "invite friend=", code, r, 200, `{"code":0,"status":"success"}`)
	for range 2 {
		await(t, it, events.EventNewGroupMember, nil)
	}
	before = w.counts()
	code, r = w.wcall(viaGET, wx.RouteInviteFriend, "id", "@@nogroup", "friends", outside[2])
	wantReply(t, "invite unknown group", code, r, 200, `{"code":100,"status":"object not found"}`)
	code, r = w.wcall(viaGET, wx.RouteInviteFriend, "id", ownID)
	wantReply(t, "invite nobody", code, r, 200, `{"code":200,"status":"friend id empty"}`)
	code, r = w.wcall(viaGET, wx.RouteKickGroupMember, "id", ownID, "members", "@nobody")
	wantReply(t, "kick unknown", code, r, 200, `{"code":100,"status":"member id @nobody not found"}`)
	code, r = w.wcall(viaGET, wx.RouteKickGroupMember, "id", ownID, "members", "")
	wantReply(t, "kick nobody", code, r, 200, `{"code":200,"status":"member id empty"}`)
	w.refused("kick nobody", code, r, 200, "member id empty", before)
	code, r = w.wcall(viaForm, wx.RouteKickGroupMember, "id", ownID, "members", outside[2])
	wantReply(t, "kick members=", code, r, 200, `{"code":0,"status":"success"}`)
	code, r = w.wcall(viaJSON, wx.RouteKickGroupMember, "displayname", wxsim.OwnGroupName, "member", outside[3])
	wantReply(t, "kick member=", code, r, 200, `{"code":0,"status":"success"}`)
	for range 2 {
		await(t, it, events.EventLoseGroupMember, nil)
	}

	// set_group_displayname.
	code, r = w.wcall(viaForm, wx.RouteSetGroupDisplayname, "id", ownID, "new_displayname", "改名了")
	wantReply(t, "set_group_displayname", code, r, 200, `{"code":0,"status":"success"}`)
	await(t, it, events.EventGroupPropertyChange, nil)
	if g := w.groupBy("id", ownID); g["displayname"] != "改名了" {
		t.Errorf("renamed group: %v", g["displayname"])
	}
	before = w.counts()
	code, r = w.wcall(viaGET, wx.RouteSetGroupDisplayname, "id", "@@nogroup", "new_displayname", "x")
	wantReply(t, "rename unknown", code, r, 200, `{"code":100,"status":"object not found"}`)
	code, r = w.wcall(viaGET, wx.RouteSetGroupDisplayname, "id", ownID)
	w.refused("rename without a name", code, r, events.CodeBadRequest, "bad request", before)
}

// byStr finds the object whose key is the string value.
func byStr(list []map[string]any, key, value string) map[string]any { return find(list, key, value) }

func TestOpenwxFriendAdmin(t *testing.T) {
	w := startWX(t)
	r0 := w.roster()
	wangID := str(t, find(r0.friends, "markname", "老王"), "id")
	perl := find(r0.groups, "name", "PERL学习交流")
	perlID := str(t, perl, "id")
	stranger := w.nonFriendMember(perl)
	strangerID := str(t, stranger, "id")
	it := w.subscribeWX()

	// stick, and the seed's sticky_group: a friend or a group, op 1 or 0.
	for _, c := range []struct {
		route, id, op string
	}{{wx.RouteStick, wangID, "1"}, {wx.RouteStick, wangID, "0"}, {wx.RouteStickyGroup, perlID, "1"}, {wx.RouteStick, perlID, ""}} {
		kv := []string{"id", c.id}
		if c.op != "" {
			kv = append(kv, "op", c.op)
		}
		code, r := w.wcall(viaForm, c.route, kv...)
		wantReply(t, c.route+" "+c.op, code, r, 200, `{"code":0,"status":"success"}`)
	}
	before := w.counts()
	code, r := w.wcall(viaGET, wx.RouteStick, "id", "@nobody")
	wantReply(t, "stick unknown", code, r, 200, `{"code":100,"status":"object not found"}`)
	code, r = w.wcall(viaGET, wx.RouteStick, "id", wangID, "op", "2")
	w.refused("stick op 2", code, r, events.CodeBadRequest, "bad request", before)

	// set_markname: a friend, or a member with group_id; set_friend_markname: friends only.
	code, r = w.wcall(viaForm, wx.RouteSetMarkname, "id", wangID, "new_markname", "王哥")
	wantReply(t, "set_markname friend", code, r, 200, `{"code":0,"status":"success"}`)
	await(t, it, events.EventFriendPropertyChange, nil)
	if f := w.friendBy("id", wangID); f["markname"] != "王哥" {
		t.Errorf("markname: %v", f["markname"])
	}
	code, r = w.wcall(viaJSON, wx.RouteSetFriendMarkname, "markname", "王哥", "new_markname", "老王")
	wantReply(t, "set_friend_markname", code, r, 200, `{"code":0,"status":"success"}`)
	code, r = w.wcall(viaGET, wx.RouteSetMarkname, "id", strangerID, "group_id", perlID, "new_markname", "群友")
	wantReply(t, "set_markname member", code, r, 200, `{"code":0,"status":"success"}`)
	before = w.counts()
	code, r = w.wcall(viaGET, wx.RouteSetMarkname, "id", strangerID, "group_id", "@@nogroup", "new_markname", "x")
	wantReply(t, "set_markname unknown group", code, r, 200, `{"code":100,"status":"group not found"}`)
	code, r = w.wcall(viaGET, wx.RouteSetFriendMarkname, "id", strangerID, "group_id", perlID, "new_markname", "x")
	wantReply(t, "set_friend_markname of a member", code, r, 200, `{"code":100,"status":"object not found"}`)
	code, r = w.wcall(viaGET, wx.RouteSetMarkname, "id", "@nobody", "new_markname", "x")
	w.refused("set_markname unknown", code, r, 100, "object not found", before)

	// make_friend: a group member who is not a friend.
	code, r = w.wcall(viaForm, wx.RouteMakeFriend, "id", strangerID, "verify", "我是小灰")
	wantReply(t, "make_friend", code, r, 200, `{"code":0,"status":"success"}`)
	if got := w.sim.FriendRequestsSent(); len(got) != 1 || got[0].ID != strangerID || got[0].Verify != "我是小灰" {
		t.Errorf("WeChat got the requests %+v", got)
	}
	code, r = w.wcall(viaGET, wx.RouteMakeFriend, "id", str(t, r0.user, "id"))
	wantReply(t, "make_friend yourself", code, r, 200, `{"code":101,"status":"can not be yourself"}`)
	code, r = w.wcall(viaGET, wx.RouteMakeFriend, "id", wangID)
	wantReply(t, "make_friend a friend", code, r, 200, `{"code":101,"status":"already a friend"}`)
	code, r = w.wcall(viaGET, wx.RouteMakeFriend, "id", "@nobody")
	wantReply(t, "make_friend unknown", code, r, 200, `{"code":100,"status":"object not found"}`)

	// accept_friend_request: the id, displayname and ticket of the friend_request event.
	in := w.inject(wx.Injection{Event: events.EventFriendRequest, Friend: &wx.Friend{Name: "陌生人"}, Verify: "加个好友"})
	if in.Code != 0 || in.Ticket == "" {
		t.Fatalf("friend request injection: %+v", in)
	}
	ev := await(t, it, events.EventFriendRequest, nil)
	ps := params(t, ev, events.EventFriendRequest, 4)
	reqID, reqTicket := decode[string](t, ps[0]), decode[string](t, ps[3])
	if decode[string](t, ps[1]) != "陌生人" || decode[string](t, ps[2]) != "加个好友" || reqTicket != in.Ticket {
		t.Errorf("friend_request params: %s", ev.Data)
	}
	code, r = w.wcall(viaForm, wx.RouteAcceptFriendRequest, "id", reqID, "displayname", "陌生人", "ticket", reqTicket)
	wantReply(t, "accept", code, r, 200, `{"code":0,"status":"success","id":"`+reqID+`","displayname":"陌生人","ticket":"`+reqTicket+`"}`)
	await(t, it, events.EventNewFriend, nil)
	if f := w.friendBy("id", reqID); f["name"] != "陌生人" {
		t.Errorf("the new friend: %v", f)
	}
	code, r = w.wcall(viaGET, wx.RouteAcceptFriendRequest, "id", reqID, "displayname", "陌生人", "ticket", reqTicket)
	wantReply(t, "accept again", code, r, 200, `{"code":-1,"status":"failure","id":"`+reqID+`","displayname":"陌生人","ticket":"`+reqTicket+`"}`)
}

// get_avatar answers bytes, with their type and Cache-Control; an unknown id is JSON.
func TestOpenwxGetAvatar(t *testing.T) {
	w := startWX(t)
	r0 := w.roster()
	perl := find(r0.groups, "name", "PERL学习交流")
	member := w.nonFriendMember(perl)
	for _, c := range []struct {
		what string
		kv   []string
	}{
		{"user", []string{"id", str(t, r0.user, "id")}},
		{"friend", []string{"markname", "老王"}},
		{"group", []string{"id", str(t, perl, "id")}},
		{"member", []string{"id", str(t, member, "id"), "group_id", str(t, perl, "id")}},
	} {
		for _, v := range []via{viaGET, viaForm} {
			req := w.newRequest(http.MethodGet, wx.RouteGetAvatar, q(c.kv...), nil)
			if v == viaForm {
				req = w.newRequest(http.MethodPost, wx.RouteGetAvatar, nil, strings.NewReader(q(c.kv...).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			resp, body := w.raw(req)
			if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") ||
				resp.Header.Get("Cache-Control") != "max-age=3600" || len(body) == 0 || body[0] == '{' {
				t.Errorf("get_avatar %s %s: %d %q %q %d bytes", c.what, v, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), len(body))
			}
		}
	}
	code, r := w.wcall(viaGET, wx.RouteGetAvatar, "id", "@nobody")
	wantReply(t, "get_avatar unknown", code, r, 200, `{"id":null,"code":100,"status":"object not found"}`)
}

func TestOpenwxClientInfo(t *testing.T) {
	w := startWX(t)
	for _, v := range vias {
		code, r := w.wcall(v, wx.RouteGetClientInfo)
		if code != 200 {
			t.Fatalf("get_client_info: %d", code)
		}
		hasKeys(t, "get_client_info", r, "code", "pid", "account", "os", "version", "starttime", "runtime", "http_debug", "log_encoding", "log_path", "log_level", "status")
		fields(t, "get_client_info", r, map[string]any{"code": 0, "account": "default", "http_debug": "0", "status": "success", "log_level": "info"})
		if r["log_encoding"] != nil {
			t.Errorf("log_encoding %v, want null", r["log_encoding"])
		}
	}
}

// Openwx's HTTP rules: an unknown route is the text 403 "api not found"; a bad token is
// {"code":-6,"status":"auth failure"} with HTTP 200 (Openqq's is 403); JSONP and CORS.
func TestOpenwxHTTPRules(t *testing.T) {
	const token = "s3cret-wx"
	w := startWX(t, withToken(token))
	for _, path := range []string{"/openwx/no_such_route", "/openwx/send_message", "/openwx/", "/openwx/send_discuss_message"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			req, _ := http.NewRequest(m, w.base+path+"?access_token="+token, nil)
			resp, body := w.raw(req)
			if resp.StatusCode != 403 || string(body) != "api not found" {
				t.Errorf("%s %s: %d %q, want 403 text api not found", m, path, resp.StatusCode, body)
			}
		}
	}
	for _, c := range []struct {
		what  string
		query url.Values
		hdr   string
	}{{"no token", nil, ""}, {"wrong token", q("access_token", "nope"), ""}, {"wrong bearer", nil, "Bearer nope"}} {
		req := w.newRequest(http.MethodGet, wx.RouteGetFriendInfo, c.query, nil)
		if c.hdr != "" {
			req.Header.Set("Authorization", c.hdr)
		}
		resp, body := w.raw(req)
		if resp.StatusCode != 200 {
			t.Errorf("%s: HTTP %d, want 200 (Openwx's auth failure)", c.what, resp.StatusCode)
		}
		sameJSON(t, body, `{"code":-6,"status":"auth failure"}`)
	}
	req := w.newRequest(http.MethodGet, wx.RouteGetUserInfo, nil, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, body := w.raw(req); resp.StatusCode != 200 || object(t, body)["name"] != wxsim.UserName {
		t.Errorf("with the token: %d %s", resp.StatusCode, body)
	}
	// JSONP.
	resp, body := w.raw(w.newRequest(http.MethodGet, wx.RouteSearchFriend, q("access_token", token, "account", wxsim.XiaoiceAccount, "datatype", "jsonp", "callback", "cb"), nil))
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "cb(") || !strings.Contains(string(body), "小冰") {
		t.Errorf("JSONP: %d %s", resp.StatusCode, body)
	}
	// CORS: every answer, and the preflight.
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin %q", got)
	}
	pre := w.newRequest(http.MethodOptions, wx.RouteSendFriendMessage, nil, nil)
	pre.Header.Set("Origin", "http://example.com")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	resp, _ = w.raw(pre)
	if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
}
