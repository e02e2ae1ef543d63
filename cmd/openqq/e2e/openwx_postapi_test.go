package e2e

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// The Openwx reports at a real post_api: media with their bytes, POST_MEDIA_DATA=0, and the
// answers (reply, media) applied once.

// awaitPost waits for a post_api request whose JSON body ok accepts, and returns that body.
func (p *postAPI) awaitPost(t *testing.T, what string, ok func(m map[string]any) bool) map[string]any {
	t.Helper()
	var found map[string]any
	_, got := p.Wait(10*time.Second, func(reqs []proctest.Request) bool {
		for _, r := range reqs {
			if m := r.JSON(); m != nil && ok(m) {
				found = m
				return true
			}
		}
		return false
	})
	if !got {
		t.Fatalf("post_api: no %s within 10s", what)
	}
	return found
}

// mediaData decodes a report's media_data (MIME::Base64: lines of 76).
func mediaData(t *testing.T, m map[string]any) []byte {
	t.Helper()
	s, ok := m["media_data"].(string)
	if !ok {
		t.Fatalf("no media_data in %v", m["id"])
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, "\n", ""))
	if err != nil {
		t.Fatalf("media_data: %v", err)
	}
	return b
}

// A media sent to a friend and to a group (by the media_id of an upload), and a media
// received, reach post_api with their fields and their bytes.
func TestOpenwxPostAPIMedia(t *testing.T) {
	w := startWX(t, withReporters(1, nil))
	img := testPNG(t, 11, 2000)
	code, up := w.multipartCall(wx.RouteUploadMedia, "media", "cat.png", img)
	if code != 200 {
		t.Fatalf("upload: %d %v", code, up)
	}
	mediaID := str(t, up, "media_id")
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	perlID := str(t, w.groupBy("name", "PERL学习交流"), "id")
	_, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "id", wangID, "media_id", mediaID)
	friendID := sent(t, "media to a friend", 200, r, wangID)
	_, r = w.wcall(viaJSON, wx.RouteSendGroupMessage, "id", perlID, "media_id", mediaID)
	groupID := sent(t, "media to a group", 200, r, perlID)
	for _, c := range []struct{ what, id, typ string }{{"friend", friendID, wx.FriendMessage}, {"group", groupID, wx.GroupMessage}} {
		m := w.post.awaitPost(t, c.what+" send_message", func(m map[string]any) bool { return m["id"] == c.id })
		fields(t, c.what+" send_message at post_api", m, map[string]any{
			"post_type": "send_message", "type": c.typ, "format": "media", "media_type": "image", "media_id": mediaID,
			"media_name": "cat.png", "media_mime": "image/png", "media_ext": "png", "media_size": len(img), "media_code": 3,
		})
		hasKeys(t, c.what+" send_message at post_api", m, "media_path", "media_mtime")
		if !bytes.Equal(mediaData(t, m), img) {
			t.Errorf("%s: media_data does not decode to the bytes sent", c.what)
		}
	}
	// A received image: the sim is given its bytes, post_api gets them back.
	got := testPNG(t, 12, 500)
	in := w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wangID, Format: wx.FormatMedia, MediaType: wx.MediaImage,
		MediaName: "photo.png", MediaMime: "image/png", MediaData: got})
	if in.Code != 0 || in.ID == "" {
		t.Fatalf("inject: %+v", in)
	}
	m := w.post.awaitPost(t, "the received image", func(m map[string]any) bool { return m["id"] == in.ID })
	fields(t, "receive_message at post_api", m, map[string]any{
		"post_type": "receive_message", "type": "friend_message", "format": "media", "media_type": "image",
		"media_name": "photo.png", "media_size": len(got), "sender_id": wangID,
	})
	if !bytes.Equal(mediaData(t, m), got) {
		t.Error("the received image's media_data does not decode to its bytes")
	}
}

// POST_MEDIA_DATA=0: the media's fields, not its bytes.
func TestOpenwxPostAPINoMediaData(t *testing.T) {
	w := startWX(t, withReporters(1, func(r *wxReporterSetup) { r.noMediaData = true }))
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	in := w.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wangID, Format: wx.FormatMedia, MediaName: "p.png",
		MediaMime: "image/png", MediaData: testPNG(t, 13, 0)})
	m := w.post.awaitPost(t, "the received image", func(m map[string]any) bool { return m["id"] == in.ID })
	lacksKeys(t, "POST_MEDIA_DATA=0", m, "media_data")
	hasKeys(t, "POST_MEDIA_DATA=0", m, "media_id", "media_type", "media_size", "media_name")
}

// A post_api answer {"reply":..,"media":<URL>} to a received message sends the text, then the
// image, once; the reports of those sends, though answered the same way, are not answered.
func TestOpenwxPostAPIAnswer(t *testing.T) {
	pic := testPNG(t, 21, 100)
	srv := mediaServer(t, map[string][]byte{"/answer.png": pic})
	answer := `{"reply":"自动回复","media":"` + srv.URL + `/answer.png"}`
	w := startWX(t, withReporters(1, func(r *wxReporterSetup) {
		r.respond = func(req *proctest.Request) proctest.Answer {
			m := req.JSON()
			if m == nil || m["post_type"] == "event" || m["content"] == "哨兵" {
				return proctest.Answer{}
			}
			// Every message, ours included: post_api that always answers must not loop.
			return proctest.Answer{ContentType: "application/json", Body: answer}
		}
	}))
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	perlID := str(t, w.groupBy("name", "PERL学习交流"), "id")
	perl := w.groupBy("id", perlID)
	memberID := str(t, members(t, perl)[1], "id")
	for _, c := range []struct {
		what string
		in   wx.Injection
		typ  string
		peer string
	}{
		{"friend", wx.Injection{Type: wx.FriendMessage, SenderID: wangID, Content: "在吗"}, wx.FriendMessage, wangID},
		{"group", wx.Injection{Type: wx.GroupMessage, GroupID: perlID, SenderID: memberID, Content: "大家好"}, wx.GroupMessage, perlID},
	} {
		if r := w.inject(c.in); r.Code != 0 {
			t.Fatalf("inject: %+v", r)
		}
		// The two sends' reports reach post_api (and are answered there, in vain).
		text := w.post.awaitPost(t, c.what+" reply's report", func(m map[string]any) bool {
			return m["post_type"] == "send_message" && m["content"] == "自动回复" && (m["receiver_id"] == c.peer || m["group_id"] == c.peer)
		})
		img := w.post.awaitPost(t, c.what+" media's report", func(m map[string]any) bool {
			return m["post_type"] == "send_message" && m["format"] == "media" && (m["receiver_id"] == c.peer || m["group_id"] == c.peer)
		})
		if !bytes.Equal(mediaData(t, img), pic) {
			t.Errorf("%s: the answer's image is not the URL's bytes", c.what)
		}
		if text["type"] != c.typ || img["type"] != c.typ {
			t.Errorf("%s: reports of type %v and %v", c.what, text["type"], img["type"])
		}
		// A sentinel in the same conversation, posted after those reports were answered.
		sentinel := wx.Injection{Type: c.in.Type, GroupID: c.in.GroupID, SenderID: c.in.SenderID, Content: "哨兵"}
		sr := w.inject(sentinel)
		w.post.awaitPost(t, c.what+" sentinel", func(m map[string]any) bool { return m["id"] == sr.ID })
		var sends []string
		for _, d := range w.sim.Sent() {
			if d.TargetID == c.peer {
				kind := "text:" + d.Content
				if d.Media != nil {
					kind = "media"
					if !bytes.Equal(d.MediaData, pic) {
						t.Errorf("%s: WeChat got other bytes", c.what)
					}
				}
				sends = append(sends, kind)
			}
		}
		if strings.Join(sends, ",") != "text:自动回复,media" {
			t.Errorf("%s: WeChat got %v, want the reply then the image, once", c.what, sends)
		}
		// The answers' reports say where they came from.
		if text["from"] != events.FromReply {
			t.Errorf("%s: the reply's report: from %v", c.what, text["from"])
		}
	}
}
