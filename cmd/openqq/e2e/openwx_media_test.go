package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// Media through HTTP: uploads (multipart, media_data, media_path as a file or a URL) into the
// media store, sends by media_id, the send_message reports' media fields, and every refusal
// with nothing stored.

// testPNG draws a small PNG, different for each seed; pad makes it larger (a PNG with data
// after its end is still one).
func testPNG(t *testing.T, seed uint8, pad int) []byte {
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
	buf.Write(bytes.Repeat([]byte{seed}, pad))
	return buf.Bytes()
}

// multipartCall posts a multipart body: the fields kv, and, unless file is nil, a file part
// named field with filename name.
func (w *wxEnv) multipartCall(route, field, name string, file []byte, kv ...string) (int, map[string]any) {
	w.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := mw.WriteField(kv[i], kv[i+1]); err != nil {
			w.t.Fatal(err)
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="`+name+`"`)
		h.Set("Content-Type", "application/octet-stream")
		fw, err := mw.CreatePart(h)
		if err != nil {
			w.t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	if err := mw.Close(); err != nil {
		w.t.Fatal(err)
	}
	req := w.newRequest(http.MethodPost, route, nil, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	code, body := w.do(req)
	return code, object(w.t, body)
}

// storedMedia reads a media's bytes back from the bucket.
func (w *wxEnv) storedMedia(id string) []byte {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _, err := w.plat.Media().Bytes(ctx, id)
	if err != nil {
		w.t.Fatalf("media %s: %v", id, err)
	}
	return b
}

// mediaServer serves files over HTTP on loopback: path → bytes, with Content-Type image/png.
func mediaServer(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "image/png")
		rw.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = rw.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// lastDelivery is what the simulated WeChat server got last for target.
func (w *wxEnv) lastDelivery(target string) wxsim.Delivery {
	w.t.Helper()
	sent := w.sim.Sent()
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].TargetID == target {
			return sent[i]
		}
	}
	w.t.Fatalf("WeChat got nothing for %s", target)
	return wxsim.Delivery{}
}

// Every way to upload gives a media_id whose bytes are the ones sent, and upload_media's reply
// has Mojo's media_* fields (plus openwx's code 0 and status success).
func TestOpenwxUploadMedia(t *testing.T) {
	w := startWX(t)
	imgs := map[string][]byte{}
	for i, name := range []string{"multipart", "media_data file", "form", "JSON", "GET", "file", "url"} {
		imgs[name] = testPNG(t, uint8(i*30), 100*i)
	}
	srv := mediaServer(t, map[string][]byte{"/pics/url.png": imgs["url"]})
	path := w.writeMedia("file.png", imgs["file"])
	b64 := func(name string) string { return base64.StdEncoding.EncodeToString(imgs[name]) }
	uploads := map[string]func() (int, map[string]any){
		"multipart": func() (int, map[string]any) {
			return w.multipartCall(wx.RouteUploadMedia, "media", "multipart.png", imgs["multipart"])
		},
		"media_data file": func() (int, map[string]any) {
			return w.multipartCall(wx.RouteUploadMedia, "media_data", "x.png", imgs["media_data file"])
		},
		"form": func() (int, map[string]any) {
			return w.wcall(viaForm, wx.RouteUploadMedia, "media_data", b64("form"), "media_name", "form.png")
		},
		"JSON": func() (int, map[string]any) {
			return w.wcall(viaJSON, wx.RouteUploadMedia, "media_data", b64("JSON"), "media_name", "json.png")
		},
		"GET": func() (int, map[string]any) {
			return w.wcall(viaGET, wx.RouteUploadMedia, "media_data", b64("GET"), "media_name", "get.png")
		},
		"file": func() (int, map[string]any) { return w.wcall(viaForm, wx.RouteUploadMedia, "media_path", path) },
		"url": func() (int, map[string]any) {
			return w.wcall(viaGET, wx.RouteUploadMedia, "media_path", srv.URL+"/pics/url.png")
		},
	}
	for name, up := range uploads {
		t.Run(name, func(t *testing.T) {
			w := w.with(t)
			code, r := up()
			if code != 200 {
				t.Fatalf("HTTP %d %v", code, r)
			}
			hasKeys(t, "upload_media", r, "media_id", "media_code", "media_type", "media_path", "media_name", "media_size", "media_mime", "media_mtime", "media_ext")
			fields(t, "upload_media", r, map[string]any{
				"code": 0, "status": "success", "media_type": "image", "media_code": 3, "media_mime": "image/png",
				"media_ext": "png", "media_size": len(imgs[name]),
			})
			lacksKeys(t, "upload_media", r, "media_data")
			id := str(t, r, "media_id")
			if !bytes.Equal(w.storedMedia(id), imgs[name]) {
				t.Error("the stored bytes are not the ones uploaded")
			}
		})
	}
}

// upload_media → media_id → a friend and a group get the image; the reply carries the
// media_id, the send_message reports the media fields (never the bytes), WeChat the bytes.
func TestOpenwxSendMediaByID(t *testing.T) {
	w := startWX(t)
	img := testPNG(t, 7, 3000)
	code, up := w.multipartCall(wx.RouteUploadMedia, "media", "cat.png", img)
	if code != 200 || up["code"] != num(0) {
		t.Fatalf("upload: %d %v", code, up)
	}
	mediaID := str(t, up, "media_id")
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	perlID := str(t, w.groupBy("name", "PERL学习交流"), "id")
	it := w.subscribeWX()
	for _, c := range []struct {
		route, typ, peer string
		sel              []string
	}{
		{wx.RouteSendFriendMessage, wx.FriendMessage, wangID, []string{"id", wangID}},
		{wx.RouteSendGroupMessage, wx.GroupMessage, perlID, []string{"displayname", "PERL学习交流"}},
	} {
		for _, v := range vias {
			before := w.counts()
			code, r := w.wcall(v, c.route, append(c.sel, "media_id", mediaID)...)
			id := sent(t, c.route+" "+string(v), code, r, c.peer)
			if r["media_id"] != mediaID {
				t.Errorf("%s: media_id %v, want %s", c.route, r["media_id"], mediaID)
			}
			d := w.lastDelivery(c.peer)
			if d.Media == nil || !bytes.Equal(d.MediaData, img) || d.Media.Type != wx.MediaImage {
				t.Errorf("%s: WeChat got %+v (%d bytes)", c.route, d.Media, len(d.MediaData))
			}
			rep := object(t, await(t, it, c.typ, func(m map[string]any) bool { return m["id"] == id }).Data)
			hasKeys(t, "media send_message", rep, "media_type", "media_code", "media_id", "media_path", "media_name",
				"media_size", "media_mime", "media_mtime", "media_ext")
			fields(t, "media send_message", rep, map[string]any{
				"post_type": "send_message", "format": "media", "media_type": "image", "media_code": 3, "media_id": mediaID,
				"media_name": "cat.png", "media_size": len(img), "media_mime": "image/png", "media_ext": "png",
			})
			if s, _ := rep["content"].(string); !strings.HasPrefix(s, "[图片](") {
				t.Errorf("content %q, want [图片](...)", s)
			}
			// The bytes are stored once, in the bucket: never in the stream's items.
			lacksKeys(t, "stored send_message", rep, "media_data")
			if after := w.counts(); after.media != before.media {
				t.Errorf("a send by media_id stored the media again: %d → %d", before.media, after.media)
			}
		}
	}
	// Text and media in one call: the text first, then the media (Mojo raced them).
	code, r := w.wcall(viaForm, wx.RouteSendFriendMessage, "id", wangID, "content", "看图", "media_id", mediaID)
	sent(t, "text and media", code, r, wangID)
	text := awaitContent(t, it, wx.FriendMessage, "看图")
	media := await(t, it, wx.FriendMessage, func(m map[string]any) bool { return m["format"] == "media" })
	if text["format"] != "text" || object(t, media.Data)["id"] != r["id"] {
		t.Errorf("text then media: %v then %s (reply %v)", text, media.Data, r)
	}
	// A media sent straight from a multipart call, a media_path file and a URL.
	srv := mediaServer(t, map[string][]byte{"/dog.png": testPNG(t, 99, 10)})
	for _, c := range []struct {
		what string
		send func() (int, map[string]any)
		want []byte
	}{
		{"multipart", func() (int, map[string]any) {
			return w.multipartCall(wx.RouteSendFriendMessage, "media", "mp.png", img, "id", wangID)
		}, img},
		{"media_path file", func() (int, map[string]any) {
			return w.wcall(viaJSON, wx.RouteSendGroupMessage, "id", perlID, "media_path", w.writeMedia("g.png", testPNG(t, 5, 1)))
		}, testPNG(t, 5, 1)},
		{"media_path URL", func() (int, map[string]any) {
			return w.wcall(viaGET, wx.RouteSendFriendMessage, "id", wangID, "media_path", srv.URL+"/dog.png")
		}, testPNG(t, 99, 10)},
	} {
		code, r := c.send()
		peer := wangID
		if strings.Contains(c.what, "file") {
			peer = perlID
		}
		sent(t, c.what, code, r, peer)
		if mid, _ := r["media_id"].(string); mid == "" || !bytes.Equal(w.storedMedia(mid), c.want) {
			t.Errorf("%s: media_id %v does not hold the bytes sent", c.what, r["media_id"])
		}
		if d := w.lastDelivery(peer); !bytes.Equal(d.MediaData, c.want) {
			t.Errorf("%s: WeChat got %d bytes, want %d", c.what, len(d.MediaData), len(c.want))
		}
	}
}

// Every bad media is a JSON error with a non-zero code, and nothing is stored: not in the
// stream, not in the bucket.
func TestOpenwxMediaRefused(t *testing.T) {
	w := startWX(t)
	wangID := str(t, w.friendBy("markname", "老王"), "id")
	outside := filepath.Join(t.TempDir(), "outside.png")
	if err := os.WriteFile(outside, testPNG(t, 1, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(w.mediaDir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(w.mediaDir, "link.png")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	big := testPNG(t, 2, wxMediaMax)
	bigPath := w.writeMedia("big.png", big)
	srv := mediaServer(t, map[string][]byte{"/big.png": big})
	for _, route := range []string{wx.RouteSendFriendMessage, wx.RouteUploadMedia, wx.RouteConsult} {
		for _, c := range []struct {
			what   string
			kv     []string
			code   int64
			status string
		}{
			{"a file outside MEDIA_DIR", []string{"media_path", outside}, events.CodeBadRequest, "bad request"},
			{"a .. out of MEDIA_DIR", []string{"media_path", filepath.Join(w.mediaDir, "..", filepath.Base(filepath.Dir(outside)), "outside.png")}, events.CodeBadRequest, "bad request"},
			{"a symlink out of MEDIA_DIR", []string{"media_path", link}, events.CodeBadRequest, "bad request"},
			{"a directory", []string{"media_path", sub}, events.CodeBadRequest, "bad request"},
			{"a missing file", []string{"media_path", filepath.Join(w.mediaDir, "none.png")}, events.CodeBadRequest, "bad request"},
			{"file: scheme", []string{"media_path", "file://" + outside}, events.CodeBadRequest, "bad request"},
			{"ftp: scheme", []string{"media_path", "ftp://127.0.0.1/x.png"}, events.CodeBadRequest, "bad request"},
			{"a file over the limit", []string{"media_path", bigPath}, events.CodeTooLarge, ""},
			{"a URL over the limit", []string{"media_path", srv.URL + "/big.png"}, events.CodeTooLarge, ""},
			{"a URL not found", []string{"media_path", srv.URL + "/none.png"}, events.CodeMediaFetch, ""},
			{"media_data over the limit", []string{"media_data", base64.StdEncoding.EncodeToString(big)}, events.CodeTooLarge, ""},
			{"media_data not base64", []string{"media_data", "!!!!"}, events.CodeBadRequest, "bad request"},
			{"an unknown media_id", []string{"media_id", "nosuchmedia:3"}, events.CodeNotFound, "media_id"},
		} {
			for _, v := range []via{viaGET, viaForm, viaJSON} {
				if strings.HasPrefix(c.what, "media_data over") && v == viaGET {
					continue // over the URL's length anyway
				}
				kv := append([]string{"id", wangID}, c.kv...)
				before := w.counts()
				code, r := w.wcall(v, route, kv...)
				w.refused(route+" "+c.what+" "+string(v), code, r, c.code, c.status, before)
			}
		}
	}
	// Multipart: over the limit, and a good media whose call is refused.
	for _, c := range []struct {
		what   string
		route  string
		file   []byte
		kv     []string
		code   int64
		status string
	}{
		{"multipart over the limit", wx.RouteUploadMedia, big, nil, events.CodeTooLarge, ""},
	} {
		before := w.counts()
		code, r := w.multipartCall(c.route, "media", "x.png", c.file, c.kv...)
		w.refused(c.what, code, r, c.code, c.status, before)
	}
	// upload_media with nothing to upload.
	for _, v := range vias {
		before := w.counts()
		code, r := w.wcall(v, wx.RouteUploadMedia, "media_name", "x.png")
		w.refused("upload_media without media", code, r, events.CodeBadRequest, "bad request", before)
	}
	if got := w.sim.Sent(); len(got) != 0 {
		t.Errorf("WeChat got %d sends from refused calls", len(got))
	}
}

// A good media whose call the session refuses (an unknown id, no friend to consult) is not
// kept: the gateway stored it before the call crossed NATS, and nothing refers to it.
func TestOpenwxRefusedCallKeepsNoUpload(t *testing.T) {
	w := startWX(t)
	for _, c := range []struct {
		what  string
		route string
		kv    []string
	}{
		{"to an unknown friend", wx.RouteSendFriendMessage, []string{"id", "@nobody"}},
		{"to an unknown group", wx.RouteSendGroupMessage, []string{"id", "@@nobody"}},
		{"consult of a group", wx.RouteConsult, []string{"id", "@@nobody"}},
	} {
		before := w.counts()
		code, r := w.multipartCall(c.route, "media", "x.png", testPNG(t, 3, 0), c.kv...)
		w.refused("multipart "+c.what, code, r, events.CodeNotFound, "object not found", before)
		before = w.counts()
		code, r = w.wcall(viaForm, c.route, append(c.kv, "media_data", base64.StdEncoding.EncodeToString(testPNG(t, 4, 0)))...)
		w.refused("media_data "+c.what, code, r, events.CodeNotFound, "object not found", before)
	}
}
