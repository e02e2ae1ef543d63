package e2e

import (
	"bytes"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/ilink"
	"github.com/openqq/openqq/services/session/wxdriver/ilink/ilinktest"
)

// Openwx over the iLink driver against the fake iLink server: the QR login, the one friend,
// a text and an image the owner sends reach post_api (the image with its bytes), a reply goes
// back with the owner's context_token, and group routes answer their failure code.
func TestOpenwxOverILink(t *testing.T) {
	f := ilinktest.New(t)
	dir := t.TempDir()
	cfg := &ilink.Config{BaseURL: f.URL, CDNURL: f.CDN, StateDir: dir, QRCodeDir: dir, PollTimeout: 2 * time.Second,
		APITimeout: 5 * time.Second, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	w := startWX(t, withDriver("ilink", cfg), withReporters(1, nil))
	if f.QRCodesIssued() != 1 {
		t.Errorf("%d QR codes issued, want the one login", f.QRCodesIssued())
	}
	owner := "@" + ilinktest.OwnerID
	var friends []map[string]any
	if code, _ := w.getJSON(wx.RouteGetFriendInfo, nil, &friends); code != 200 || len(friends) != 1 {
		t.Fatalf("get_friend_info: %d, %v", code, friends)
	}
	fields(t, "the one friend", friends[0], map[string]any{"id": owner, "account": ilinktest.OwnerID, "uid": ilinktest.OwnerID,
		"name": "微信用户", "displayname": "微信用户", "category": wx.CategoryFriend})

	// Nothing to reply to yet: iLink needs the owner's context_token.
	if _, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "id", owner, "content", "too early"); r["code"] != num(ilink.RetNoContextToken) {
		t.Errorf("a send before the owner wrote: %v, want code %d (no context_token)", r, ilink.RetNoContextToken)
	}

	f.Text("你好 ilink")
	m := w.post.awaitPost(t, "the text", func(m map[string]any) bool { return m["content"] == "你好 ilink" })
	fields(t, "the text at post_api", m, map[string]any{"post_type": "receive_message", "type": wx.FriendMessage, "sender_id": owner})
	img := testPNG(t, 21, 800)
	f.Media(ilink.ItemImage, "", img)
	m = w.post.awaitPost(t, "the image", func(m map[string]any) bool { return m["format"] == "media" })
	fields(t, "the image at post_api", m, map[string]any{"post_type": "receive_message", "media_type": "image", "media_mime": "image/png", "sender_id": owner})
	if !bytes.Equal(mediaData(t, m), img) {
		t.Error("media_data does not decode to the image's bytes")
	}

	_, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "id", owner, "content", "收到")
	sent(t, "the reply", 200, r, owner)
	got := f.Sent()
	if len(got) != 1 || got[0].Text != "收到" || got[0].To != ilinktest.OwnerID || got[0].ContextToken == "" {
		t.Errorf("the fake got %+v", got)
	}

	var groups []map[string]any
	if code, _ := w.getJSON(wx.RouteGetGroupBasicInfo, nil, &groups); code != 200 || len(groups) != 0 {
		t.Errorf("get_group_basic_info: %d, %v", code, groups)
	}
	if _, r := w.wcall(viaForm, wx.RouteSendGroupMessage, "id", "@@nogroup", "content", "x"); r["code"] == num(0) {
		t.Errorf("send_group_message: %v, want a failure code", r)
	}
	if _, r := w.wcall(viaForm, wx.RouteCreateGroup, "friends", owner); r["code"] == num(0) {
		t.Errorf("create_group: %v, want a failure code", r)
	}
}

// Every Openwx route over iLink's one chat: what it carries answers code 0 (or its data),
// what iLink cannot do answers 202 naming the driver, a route that names a group (iLink has
// none) its "not found" code 100, as the README's table says.
func TestOpenwxILinkRoutes(t *testing.T) {
	f := ilinktest.New(t)
	dir := t.TempDir()
	cfg := &ilink.Config{BaseURL: f.URL, CDNURL: f.CDN, StateDir: dir, QRCodeDir: dir, PollTimeout: 2 * time.Second,
		APITimeout: 5 * time.Second, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	w := startWX(t, withDriver("ilink", cfg), withReporters(1, nil))
	owner := "@" + ilinktest.OwnerID
	f.Text("先说一句") // the context_token a reply needs
	w.post.awaitPost(t, "the owner's text", func(m map[string]any) bool { return m["content"] == "先说一句" })
	unsupported := `{"code":202,"status":"not supported by this account's driver (ilink)"}`
	for _, c := range []struct {
		route string
		kv    []string
		code  int64
		exact string // the whole reply, when it says so
	}{
		{wx.RouteSendFriendMessage, []string{"id", owner, "content", "x"}, 0, ""},
		{wx.RouteConsult, []string{"id", owner, "content", "x", "timeout", "1"}, 0, ""},
		{wx.RouteUploadMedia, []string{"media_data", "aGk=", "media_name", "a.txt"}, 0, ""},
		{wx.RouteSendGroupMessage, []string{"id", "@@g", "content", "x"}, 100, ""},
		{wx.RouteSearchGroup, []string{"name", "x"}, 100, ""},
		{wx.RouteInviteFriend, []string{"id", "@@g", "friends", owner}, 100, ""},
		{wx.RouteKickGroupMember, []string{"id", "@@g", "members", owner}, 100, ""},
		{wx.RouteSetGroupDisplayname, []string{"id", "@@g", "new_displayname", "x"}, 100, ""},
		{wx.RouteStickyGroup, []string{"id", "@@g"}, 100, ""},
		{wx.RouteRevokeMessage, []string{"id", "openqq1:" + owner}, 202, unsupported},
		{wx.RouteCreateGroup, []string{"friends", owner}, 202, unsupported},
		{wx.RouteStick, []string{"id", owner}, 202, unsupported},
		{wx.RouteSetMarkname, []string{"id", owner, "new_markname", "x"}, 202, unsupported},
		{wx.RouteSetFriendMarkname, []string{"id", owner, "new_markname", "x"}, 202, unsupported},
		{wx.RouteGetAvatar, []string{"id", owner}, 202, unsupported},
		{wx.RouteMakeFriend, []string{"id", owner, "verify", "x"}, 101, ""},
		{wx.RouteAcceptFriendRequest, []string{"id", owner, "ticket", "t"}, -1, ""},
	} {
		t.Run(c.route, func(t *testing.T) {
			code, r := w.with(t).wcall(viaForm, c.route, c.kv...)
			if code != 200 || r["code"] != num(c.code) {
				t.Fatalf("%s: HTTP %d %v, want code %d", c.route, code, r, c.code)
			}
			if c.exact != "" {
				sameJSON(t, events.MustMarshal(r), c.exact)
			}
		})
	}
	var found []map[string]any
	if code, _ := w.getJSON(wx.RouteSearchFriend, map[string][]string{"id": {owner}}, &found); code != 200 || len(found) != 1 {
		t.Errorf("search_friend: %d %v, want the owner", code, found)
	}
}
