package wx

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// pngBytes draws a small PNG, different for each seed.
func pngBytes(t *testing.T, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := range 16 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{seed, uint8(x * 16), uint8(y * 16), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storedMedia counts the media in the bucket.
func storedMedia(t *testing.T, v *env) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	obs, err := v.js.ObjectStore(ctx, v.e.Subjects().MediaBucket())
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// storedBytes reads a media back from the store.
func storedBytes(t *testing.T, v *env, id string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _, err := v.p.media.Bytes(ctx, id)
	if err != nil {
		t.Fatalf("media %s: %v", id, err)
	}
	return b
}

func TestUploadMedia(t *testing.T) {
	v := start(t, nil)
	img := pngBytes(t, 1)
	r := v.call(wx.RouteUploadMedia, events.Params{"media_data": b64(img), "media_name": "cat.png"})
	id, _ := r["media_id"].(string)
	if code(t, r) != 0 || id == "" || r["media_type"] != wx.MediaImage || r["media_code"] != 3.0 ||
		r["media_mime"] != "image/png" || r["media_ext"] != "png" || r["media_size"] != float64(len(img)) || r["media_name"] != "cat.png" {
		t.Fatalf("upload_media media_data: %v", r)
	}
	if !bytes.Equal(storedBytes(t, v, id), img) {
		t.Error("stored bytes differ from the upload")
	}
	// A file of MEDIA_DIR.
	file := filepath.Join(v.mediaDir, "notes.txt")
	if err := os.WriteFile(file, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = v.call(wx.RouteUploadMedia, events.Params{"media_path": file})
	if code(t, r) != 0 || r["media_type"] != wx.MediaFile || r["media_path"] != file || r["media_size"] != 5.0 {
		t.Errorf("upload_media media_path: %v", r)
	}
	// media_id names what is stored.
	again := v.call(wx.RouteUploadMedia, events.Params{"media_id": id})
	if again["media_id"] != id || again["media_size"] != float64(len(img)) {
		t.Errorf("upload_media media_id: %v", again)
	}
	n := storedMedia(t, v)
	for name, p := range map[string]events.Params{
		"nothing":        {},
		"blank":          {"media_path": "", "media_data": ""},
		"outside":        {"media_path": "/etc/hostname"},
		"climbing out":   {"media_path": "../../etc/hostname"},
		"not base64":     {"media_data": "***"},
		"over the limit": {"media_data": b64(make([]byte, mediaMax+1))},
		"unknown id":     {"media_id": "nope:3"},
		"other scheme":   {"media_path": "file:///etc/hostname"},
	} {
		r := v.call(wx.RouteUploadMedia, p)
		if c := code(t, r); c == 0 || r["status"] == "" {
			t.Errorf("upload_media %s: %v, want a clear error", name, r)
		}
	}
	if m := storedMedia(t, v); m != n {
		t.Errorf("refused uploads stored %d media", m-n)
	}
}

// upload_media → media_id → sent to a friend and to a group: WeChat gets the bytes, the
// replies carry the media_id, and the send_message reports in WX_EVENTS carry the media's
// fields (never its bytes) and name bytes equal to the upload's.
func TestMediaRoundTrip(t *testing.T) {
	v := start(t, nil)
	img := pngBytes(t, 2)
	up := v.call(wx.RouteUploadMedia, events.Params{"media_data": b64(img), "media_name": "dog.png"})
	id := up["media_id"].(string)

	wang := v.friend("老王")
	g := v.group("PERL学习交流")
	for _, c := range []struct {
		route, peer, typ string
		p                events.Params
	}{
		{wx.RouteSendFriendMessage, wang.ID, wx.FriendMessage, events.Params{"id": wang.ID, "media_id": id}},
		{wx.RouteSendGroupMessage, g.ID, wx.GroupMessage, events.Params{"id": g.ID, "media_id": id}},
	} {
		r := v.call(c.route, c.p)
		msgID := sentID(t, c.route+" media", r, c.peer)
		if r["media_id"] != id {
			t.Errorf("%s: media_id %v, want %s", c.route, r["media_id"], id)
		}
		got := v.sentTo(c.peer)
		if len(got) == 0 || !bytes.Equal(got[len(got)-1].MediaData, img) {
			t.Errorf("%s: WeChat did not get the uploaded bytes", c.route)
		}
		rep := v.item(c.typ, func(m map[string]any) bool { return m["id"] == msgID })
		if rep["format"] != wx.FormatMedia || rep["media_id"] != id || rep["media_type"] != wx.MediaImage ||
			rep["media_name"] != "dog.png" || rep["media_size"] != float64(len(img)) || rep["media_mime"] != "image/png" ||
			rep["media_ext"] != "png" || rep["media_code"] != 3.0 || !has(rep["content"].(string), "[图片]") {
			t.Errorf("%s: send_message report %v", c.route, rep)
		}
		if _, ok := rep["media_data"]; ok {
			t.Errorf("%s: the report carries the bytes in the stream", c.route)
		}
		if !bytes.Equal(storedBytes(t, v, rep["media_id"].(string)), img) {
			t.Errorf("%s: the report's media_id names other bytes", c.route)
		}
	}
	if n := storedMedia(t, v); n != 1 {
		t.Errorf("%d media stored, want the upload only", n)
	}
}

// content and media: both are sent, the text first; the reply is the media's, with its id.
func TestSendTextAndMedia(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	img := pngBytes(t, 3)
	r := v.call(wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "看图", "media_data": b64(img), "media_name": "x.png"})
	sentID(t, "text and media", r, wang.ID)
	mid, _ := r["media_id"].(string)
	if mid == "" {
		t.Fatalf("text and media: no media_id in %v", r)
	}
	got := v.sentTo(wang.ID)
	if len(got) != 2 || got[0].Content != "看图" || got[0].Media != nil || got[1].Media == nil || !bytes.Equal(got[1].MediaData, img) {
		t.Fatalf("text and media: WeChat got %+v", got)
	}
	if !bytes.Equal(storedBytes(t, v, mid), img) {
		t.Error("the reply's media_id names other bytes")
	}
	// A media_path in MEDIA_DIR, to a group, async.
	file := filepath.Join(v.mediaDir, "report.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4 tiny"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := v.group(sim.OwnGroupName)
	want(t, "async media", v.call(wx.RouteSendGroupMessage, events.Params{"id": g.ID, "media_path": file, "async": "1"}), 0, "request already in execution")
	rep := v.item(wx.GroupMessage, func(m map[string]any) bool { return m["media_path"] == file })
	if rep["media_type"] != wx.MediaFile || rep["media_name"] != "report.pdf" {
		t.Errorf("async media report: %v", rep)
	}
}

// A received image, injected on wx.sim.inject, reaches WX_EVENTS with its media_id, whose bytes
// in the store are the image's.
func TestReceivedMedia(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	img := pngBytes(t, 4)
	rep := v.inject(wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatMedia,
		MediaType: wx.MediaImage, MediaName: "photo.png", MediaMime: "image/png", MediaData: img})
	if rep.Code != 0 || rep.ID == "" {
		t.Fatalf("inject: %+v", rep)
	}
	m := v.item(wx.FriendMessage, func(m map[string]any) bool { return m["id"] == rep.ID })
	if m["post_type"] != events.PostReceiveMessage || m["format"] != wx.FormatMedia || m["media_type"] != wx.MediaImage ||
		m["sender_id"] != wang.ID || m["sender"] != "老王" || m["media_size"] != float64(len(img)) || m["media_name"] != "photo.png" {
		t.Fatalf("received media report: %v", m)
	}
	if _, ok := m["media_data"]; ok {
		t.Error("the received media's bytes are in the stream")
	}
	if !bytes.Equal(storedBytes(t, v, m["media_id"].(string)), img) {
		t.Error("the received media's media_id names other bytes")
	}
	// The received media's id can be sent on (Mojo's could not: #60).
	sentID(t, "forward a received media", v.call(wx.RouteSendGroupMessage, events.Params{"displayname": "PERL学习交流", "media_id": m["media_id"].(string)}), v.group("PERL学习交流").ID)
}
