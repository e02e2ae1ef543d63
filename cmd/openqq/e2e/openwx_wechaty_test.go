package e2e

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty/fakepuppet"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
)

// Openwx over the wechaty driver, against the fake puppet service: the roster the puppet
// has, sends of text and media reaching it with their bytes, messages and a picture it
// delivers reaching the stream, a group rename and a revoke.
func TestOpenwxOverWechaty(t *testing.T) {
	const token = "insecure_e2e"
	puppet, err := fakepuppet.New(token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(puppet.Close)
	w := startWX(t, withDriver("wechaty", &wechaty.Config{Endpoint: puppet.Addr(), Token: token, QRCodeDir: t.TempDir(),
		CallTimeout: 5 * time.Second, PingInterval: 20 * time.Second, BackoffMax: 200 * time.Millisecond}))
	ro := w.roster()
	if ro.user["name"] != "小明" || ro.user["id"] != "@"+puppet.ID("self") {
		t.Errorf("get_user_info: %v", ro.user)
	}
	wang := w.friendBy("markname", "老王")
	wangID := "@" + puppet.ID("wang")
	if wang["id"] != wangID || wang["account"] != "wangdachui" || wang["name"] != "王大锤" || wang["uid"] != puppet.ID("wang") {
		t.Errorf("老王 in get_friend_info: %v", wang)
	}
	g := w.groupBy("name", "openqq 测试群")
	gid := str(t, g, "id")

	it := w.subscribeWX()
	code, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "markname", "老王", "content", "你好 wechaty")
	sent(t, "send_friend_message", code, r, wangID)
	code, r = w.wcall(viaJSON, wx.RouteSendGroupMessage, "id", gid, "content", "大家好")
	sent(t, "send_group_message", code, r, gid)
	img := []byte("\x89PNG\r\n\x1a\nwechaty-e2e")
	code, r = w.wcall(viaForm, wx.RouteSendFriendMessage, "id", wangID, "media_data", base64.StdEncoding.EncodeToString(img), "media_name", "e2e.png")
	picID := sent(t, "send_friend_message with a picture", code, r, wangID)
	var gotText, gotGroup, gotPic bool
	for _, s := range puppet.Sent() {
		switch {
		case s.ConversationID == puppet.ID("wang") && s.Text == "你好 wechaty":
			gotText = true
		case s.ConversationID == puppet.ID("room1") && s.Text == "大家好":
			gotGroup = true
		case s.ConversationID == puppet.ID("wang") && s.FileName == "e2e.png" && bytes.Equal(s.FileData, img):
			gotPic = true
		}
	}
	if !gotText || !gotGroup || !gotPic {
		t.Errorf("the puppet got text %v, group text %v, picture %v: %+v", gotText, gotGroup, gotPic, puppet.Sent())
	}
	code, r = w.wcall(viaForm, wx.RouteRevokeMessage, "id", picID)
	if code != 200 || r["code"] != num(0) {
		t.Errorf("revoke_message: %d %v", code, r)
	}

	puppet.Deliver(fakepuppet.Message{Type: pb.WireText, Talker: puppet.ID("wang"), Text: "wechaty 来信"})
	m := awaitContent(t, it, wx.FriendMessage, "wechaty 来信")
	if m["sender_id"] != wangID {
		t.Errorf("friend_message from the puppet: %v", m)
	}
	puppet.Deliver(fakepuppet.Message{Type: pb.WireImage, Talker: puppet.ID("wang"), Room: puppet.ID("room1"),
		FileName: "cat.png", FileMime: "image/png", FileData: img})
	pic := await(t, it, wx.GroupMessage, func(m map[string]any) bool { return m["format"] == "media" })
	if p := object(t, pic.Data); p["media_name"] != "cat.png" || p["media_mime"] != "image/png" {
		t.Errorf("group picture from the puppet: %v", p)
	}

	code, r = w.wcall(viaForm, wx.RouteSetGroupDisplayname, "id", gid, "new_displayname", "改名了")
	if code != 200 || r["code"] != num(0) {
		t.Errorf("set_group_displayname: %d %v", code, r)
	}
	if room := puppet.Roster().Rooms[puppet.ID("room1")]; room.Topic != "改名了" {
		t.Errorf("the puppet's room topic: %q", room.Topic)
	}
	code, r = w.wcall(viaForm, wx.RouteStick, "id", gid)
	if code != 200 || r["code"] == num(0) {
		t.Errorf("stick over wechaty: %d %v, want a non-zero code", code, r)
	}
}
