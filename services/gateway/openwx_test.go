package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// avatarBytes is what the test Openwx session answers get_avatar with.
var avatarBytes = []byte("\xff\xd8\xff\xe0 not really a jpeg \x00\x01")

// startWx starts the gateway (startEnv: NATS and the Openqq test session) and a real micro
// service "openwx" on wx.api.<route> standing in for the WeChat session: it echoes what it got,
// answers get_avatar with bytes (503 empty for id=notready) and check_event with [].
func startWx(t *testing.T, cfg Config) *env {
	t.Helper()
	e := startEnv(t, cfg, false)
	nc := natstest.Connect(t, e.srv)
	svc, err := micro.AddService(nc, micro.Config{Name: wx.ServiceName, Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	grp := svc.AddGroup(wx.Prefix + ".api")
	for _, route := range wx.Routes {
		err := grp.AddEndpoint(route, micro.HandlerFunc(func(req micro.Request) {
			var p map[string]string
			if err := json.Unmarshal(req.Data(), &p); err != nil {
				p = map[string]string{"__undecodable__": string(req.Data())}
			}
			rec := received{Subject: req.Subject(), Params: p,
				Ticket: req.Headers().Get(events.HeaderTicket), Hold: req.Headers().Get(events.HeaderHold)}
			e.mu.Lock()
			if rid, ok := p["rid"]; ok {
				e.got[rid] = rec
			}
			e.mu.Unlock()
			select {
			case e.seen <- rec:
			default:
			}
			switch {
			case route == wx.RouteGetAvatar && p["id"] == "notready":
				_ = req.Error("503", "avatar not ready", nil, micro.WithHeaders(micro.Headers{events.HeaderContentType: {"image/jpg"}}))
			case route == wx.RouteGetAvatar:
				_ = req.Respond(avatarBytes, micro.WithHeaders(micro.Headers{
					events.HeaderContentType: {"image/jpg"}, events.HeaderCacheControl: {"max-age=3600"}}))
			case route == wx.RouteCheckEvent:
				_ = req.Respond([]byte("[]"))
			case route == wx.RouteConsult && p["hold"] != "":
				// Holds the call as the session does until the friend answers.
				d, _ := time.ParseDuration(p["hold"])
				time.AfterFunc(d, func() { _ = req.Respond(events.MustMarshal(rec)) })
			default:
				_ = req.Respond(events.MustMarshal(rec))
			}
		}), micro.WithEndpointSubject(route))
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil { // the endpoints are subscribed before the first call
		t.Fatal(err)
	}
	return e
}

// wxStore opens the media bucket the gateway puts uploads into, to read them back.
func wxStore(t *testing.T, e *env) (*media.Store, jetstream.JetStream) {
	t.Helper()
	js, err := jetstream.New(natstest.Connect(t, e.srv))
	if err != nil {
		t.Fatal(err)
	}
	st, err := media.Open(context.Background(), js, events.Subjects{Prefix: "wx"}.MediaBucket(), e.g.cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	return st, js
}

// storedCount is how many media the bucket holds (0 when it does not exist).
func storedCount(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	ctx := context.Background()
	obs, err := js.ObjectStore(ctx, events.Subjects{Prefix: "wx"}.MediaBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0
	}
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

// wantText403 asserts Openwx's catch-all: HTTP 403, the text "api not found", CORS.
func wantText403(t *testing.T, a answer) {
	t.Helper()
	if a.status != http.StatusForbidden || string(a.body) != "api not found" {
		t.Errorf("HTTP %d %q, want 403 \"api not found\"", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want text/plain", ct)
	}
	if got := a.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q, want *", got)
	}
}

// Both platforms side by side: each path reaches its own subject, with the same parameter
// reading (query, form, multipart, JSON), and the replies are the session's.
func TestOpenwxBesideOpenqq(t *testing.T) {
	e := startWx(t, Config{})
	mpCT, mpBody := multipartBody(t, part{name: "id", value: "@abc"}, part{name: "content", value: "你好"})
	for _, tc := range []struct {
		name string
		c    call
		subj string
		want map[string]string
	}{
		{"qq GET", call{path: "/openqq/get_user_info", query: "rid=1"}, "qq.api.get_user_info", map[string]string{"rid": "1"}},
		{"wx GET", call{path: "/openwx/get_user_info", query: "rid=2"}, "wx.api.get_user_info", map[string]string{"rid": "2"}},
		{"wx HEAD", call{method: http.MethodHead, path: "/openwx/get_friend_info", query: "rid=head"}, "wx.api.get_friend_info", nil},
		{"wx POST form", call{method: http.MethodPost, path: "/openwx/search_friend", query: "a=1", ct: "application/x-www-form-urlencoded", body: []byte("name=%E5%BC%A0&a=2")},
			"wx.api.search_friend", map[string]string{"name": "张", "a": "2"}},
		{"wx POST multipart", call{method: http.MethodPost, path: "/openwx/send_friend_message", ct: mpCT, body: mpBody},
			"wx.api.send_friend_message", map[string]string{"id": "@abc", "content": "你好"}},
		{"wx POST JSON", call{method: http.MethodPost, path: "/openwx/send_group_message", ct: "application/json", body: []byte(`{"id":"@@g","content":"hi"}`)},
			"wx.api.send_group_message", map[string]string{"id": "@@g", "content": "hi"}},
		{"wx seed route", call{method: http.MethodPost, path: "/openwx/sticky_group", query: "id=@@g&op=1"}, "wx.api.sticky_group", map[string]string{"id": "@@g", "op": "1"}},
		{"qq POST JSON", call{method: http.MethodPost, path: "/openqq/send_friend_message", ct: "application/json", body: []byte(`{"id":1,"content":"hi"}`)},
			"qq.api.send_friend_message", map[string]string{"id": "1", "content": "hi"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(t, tc.c)
			if tc.c.method == http.MethodHead {
				got, _ := e.receivedBy("head")
				if got.Subject != tc.subj {
					t.Errorf("subject %q, want %q", got.Subject, tc.subj)
				}
				return
			}
			got := decodeEcho(t, a)
			if got.Subject != tc.subj {
				t.Errorf("subject %q, want %q", got.Subject, tc.subj)
			}
			if !equalParams(got.Params, tc.want) {
				t.Errorf("params %q, want %q", got.Params, tc.want)
			}
		})
	}
	// Every Openwx route reaches its subject.
	for _, route := range wx.Routes {
		if route == wx.RouteGetAvatar || route == wx.RouteCheckEvent {
			continue
		}
		if got := decodeEcho(t, e.do(t, call{path: wx.APIPath(route)})); got.Subject != "wx.api."+route {
			t.Errorf("%s reached %q", route, got.Subject)
		}
	}
}

// Openwx's own rules: an unknown route, a path that is no route and a POST to a GET-only route
// answer 403 with the text "api not found"; Openqq's answers stay JSON.
func TestOpenwxNotFound(t *testing.T) {
	e := startWx(t, Config{})
	for _, c := range []call{
		{path: "/openwx/no_such_route"},
		{path: "/openwx/send_message"}, // demo/openwx-client.pl's route, which never existed
		{path: "/openwx/get_user_info/x"},
		{path: "/openwx/"},
		{path: "/openwx//get_user_info"},
		{method: http.MethodPut, path: "/openwx/send_friend_message"},
		{method: http.MethodDelete, path: "/openwx/get_user_info"},
		{method: http.MethodPost, path: "/openwx/get_user_info"},
		{method: http.MethodPost, path: "/openwx/get_friend_info", ct: "application/json", body: []byte(`{}`)},
		{method: http.MethodPost, path: "/openwx/get_group_info", ct: "application/x-www-form-urlencoded", body: []byte("a=1")},
		{method: http.MethodPost, path: "/openwx/get_group_basic_info"},
		{path: "/openwx/discuss_message"},
		{path: "/openwx/send_discuss_message"}, // an Openqq route Openwx lacks
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) { wantText403(t, e.doRaw(t, c)) })
	}
	for _, c := range []call{
		{path: "/openqq/no_such_route"},
		{path: "/openqq/get_avatar"}, // an Openwx route Openqq lacks
		{path: "/nowhere"},
		{path: "/openwx"},
	} {
		t.Run("json "+c.path, func(t *testing.T) { wantStatus(t, e.do(t, c), events.ErrAPINotFound) })
	}
	// POST keeps working where Openwx takes it, and on Openqq's get_*_info.
	decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openqq/get_user_info"}))
	decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openwx/get_client_info"}))
}

// With OPENWX_OFF the /openwx paths are unknown paths like any other, as before Openwx.
func TestOpenwxOff(t *testing.T) {
	e := startEnv(t, Config{OpenwxOff: true}, false)
	wantStatus(t, e.do(t, call{path: "/openwx/get_user_info"}), events.ErrAPINotFound)
	decodeEcho(t, e.do(t, call{path: "/openqq/get_user_info"}))
}

// An auth failure on Openwx is HTTP 200 {"code":-6,"status":"auth failure"}; on Openqq it stays
// 403. An upload without a token stores nothing.
func TestOpenwxAuth(t *testing.T) {
	e := startWx(t, Config{AccessToken: "s3cret"})
	_, js := wxStore(t, e)
	body := events.MustMarshal(events.ErrAuthFailure)
	mpCT, mpBody := multipartBody(t, part{name: "media", value: "image bytes", file: true})
	for _, c := range []call{
		{path: "/openwx/get_user_info"},
		{path: "/openwx/get_user_info", query: "access_token=wrong"},
		{method: http.MethodPost, path: "/openwx/send_friend_message", ct: "application/x-www-form-urlencoded", body: []byte("id=@a&content=x&access_token=wrong")},
		{method: http.MethodPost, path: "/openwx/upload_media", ct: mpCT, body: mpBody},
		// The token of a streamed upload goes in the header or the query: its body is not
		// read for it.
		{method: http.MethodPost, path: "/openwx/upload_media", ct: "application/x-www-form-urlencoded",
			body: []byte("access_token=s3cret&media_data=" + strings.Repeat("aGk=", 1<<18))},
		{path: "/openwx/no_such_route"},
	} {
		a := e.do(t, c)
		if a.status != http.StatusOK || !bytes.Equal(a.body, body) {
			t.Errorf("%s %s: HTTP %d %s, want 200 %s", c.method, c.path, a.status, a.body, body)
		}
	}
	wantStatus(t, e.do(t, call{path: "/openqq/get_user_info"}), events.ErrAuthFailure)
	if n := storedCount(t, js); n != 0 {
		t.Errorf("%d media stored by calls without the token", n)
	}
	auth := map[string]string{"Authorization": "Bearer s3cret"}
	decodeEcho(t, e.do(t, call{path: "/openwx/get_user_info", header: auth}))
	decodeEcho(t, e.do(t, call{path: "/openwx/get_user_info", query: "access_token=s3cret"}))
	decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openwx/search_friend", ct: "application/x-www-form-urlencoded", body: []byte("access_token=s3cret&name=x")}))
	got := decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openwx/upload_media", query: "access_token=s3cret", ct: mpCT, body: mpBody}))
	if got.Params["media_id"] == "" || got.Params["access_token"] != "" {
		t.Errorf("upload with the token in the query: params %q", got.Params)
	}
	// A small form is read whole, its token too, as for any call.
	got = decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openwx/send_friend_message", ct: "application/x-www-form-urlencoded",
		body: []byte("access_token=s3cret&id=@a&media_data=aGk=")}))
	if got.Params["media_id"] == "" || got.Params["media_data"] != "" || got.Params["access_token"] != "" {
		t.Errorf("small form upload with the token in the body: params %q", got.Params)
	}
	decodeEcho(t, e.do(t, call{path: "/openqq/get_user_info", header: auth}))
	// Unknown routes stay text 403 once the token is right.
	wantText403(t, e.doRaw(t, call{path: "/openwx/nope", header: auth}))
}

// JSONP and CORS on /openwx, as on /openqq.
func TestOpenwxJSONPAndCORS(t *testing.T) {
	e := startWx(t, Config{})
	a := e.do(t, call{path: "/openwx/get_user_info", query: "datatype=jsonp&callback=cb.x&rid=9"})
	cb, inner, ok := unwrapJSONP(a.body)
	if !ok || cb != "cb.x" {
		t.Fatalf("JSONP body %q", a.body)
	}
	var r received
	if err := json.Unmarshal(inner, &r); err != nil || r.Subject != "wx.api.get_user_info" {
		t.Errorf("JSONP inner %q: %v", inner, err)
	}
	if a.header.Get("X-Content-Type-Options") != "" {
		t.Error("a JSONP reply has nosniff")
	}
	wantStatus(t, e.do(t, call{path: "/openwx/get_user_info", query: "datatype=jsonp&callback=alert(1)"}),
		events.ErrBadRequest("callback must be a JavaScript identifier"))
	pre := e.doRaw(t, call{method: http.MethodOptions, path: "/openwx/send_friend_message"})
	if pre.status != http.StatusOK || pre.header.Get("Access-Control-Allow-Origin") != "*" ||
		pre.header.Get("Access-Control-Allow-Methods") != allowMethods || pre.header.Get("Access-Control-Allow-Headers") != allowHeaders {
		t.Errorf("preflight: HTTP %d %v", pre.status, pre.header)
	}
}

// get_avatar answers bytes with the session's type and Cache-Control; an avatar not ready is
// 503 with an empty body, as Mojo answers.
func TestOpenwxBytesReply(t *testing.T) {
	e := startWx(t, Config{})
	a := e.doRaw(t, call{path: "/openwx/get_avatar", query: "id=@a"})
	if a.status != http.StatusOK || !bytes.Equal(a.body, avatarBytes) {
		t.Fatalf("HTTP %d %q, want 200 with the avatar", a.status, a.body)
	}
	if ct, cc := a.header.Get("Content-Type"), a.header.Get("Cache-Control"); ct != "image/jpg" || cc != "max-age=3600" {
		t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
	}
	if a.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS on a bytes reply")
	}
	// JSONP does not wrap bytes.
	if a := e.doRaw(t, call{path: "/openwx/get_avatar", query: "id=@a&datatype=jsonp&callback=cb"}); !bytes.Equal(a.body, avatarBytes) {
		t.Errorf("with JSONP: %q", a.body)
	}
	a = e.doRaw(t, call{path: "/openwx/get_avatar", query: "id=notready"})
	if a.status != http.StatusServiceUnavailable || len(a.body) != 0 {
		t.Errorf("not ready: HTTP %d %q, want 503 and no body", a.status, a.body)
	}
}

// A consult is held by the session until the friend answers, up to its timeout: the gateway
// waits that long beyond API_TIMEOUT, and no longer when the timeout is one the session refuses.
func TestOpenwxConsultHold(t *testing.T) {
	e := startWx(t, Config{APITimeout: 200 * time.Millisecond})
	tests := []struct {
		query  string
		status int
	}{
		{"id=@f&content=hi&timeout=5&hold=600ms", http.StatusOK},
		{"id=@f&content=hi&hold=600ms", http.StatusOK}, // the default 30 s
		{"id=@f&content=hi&timeout=abc&hold=600ms", http.StatusGatewayTimeout},
		{"id=@f&content=hi&timeout=0.1&hold=600ms", http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		if a := e.doRaw(t, call{path: "/openwx/consult", query: tt.query}); a.status != tt.status {
			t.Errorf("%s: HTTP %d %s, want %d", tt.query, a.status, a.body, tt.status)
		}
	}
}

// check_event on /openwx is the long poll of wx: its ticket, and its release on wx's subject.
func TestOpenwxCheckEvent(t *testing.T) {
	e := startWx(t, Config{CheckEventHold: 2 * time.Second})
	nc := natstest.Connect(t, e.srv)
	releases := make(chan *nats.Msg, 4)
	sub, err := nc.ChanSubscribe(events.Subjects{Prefix: "wx"}.CheckEventRelease(), releases)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a := e.do(t, call{path: "/openwx/check_event"})
	if string(a.body) != "[]" {
		t.Errorf("check_event: %q", a.body)
	}
	got := <-e.seen
	if got.Subject != "wx.api.check_event" || got.Ticket == "" || got.Hold != "2s" {
		t.Errorf("session got %+v", got)
	}
	select {
	case m := <-releases:
		var rel events.CheckEventRelease
		if err := json.Unmarshal(m.Data, &rel); err != nil || rel.Ticket != got.Ticket || !rel.Delivered {
			t.Errorf("release %s: %v", m.Data, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no release on wx's subject")
	}
}

// A media in a call's body is stored before the call crosses NATS: the session gets its
// media_id (and media_name, media_mime), never the bytes; the store holds exactly them.
func TestOpenwxUpload(t *testing.T) {
	// The 42 KB forms are over MAX_BODY_BYTES: they stream; the small ones are read whole.
	e := startWx(t, Config{MaxBodyBytes: 16 << 10})
	st, _ := wxStore(t, e)
	img := bytes.Repeat([]byte("\x89PNG\r\n\x1a\nimage"), 3000) // 42 KB
	b64 := base64.StdEncoding.EncodeToString(img)
	small := base64.StdEncoding.EncodeToString(img[:300])
	mpFile := func(field string) (string, []byte) {
		return multipartBody(t, part{name: "id", value: "@f"}, part{name: field, value: string(img), file: true})
	}
	mpCT, mpBody := mpFile("media")
	dataCT, dataBody := mpFile("media_data")
	pathCT, pathBody := mpFile("media_path")
	fieldCT, fieldBody := multipartBody(t, part{name: "media_data", value: b64}, part{name: "media_name", value: "x.png"})
	for _, tc := range []struct {
		name  string
		c     call
		route string
		name_ string // the media_name the session must see ("" : any)
		n     int    // the bytes of img sent (0: all)
	}{
		{"multipart media", call{method: http.MethodPost, path: "/openwx/upload_media", ct: mpCT, body: mpBody}, "upload_media", "upload.bin", 0},
		{"multipart media_data file", call{method: http.MethodPost, path: "/openwx/send_friend_message", ct: dataCT, body: dataBody}, "send_friend_message", "upload.bin", 0},
		{"multipart media_path file", call{method: http.MethodPost, path: "/openwx/send_group_message", ct: pathCT, body: pathBody}, "send_group_message", "upload.bin", 0},
		{"multipart media_data field", call{method: http.MethodPost, path: "/openwx/consult", ct: fieldCT, body: fieldBody}, "consult", "x.png", 0},
		{"form media_data", call{method: http.MethodPost, path: "/openwx/upload_media", ct: "application/x-www-form-urlencoded",
			body: []byte("media_name=a.png&media_data=" + url.QueryEscape(b64) + "&id=%40f")}, "upload_media", "a.png", 0},
		{"form media_data, + unescaped", call{method: http.MethodPost, path: "/openwx/upload_media", ct: "application/x-www-form-urlencoded",
			body: []byte("media_data=" + b64)}, "upload_media", "", 0},
		{"form media_data, URL-safe unpadded", call{method: http.MethodPost, path: "/openwx/upload_media", ct: "application/x-www-form-urlencoded",
			body: []byte("media_data=" + base64.RawURLEncoding.EncodeToString(img))}, "upload_media", "", 0},
		{"JSON media_data", call{method: http.MethodPost, path: "/openwx/send_friend_message", ct: "application/json",
			body: []byte(`{"id":"@f","media_data":"` + small + `","media_mime":"image/png"}`)}, "send_friend_message", "", 300},
		{"small form media_data", call{method: http.MethodPost, path: "/openwx/upload_media", ct: "application/x-www-form-urlencoded",
			body: []byte("media_data=" + url.QueryEscape(small))}, "upload_media", "", 300},
		{"query media_data", call{path: "/openwx/upload_media", query: "media_data=" + url.QueryEscape(small)}, "upload_media", "", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeEcho(t, e.do(t, tc.c))
			if got.Subject != "wx.api."+tc.route {
				t.Errorf("subject %q", got.Subject)
			}
			id := got.Params["media_id"]
			if id == "" || got.Params["media_data"] != "" || got.Params["media_path"] != "" {
				t.Fatalf("the session got %q: want a media_id and no bytes", got.Params)
			}
			if tc.name_ != "" && got.Params["media_name"] != tc.name_ {
				t.Errorf("media_name %q, want %q", got.Params["media_name"], tc.name_)
			}
			b, meta, err := st.Bytes(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			want := img
			if tc.n > 0 {
				want = img[:tc.n]
			}
			if !bytes.Equal(b, want) {
				t.Errorf("stored %d bytes, want the %d sent", len(b), len(want))
			}
			if meta.Mime != "image/png" {
				t.Errorf("stored mime %q", meta.Mime)
			}
			if m := got.Params["media_mime"]; m != "" && m != "image/png" {
				t.Errorf("the session got media_mime %q", m)
			}
		})
	}
	// An empty media_data is no media, as the store reads a blank field.
	emptyCT, emptyBody := multipartBody(t, part{name: "media_data", value: ""}, part{name: "content", value: "x"})
	for _, c := range []call{
		{method: http.MethodPost, path: "/openwx/send_friend_message", ct: "application/x-www-form-urlencoded", body: []byte("media_data=&content=x")},
		{method: http.MethodPost, path: "/openwx/send_friend_message", ct: "application/x-www-form-urlencoded", body: []byte("media_data=&content=x" + strings.Repeat("&a=b", 5000))},
		{method: http.MethodPost, path: "/openwx/send_friend_message", ct: emptyCT, body: emptyBody},
	} {
		if got := decodeEcho(t, e.do(t, c)); got.Params["media_id"] != "" || got.Params["content"] != "x" {
			t.Errorf("empty media_data (%d bytes): the session got %q", len(c.body), got.Params)
		}
	}
	// A call of any other route keeps its media_data: only media routes store.
	got := decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openwx/search_friend", ct: "application/x-www-form-urlencoded", body: []byte("media_data=aGk=")}))
	if got.Params["media_data"] != "aGk=" || got.Params["media_id"] != "" {
		t.Errorf("search_friend: %q", got.Params)
	}
}

// Bad uploads get a clear JSON error, the session is not asked and nothing is stored.
func TestOpenwxUploadRefused(t *testing.T) {
	cfg := Config{MaxBodyBytes: 2048}
	cfg.Config.MaxBytes = 10_000
	e := startWx(t, cfg)
	_, js := wxStore(t, e)
	big := bytes.Repeat([]byte("x"), 10_001)
	bigB64 := base64.StdEncoding.EncodeToString(big)
	mpBig, mpBigBody := multipartBody(t, part{name: "media", value: string(big), file: true})
	mpHuge, mpHugeBody := multipartBody(t, part{name: "media", value: string(bytes.Repeat([]byte("x"), 40_000)), file: true})
	mpOther, mpOtherBody := multipartBody(t, part{name: "picture", value: "x", file: true})
	mpTwo, mpTwoBody := multipartBody(t, part{name: "media", value: "a", file: true}, part{name: "media_data", value: "b", file: true})
	mpParams, mpParamsBody := multipartBody(t, part{name: "content", value: strings.Repeat("y", 3000)}, part{name: "media", value: "a", file: true})
	mpEmpty, mpEmptyBody := multipartBody(t, part{name: "media", value: "", file: true})
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name string
		c    call
		code int
	}{
		{"multipart over MEDIA_MAX_BYTES", call{ct: mpBig, body: mpBigBody}, events.CodeTooLarge},
		{"multipart body over its limit", call{ct: mpHuge, body: mpHugeBody}, events.CodeTooLarge},
		{"form media_data over MEDIA_MAX_BYTES", call{ct: form, body: []byte("media_data=" + url.QueryEscape(bigB64))}, events.CodeTooLarge},
		{"other fields over MAX_BODY_BYTES", call{ct: mpParams, body: mpParamsBody}, events.CodeTooLarge},
		{"form fields over MAX_BODY_BYTES", call{ct: form, body: []byte("content=" + strings.Repeat("y", 3000) + "&media_data=aGk=")}, events.CodeTooLarge},
		{"JSON over MAX_BODY_BYTES", call{ct: "application/json", body: []byte(`{"media_data":"` + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 3000)) + `"}`)}, events.CodeTooLarge},
		{"not base64", call{ct: form, body: []byte("media_data=%21%21%21%21")}, events.CodeBadRequest},
		{"bad escape", call{ct: form, body: []byte("media_data=aG%zz")}, events.CodeBadRequest},
		{"empty file", call{ct: mpEmpty, body: mpEmptyBody}, events.CodeBadRequest},
		{"file part of another name", call{ct: mpOther, body: mpOtherBody}, events.CodeBadRequest},
		{"two media", call{ct: mpTwo, body: mpTwoBody}, events.CodeBadRequest},
		{"broken multipart", call{ct: "multipart/form-data; boundary=x", body: []byte("--x\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a\"\r\n\r\nabc")}, events.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.method, tc.c.path, tc.c.query = http.MethodPost, "/openwx/send_friend_message", "rid="+url.QueryEscape(tc.name)
			a := e.do(t, tc.c)
			st := decodeStatus(t, a.body)
			if st.Code != tc.code || a.status != events.HTTPStatus(tc.code) {
				t.Errorf("HTTP %d %s, want code %d", a.status, a.body, tc.code)
			}
		})
	}
	if n := storedCount(t, js); n != 0 {
		t.Errorf("%d media stored by refused calls", n)
	}
	select {
	case got := <-e.seen:
		t.Errorf("the session was asked: %+v", got)
	default:
	}
	// Non-media routes keep MAX_BODY_BYTES whatever MEDIA_MAX_BYTES is.
	a := e.do(t, call{method: http.MethodPost, path: "/openwx/search_friend", ct: form, body: []byte("name=" + strings.Repeat("y", 3000))})
	wantStatus(t, a, events.ErrTooLarge)
	// Just under the limit goes through.
	ok := bytes.Repeat([]byte("x"), 10_000)
	okCT, okBody := multipartBody(t, part{name: "media", value: string(ok), file: true})
	if got := decodeEcho(t, e.do(t, call{method: http.MethodPost, path: "/openwx/upload_media", ct: okCT, body: okBody})); got.Params["media_id"] == "" {
		t.Errorf("a media of MEDIA_MAX_BYTES: %q", got.Params)
	}
}

// freeAddrs returns n loopback addresses whose ports were free a moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, ln.Addr().String())
		_ = ln.Close()
	}
	return addrs
}

// HTTP_ADDR lists addresses: the gateway serves both APIs on each, and stops on all.
func TestListenEveryAddress(t *testing.T) {
	srv := natstest.Start(t)
	addrs := freeAddrs(t, 2)
	g, err := New(natstest.Connect(t, srv), withDefaults(Config{Addr: addrs[0] + ", " + addrs[1]}), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	lns, err := g.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- g.Serve(ctx, lns...) }()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, a := range addrs {
		for _, path := range []string{"/openqq/nope", "/openwx/nope"} {
			resp, err := c.Get("http://" + a + path)
			if err != nil {
				t.Fatalf("%s%s: %v", a, path, err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s%s: HTTP %d", a, path, resp.StatusCode)
			}
		}
	}
	c.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	for _, a := range addrs {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			_ = conn.Close()
			t.Errorf("%s still accepts after the shutdown", a)
		}
	}
}

// A busy or bad address fails the start, named; the listeners already open are closed.
func TestListenBadAddress(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := freeAddrs(t, 1)[0]
	g, err := New(nil, withDefaults(Config{Addr: free + "," + busy.Addr().String()}), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Listen()
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Listen with a busy address: %v", err)
	}
	ln, err := net.Listen("tcp", free)
	if err != nil {
		t.Fatalf("the first address was left open: %v", err)
	}
	_ = ln.Close()
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:5000,", "a:1,a:1", ",", "127.0.0.1:1,nohostport"} {
		if _, err := New(nil, withDefaults(Config{Addr: addr}), nil); err == nil || !strings.Contains(err.Error(), "HTTP_ADDR") {
			t.Errorf("HTTP_ADDR=%q: %v", addr, err)
		}
	}
	if _, err := New(nil, withDefaults(Config{WxSubjectPrefix: "qq"}), nil); err == nil {
		t.Error("WX_SUBJECT_PREFIX equal to SUBJECT_PREFIX was taken")
	}
	if _, err := New(nil, withDefaults(Config{WxSubjectPrefix: "w x"}), nil); err == nil {
		t.Error("a bad WX_SUBJECT_PREFIX was taken")
	}
}

// formValue percent-decodes a streamed media_data, keeping a bare '+'.
func TestOpenwxFormValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		err  bool
	}{
		{"aGk=", "aGk=", false},
		{"a%2Bb%2f&x=1", "a+b/", false},
		{"a+b", "a+b", false},
		{"%zz", "", true},
		{"%4", "", true},
		{"", "", false},
	} {
		var out bytes.Buffer
		_, err := out.ReadFrom(&formValue{br: bufio.NewReader(strings.NewReader(tc.in))})
		if (err != nil) != tc.err || !tc.err && out.String() != tc.want {
			t.Errorf("%q: %q, %v; want %q (error %v)", tc.in, out.String(), err, tc.want, tc.err)
		}
	}
}

// /openwx/events streams WX_EVENTS, beside /openqq/events on QQ_EVENTS; its filter takes the
// WeChat item names; /console/reporters?platform=wx lists WX_EVENTS's reporters.
func TestOpenwxEvents(t *testing.T) {
	e := startStream(t, Config{}, false, nil)
	wxs := events.Subjects{Prefix: "wx"}
	e.createStream(wxs.Stream(), wxs.Events())
	wxAll := e.openPath(pathWxEvents, "")
	wxReq := e.openPath(pathWxEvents, "filter=friend_request")
	qqAll := e.open("")
	pub := func(subj, data string) stored {
		ack, err := e.js.Publish(context.Background(), subj, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return stored{ack.Sequence, events.EventName(subj), data}
	}
	qq := pub(events.Subjects{}.Event(events.FriendMessage), `{"post_type":"receive_message","type":"friend_message"}`)
	msg := pub(wxs.Event("friend_message"), `{"post_type":"receive_message","type":"friend_message","format":"media"}`)
	req := pub(wxs.Event("friend_request"), `{"post_type":"event","event":"friend_request","params":["@a","A","hi","t"]}`)
	qqAll.want([]stored{qq})
	wxAll.want([]stored{msg, req})
	wxReq.want([]stored{req})
	if resp := e.get(pathWxEvents, "filter=no.such"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad filter name: HTTP %d", resp.StatusCode)
	}
	for _, q := range []string{"platform=wx", "", "platform=qq"} {
		resp := e.get(pathReporters, q)
		a := readAnswer(t, resp)
		if a.status != http.StatusOK || decodeStatus(t, a.body).Code != events.CodeOK {
			t.Errorf("reporters?%s: HTTP %d %s", q, a.status, a.body)
		}
	}
	if a := readAnswer(t, e.get(pathReporters, "platform=xx")); a.status != http.StatusBadRequest {
		t.Errorf("reporters?platform=xx: HTTP %d %s", a.status, a.body)
	}
}

// The Openwx calls are counted in their own family, by Openwx route; unknown /openwx paths
// count as "unknown" there, and /openqq's family sees none of them. get_*_info go through the
// reply cache.
func TestOpenwxMetrics(t *testing.T) {
	e := startWx(t, Config{})
	before := metricstest.Local(t)
	e.do(t, call{path: "/openwx/get_client_info"})
	e.doRaw(t, call{path: "/openwx/get_avatar", query: "id=@a"})
	e.doRaw(t, call{path: "/openwx/nope"})
	e.doRaw(t, call{method: http.MethodPost, path: "/openwx/get_user_info"})
	e.do(t, call{path: "/openwx/get_friend_info"})
	after := metricstest.Local(t)
	// get_*_info go through the reply cache, as on /openqq (a session without versions: a miss).
	if got := metricstest.Delta(before, after, "openqq_gateway_reply_cache_total", "route", "get_friend_info"); got != 1 {
		t.Errorf("openqq_gateway_reply_cache_total{route=get_friend_info} rose by %v, want 1", got)
	}
	for _, tc := range []struct {
		route, code string
		want        float64
	}{
		{"get_client_info", "200", 1},
		{"get_avatar", "200", 1},
		{routeUnknown, "403", 2},
	} {
		if got := metricstest.Delta(before, after, "openqq_wx_api_requests_total", "route", tc.route, "code", tc.code); got != tc.want {
			t.Errorf("openqq_wx_api_requests_total{route=%q,code=%q} rose by %v, want %v", tc.route, tc.code, got, tc.want)
		}
	}
	// The POST to a GET-only route is no call of it: unknown, like Mojo's catch-all.
	if got := metricstest.Delta(before, after, "openqq_wx_api_requests_total", "route", "get_user_info"); got != 0 {
		t.Errorf("get_user_info counted %v", got)
	}
	if got := metricstest.Delta(before, after, "openqq_api_requests_total", "route", "get_client_info"); got != 0 {
		t.Errorf("an Openwx call counted in openqq_api_requests_total: %v", got)
	}
}

// The console shows the WeChat account beside the QQ one: its panel, filled from /openwx/.
func TestConsoleShowsWx(t *testing.T) {
	g := newBare(t, Config{})
	for path, want := range map[string]string{"/": `id="wx-state"`, "/console/app.js": `"/openwx/" + route`} {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s does not contain %s", path, want)
		}
	}
}

// With several listeners, the exposed-address warning names each address beyond loopback, and
// only those.
func TestExposedWarningEachAddress(t *testing.T) {
	srv := natstest.Start(t)
	var buf proctest.SyncBuffer
	g, err := New(natstest.Connect(t, srv), withDefaults(Config{}), slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var lns []net.Listener
	for _, a := range []string{"127.0.0.1:0", "0.0.0.0:0", "0.0.0.0:0"} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, lns...) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if n := strings.Count(out, "without ACCESS_TOKEN"); n != 2 {
		t.Errorf("%d warnings, want 2 (one per exposed address)\n%s", n, out)
	}
	for _, ln := range lns[1:] {
		if !strings.Contains(out, "addr="+ln.Addr().String()) {
			t.Errorf("no warning names %s", ln.Addr())
		}
	}
	if strings.Contains(out, "whoever reaches "+lns[0].Addr().String()) {
		t.Error("the loopback address was warned about")
	}
}

// An upload streams into the store: the media's first chunks are in the bucket while the
// caller is still sending the rest of its body, which is never held whole.
func TestOpenwxUploadStreams(t *testing.T) {
	e := startWx(t, Config{})
	st, _ := wxStore(t, e) // the bucket exists before the chunks are watched
	nc := natstest.Connect(t, e.srv)
	chunks := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("$O."+events.Subjects{Prefix: "wx"}.MediaBucket()+".C.>", chunks)
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.AutoUnsubscribe(1); err != nil { // the first chunk is all the test waits for
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	first := bytes.Repeat([]byte("a"), 1<<20)
	rest := bytes.Repeat([]byte("b"), 1<<20)
	go func() {
		fw, err := mw.CreateFormFile("media", "big.bin")
		if err == nil {
			_, err = fw.Write(first)
		}
		if err != nil {
			_ = pw.CloseWithError(err)
			return
		}
		// The rest only once a chunk of the first half is stored.
		select {
		case <-chunks:
		case <-time.After(10 * time.Second):
			_ = pw.CloseWithError(errors.New("no chunk stored while the body was open"))
			return
		}
		if _, err := fw.Write(rest); err != nil {
			_ = pw.CloseWithError(err)
			return
		}
		_ = pw.CloseWithError(mw.Close())
	}()
	req, err := http.NewRequest(http.MethodPost, e.base+"/openwx/upload_media", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	got := decodeEcho(t, answer{status: resp.StatusCode, body: body})
	b, _, err := st.Bytes(context.Background(), got.Params["media_id"])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, append(first, rest...)) {
		t.Errorf("stored %d bytes, want the 2 MB sent", len(b))
	}
}

// Each listener of HTTP_ADDR has HTTP_CONNS_PER_IP of its own.
func TestConnsPerIPEachListener(t *testing.T) {
	srv := natstest.Start(t)
	g, err := New(natstest.Connect(t, srv), withDefaults(Config{ConnsPerIP: 1}), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var lns []net.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, lns...) }()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	dial := func(ln net.Listener) (net.Conn, *http.Response) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /openwx/nope HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return c, resp
	}
	// One held on each listener: both served, each its own count.
	for _, ln := range lns {
		if _, resp := dial(ln); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want Openwx's 403", ln.Addr(), resp.StatusCode)
		}
	}
	// A second on either is over its listener's limit.
	for _, ln := range lns {
		if _, resp := dial(ln); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s, second connection: HTTP %d, want 503", ln.Addr(), resp.StatusCode)
		}
	}
}
