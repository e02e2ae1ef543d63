package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty/puppettest"
)

// eventPost waits for post_api's report of event name whose params mention every one of want.
func (p *postAPI) eventPost(t *testing.T, name string, want ...string) []any {
	t.Helper()
	m := p.awaitPost(t, name+" "+strings.Join(want, ", "), func(m map[string]any) bool {
		if m["post_type"] != "event" || m["event"] != name {
			return false
		}
		b, _ := json.Marshal(m["params"])
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				return false
			}
		}
		return true
	})
	params, _ := m["params"].([]any)
	return params
}

// Openwx over the wechaty driver against Wechaty's real puppet service (PuppetServer over
// PuppetMock, its Mocker driven by testdata/puppet/server.mjs's scenario): every mapping the
// driver makes, seen where a bot sees it (post_api, the published items, the routes' answers):
// the QR login's states, the roster, text, a picture and a file received and sent with their
// bytes, a recall both ways, a member who joins and one who leaves, a topic changed, the admin
// routes (create_group, invite_friend, kick_group_member, set_group_displayname, set_markname,
// make_friend, get_avatar; stick refused with 202), a friend request and its acceptance.
func TestOpenwxOverRealPuppet(t *testing.T) {
	p := puppettest.Start(t, "insecure_openqq_e2e")
	ids := p.IDs()
	w := startWX(t, withDriver("wechaty", &wechaty.Config{Endpoint: p.Addr, Token: p.Token, QRCodeDir: t.TempDir(),
		CallTimeout: 10 * time.Second, BackoffMax: 200 * time.Millisecond}), withReporters(1, nil), func(s *wxSetup) { s.noWait = true })
	post := w.post
	wangID, gid, wolfID := "@"+ids["wang"], "@@"+ids["room"], "@"+ids["wolf"]

	// The login through the scan: input_qrcode and the states at post_api.
	p.Started()
	p.Do("scan")
	post.eventPost(t, events.EventInputQRCode)
	post.eventPost(t, events.EventStateChange, string(events.StateScaning))
	p.Do("scanned")
	post.eventPost(t, events.EventStateChange, string(events.StateConfirming))
	p.Do("login")
	post.eventPost(t, events.EventLogin)
	w.waitRunning()

	// The roster.
	ro := w.roster()
	if ro.user["id"] != "@"+ids["user"] || ro.user["name"] != "小明" {
		t.Errorf("get_user_info: %v", ro.user)
	}
	fields(t, "老王 in get_friend_info", w.friendBy("id", wangID), map[string]any{"name": "王大锤", "markname": "老王", "account": "wangdachui", "uid": ids["wang"]})
	g := w.groupBy("id", gid)
	if g["name"] != "openqq 测试群" || len(members(t, g)) != 3 {
		t.Fatalf("the room in get_group_info: %v", g)
	}
	it := w.subscribeWX()

	// Received: a text, a picture, a file, with their bytes.
	p.Do("say 你好 openqq")
	m := post.awaitPost(t, "the text", func(m map[string]any) bool { return m["content"] == "你好 openqq" })
	fields(t, "the text at post_api", m, map[string]any{"post_type": "receive_message", "type": wx.FriendMessage, "sender_id": wangID, "format": "text"})
	pic := testPNG(t, 31, 500)
	p.Do("image cat.png " + base64.StdEncoding.EncodeToString(pic))
	m = post.awaitPost(t, "the picture", func(m map[string]any) bool { return m["media_name"] == "cat.png" })
	fields(t, "the picture at post_api", m, map[string]any{"post_type": "receive_message", "format": "media", "media_type": wx.MediaImage, "sender_id": wangID})
	if !bytes.Equal(mediaData(t, m), pic) {
		t.Error("the picture's media_data is not its bytes")
	}
	doc := []byte("openqq: a file from the puppet\n")
	p.Do("file notes.txt " + base64.StdEncoding.EncodeToString(doc))
	m = post.awaitPost(t, "the file", func(m map[string]any) bool { return m["media_name"] == "notes.txt" })
	fields(t, "the file at post_api", m, map[string]any{"post_type": "receive_message", "format": "media", "media_type": wx.MediaFile, "sender_id": wangID})
	if !bytes.Equal(mediaData(t, m), doc) {
		t.Error("the file's media_data is not its bytes")
	}

	// Sent: a text, a picture to 老王, a file to the room; the puppet has them with their bytes.
	code, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "markname", "老王", "content", "openqq 发来")
	textID := sent(t, "send_friend_message", code, r, wangID)
	p.Prefixed("MSG", func(l string) bool { return strings.Contains(l, `"text":"openqq 发来"`) })
	post.awaitPost(t, "the send", func(m map[string]any) bool {
		return m["post_type"] == "send_message" && m["content"] == "openqq 发来" && m["receiver_id"] == wangID
	})
	out := testPNG(t, 32, 700)
	code, r = w.wcall(viaForm, wx.RouteSendFriendMessage, "id", wangID, "media_data", base64.StdEncoding.EncodeToString(out), "media_name", "out.png")
	sent(t, "send_friend_message with a picture", code, r, wangID)
	p.WaitFile("the picture sent", func(f puppettest.File) bool { return f.Name == "out.png" && bytes.Equal(f.Data, out) })
	outDoc := []byte("openqq: a file to the room\n")
	code, r = w.wcall(viaForm, wx.RouteSendGroupMessage, "id", gid, "media_data", base64.StdEncoding.EncodeToString(outDoc), "media_name", "report.txt")
	sent(t, "send_group_message with a file", code, r, gid)
	p.WaitFile("the file sent", func(f puppettest.File) bool { return f.Name == "report.txt" && bytes.Equal(f.Data, outDoc) })

	// Recalls: the account's own (revoke_message), and 老王's (format revoke).
	code, r = w.wcall(viaForm, wx.RouteRevokeMessage, "id", textID)
	if code != 200 || r["code"] != num(0) {
		t.Errorf("revoke_message: %d %v", code, r)
	}
	msgID, _, _ := strings.Cut(textID, ":")
	p.Prefixed("RECALL", func(id string) bool { return id == msgID })
	p.Do("recall 说错了")
	said := p.Prefixed("SAID", func(string) bool { return true })
	m = post.awaitPost(t, "the recall", func(m map[string]any) bool { return m["format"] == "revoke" })
	fields(t, "the recall at post_api", m, map[string]any{"post_type": "receive_message", "sender_id": wangID, "revoke_id": said})

	// The room: a newcomer, a member removed, a new topic.
	p.Do("join 新人")
	newcomer := "@" + p.Prefixed("JOINED", func(string) bool { return true })
	post.eventPost(t, events.EventNewGroupMember, newcomer, gid)
	p.Do("leave")
	post.eventPost(t, events.EventLoseGroupMember, wolfID, gid)
	g = w.groupBy("id", gid)
	if find(members(t, g), "id", newcomer) == nil || find(members(t, g), "id", wolfID) != nil {
		t.Errorf("get_group_info after the join and the leave: %v", g["member"])
	}
	p.Do("topic 改名的群")
	raw := await(t, it, wx.EventGroupPropertyChange, nil)
	ps := params(t, raw, wx.EventGroupPropertyChange, 4)
	if !strings.Contains(string(ps[0]), gid) || string(ps[1]) != `"name"` || string(ps[2]) != `"openqq 测试群"` || string(ps[3]) != `"改名的群"` {
		t.Errorf("group_property_change %s", raw.Data)
	}
	if g := w.groupBy("id", gid); g["name"] != "改名的群" {
		t.Errorf("get_group_info after the topic: %v", g["name"])
	}

	// The admin routes reach the puppet (the scenario's ADMIN lines), and come back as reports.
	admin := func(call string, want ...string) {
		t.Helper()
		p.Prefixed("ADMIN", func(l string) bool {
			return strings.HasPrefix(l, call+" ") && !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(l, w) })
		})
	}
	ok := func(what string, code int, r map[string]any) {
		t.Helper()
		if code != 200 || r["code"] != num(0) {
			t.Fatalf("%s: HTTP %d %v, want code 0", what, code, r)
		}
	}
	code, r = w.wcall(viaForm, wx.RouteCreateGroup, "friends", wangID, "displayname", "新建的群")
	ok("create_group", code, r)
	newGID := str(t, r, "group_id")
	admin("roomCreate", "新建的群", ids["wang"])
	post.eventPost(t, events.EventNewGroup, newGID, "新建的群")
	meiID := "@" + ids["mei"]
	code, r = w.wcall(viaForm, wx.RouteInviteFriend, "id", gid, "friends", meiID)
	ok("invite_friend", code, r)
	admin("roomAdd", ids["room"], ids["mei"])
	post.eventPost(t, events.EventNewGroupMember, meiID, gid)
	code, r = w.wcall(viaForm, wx.RouteKickGroupMember, "id", gid, "members", meiID)
	ok("kick_group_member", code, r)
	admin("roomDel", ids["room"], ids["mei"])
	post.eventPost(t, events.EventLoseGroupMember, meiID, gid)
	code, r = w.wcall(viaForm, wx.RouteSetGroupDisplayname, "id", gid, "new_displayname", "再改名")
	ok("set_group_displayname", code, r)
	admin("roomTopic", ids["room"], "再改名")
	code, r = w.wcall(viaForm, wx.RouteSetMarkname, "id", wangID, "new_markname", "王总")
	ok("set_markname", code, r)
	admin("contactAlias", ids["wang"], "王总")
	code, r = w.wcall(viaForm, wx.RouteMakeFriend, "id", newcomer, "verify", "加个好友")
	ok("make_friend", code, r)
	admin("friendshipAdd", strings.TrimPrefix(newcomer, "@"), "加个好友")
	resp, body := w.raw(w.newRequest(http.MethodGet, wx.RouteGetAvatar, q("id", wangID), nil))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.HasPrefix(body, []byte("\x89PNG")) {
		t.Errorf("get_avatar: %d %q %d bytes, want the puppet's PNG", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	code, r = w.wcall(viaForm, wx.RouteStick, "id", gid)
	if code != 200 || r["code"] != num(wx.CodeUnsupported) {
		t.Errorf("stick: %d %v, want code %d", code, r, wx.CodeUnsupported)
	}

	// A friend request, accepted: a new friend.
	p.Do("friendship 陌生人 我是陌生人")
	fid, cid, _ := strings.Cut(p.Prefixed("FRIENDSHIP", func(string) bool { return true }), " ")
	stranger := "@" + cid
	fr := post.eventPost(t, events.EventFriendRequest, stranger)
	if len(fr) != 4 || fr[1] != "陌生人" || fr[2] != "我是陌生人" || fr[3] != fid {
		t.Fatalf("friend_request params %v, want [%s 陌生人 我是陌生人 %s]", fr, stranger, fid)
	}
	code, r = w.wcall(viaForm, wx.RouteAcceptFriendRequest, "id", stranger, "displayname", "陌生人", "ticket", fid)
	if code != 200 || r["code"] != num(0) {
		t.Fatalf("accept_friend_request: %d %v", code, r)
	}
	p.Prefixed("ACCEPTED", func(id string) bool { return id == fid })
	post.eventPost(t, events.EventNewFriend, stranger)
	w.friendBy("id", stranger) // fails unless the accepted stranger is in get_friend_info
}
