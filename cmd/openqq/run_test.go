package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/session/wxdriver/ilink"
	"github.com/openqq/openqq/services/session/wxdriver/ilink/ilinktest"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty/puppettest"
)

// Issue 16's "done when": `make run` (the all-in-one binary, built as make builds it) with
// its WeChat account on a real backend, seen as a bot sees it: the QR states and the login at
// post_api, the contacts over /openwx/, text and a picture received and sent, each reported
// to post_api.

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.RemoveBinaries()
	os.Exit(code)
}

// openqq is the all-in-one binary running with env (on free ports, its store in a temporary
// directory), its WeChat reports going to a real post_api receiver.
type openqq struct {
	t    *testing.T
	base string // http://host:port/openwx/
	post *proctest.Receiver
	proc *proctest.Proc
}

func startOpenqq(t *testing.T, env map[string]string) *openqq {
	t.Helper()
	ctx := context.Background()
	bin, err := proctest.Binaries(ctx, proctest.BinAllInOne)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	g, err := proctest.NewGroup(bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	post := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.MustFreePort(t))
	full := map[string]string{
		"HTTP_ADDR": addr, "HEALTH_ADDR": fmt.Sprintf("127.0.0.1:%d", proctest.MustFreePort(t)),
		"NATS_DONT_LISTEN": "true", "NATS_STORE_DIR": dir + "/nats", "SIM_QRCODE_DIR": dir, "WX_SIM_QRCODE_DIR": dir,
		"WX_POST_API": post.URL, "WX_POST_RETRY_MIN": "20ms", "WX_POST_RETRY_MAX": "200ms", "LOG_LEVEL": "info",
	}
	for k, v := range env {
		full[k] = v
	}
	p, err := g.Start("openqq", proctest.BinAllInOne, full)
	if err != nil {
		t.Fatal(err)
	}
	o := &openqq{t: t, base: "http://" + addr + wx.APIPathPrefix, post: post, proc: p}
	t.Cleanup(func() {
		if !p.StopWithin(10 * time.Second) {
			t.Error("openqq did not stop within 10s")
		}
		if t.Failed() {
			t.Logf("openqq's log:\n%s", p.Tail(60))
		}
	})
	if err := proctest.WaitHTTP(ctx, p, "http://"+addr+wx.APIPathPrefix+wx.RouteGetClientInfo, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return o
}

// call calls an Openwx route (get_*: GET with a query, the rest: a form POST) and decodes its
// JSON answer.
func (o *openqq) call(route string, kv ...string) any {
	o.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	var resp *http.Response
	var err error
	if strings.HasPrefix(route, "get_") {
		resp, err = http.Get(o.base + route + "?" + form.Encode())
	} else {
		resp, err = http.PostForm(o.base+route, form)
	}
	if err != nil {
		o.t.Fatalf("%s: %v", route, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if resp.StatusCode != http.StatusOK || d.Decode(&v) != nil {
		o.t.Fatalf("%s: HTTP %d %.300s", route, resp.StatusCode, b)
	}
	return v
}

// sent checks a send's answer (code 0) and returns its id.
func (o *openqq) sent(what string, v any) string {
	o.t.Helper()
	m, _ := v.(map[string]any)
	id, _ := m["id"].(string)
	if m["code"] != json.Number("0") || id == "" {
		o.t.Fatalf("%s: %v, want code 0 and an id", what, v)
	}
	return id
}

// friends is get_friend_info's answer.
func (o *openqq) friends() []map[string]any {
	o.t.Helper()
	list, _ := o.call(wx.RouteGetFriendInfo).([]any)
	var out []map[string]any
	for _, f := range list {
		if m, ok := f.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// waitRunning waits until get_client_info says running, as a bot polls it.
func (o *openqq) waitRunning() {
	o.t.Helper()
	var last any
	err := proctest.Poll(context.Background(), 30*time.Second, o.proc, func() bool {
		last = o.call(wx.RouteGetClientInfo)
		m, _ := last.(map[string]any)
		return m["state"] == string(events.StateRunning)
	}, func() string { return fmt.Sprint(last) })
	if err != nil {
		o.t.Fatal(err)
	}
}

// awaitPost waits for a report post_api got that ok accepts.
func (o *openqq) awaitPost(what string, ok func(m map[string]any) bool) map[string]any {
	o.t.Helper()
	var found map[string]any
	if _, got := o.post.Wait(20*time.Second, func(reqs []proctest.Request) bool {
		for _, r := range reqs {
			if m := r.JSON(); m != nil && ok(m) {
				found = m
				return true
			}
		}
		return false
	}); !got {
		o.t.Fatalf("post_api: no %s within 20s", what)
	}
	return found
}

// awaitEvent waits for post_api's report of event name whose params mention every one of want.
func (o *openqq) awaitEvent(name string, want ...string) {
	o.t.Helper()
	o.awaitPost(name+" "+strings.Join(want, " "), func(m map[string]any) bool {
		b, _ := json.Marshal(m["params"])
		return m["post_type"] == "event" && m["event"] == name && !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(string(b), w) })
	})
}

// mediaData decodes a report's media_data (MIME::Base64: lines of 76).
func mediaData(t *testing.T, m map[string]any) []byte {
	t.Helper()
	s, _ := m["media_data"].(string)
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, "\n", ""))
	if err != nil || s == "" {
		t.Fatalf("media_data of %v: %v", m["id"], err)
	}
	return b
}

var pngBytes = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

// WX_DRIVER=wechaty WECHATY_ENDPOINT=... make run, against Wechaty's real puppet service.
func TestRunWechaty(t *testing.T) {
	p := puppettest.Start(t, "insecure_openqq_run")
	ids := p.IDs()
	o := startOpenqq(t, map[string]string{"WX_DRIVER": "wechaty", "WECHATY_ENDPOINT": p.Addr, "WECHATY_TOKEN": p.Token,
		"WECHATY_QRCODE_DIR": t.TempDir(), "WECHATY_BACKOFF_MAX": "500ms"})
	wang := "@" + ids["wang"]

	p.Started()
	p.Do("scan")
	o.awaitEvent(events.EventInputQRCode)
	o.awaitEvent(events.EventStateChange, string(events.StateScaning))
	p.Do("scanned")
	o.awaitEvent(events.EventStateChange, string(events.StateConfirming))
	p.Do("login")
	o.awaitEvent(events.EventLogin)
	o.waitRunning()

	if !slices.ContainsFunc(o.friends(), func(f map[string]any) bool { return f["id"] == wang && f["markname"] == "老王" }) {
		t.Fatalf("老王 not in get_friend_info: %v", o.friends())
	}

	p.Do("say 你好 make run")
	o.awaitPost("the text received", func(m map[string]any) bool {
		return m["post_type"] == "receive_message" && m["content"] == "你好 make run" && m["sender_id"] == wang
	})
	p.Do("image cat.png " + base64.StdEncoding.EncodeToString(pngBytes))
	m := o.awaitPost("the picture received", func(m map[string]any) bool {
		return m["post_type"] == "receive_message" && m["media_type"] == wx.MediaImage && m["sender_id"] == wang
	})
	if !bytes.Equal(mediaData(t, m), pngBytes) {
		t.Error("the picture received: media_data is not its bytes")
	}

	o.sent("send_friend_message", o.call(wx.RouteSendFriendMessage, "id", wang, "content", "make run 发来"))
	p.Prefixed("MSG", func(l string) bool { return strings.Contains(l, `"text":"make run 发来"`) })
	o.awaitPost("the text sent", func(m map[string]any) bool {
		return m["post_type"] == "send_message" && m["content"] == "make run 发来"
	})
	o.sent("send_friend_message with a picture", o.call(wx.RouteSendFriendMessage, "id", wang,
		"media_data", base64.StdEncoding.EncodeToString(pngBytes), "media_name", "run.png"))
	p.WaitFile("the picture sent", func(f puppettest.File) bool { return f.Name == "run.png" && bytes.Equal(f.Data, pngBytes) })
	m = o.awaitPost("the picture sent", func(m map[string]any) bool {
		return m["post_type"] == "send_message" && m["media_name"] == "run.png"
	})
	if !bytes.Equal(mediaData(t, m), pngBytes) {
		t.Error("the picture sent: media_data is not its bytes")
	}
}

// WX_DRIVER=ilink make run, against the fake iLink server: the one chat.
func TestRunILink(t *testing.T) {
	f := ilinktest.New(t)
	dir := t.TempDir()
	o := startOpenqq(t, map[string]string{"WX_DRIVER": "ilink", "ILINK_BASE_URL": f.URL, "ILINK_CDN_URL": f.CDN,
		"ILINK_STATE_DIR": dir, "ILINK_QRCODE_DIR": dir, "ILINK_POLL_TIMEOUT": "2s", "ILINK_RETRY_MIN": "20ms", "ILINK_RETRY_MAX": "200ms"})
	owner := "@" + ilinktest.OwnerID

	// The fake walks the QR code through wait, scanned and confirmed by itself.
	o.awaitEvent(events.EventInputQRCode)
	o.awaitEvent(events.EventStateChange, string(events.StateScaning))
	o.awaitEvent(events.EventStateChange, string(events.StateConfirming))
	o.awaitEvent(events.EventLogin)
	o.waitRunning()
	if fr := o.friends(); len(fr) != 1 || fr[0]["id"] != owner {
		t.Fatalf("get_friend_info: %v, want the owner only", fr)
	}

	f.Text("你好 ilink run")
	o.awaitPost("the text received", func(m map[string]any) bool {
		return m["post_type"] == "receive_message" && m["content"] == "你好 ilink run" && m["sender_id"] == owner
	})
	f.Media(ilink.ItemImage, "", pngBytes)
	m := o.awaitPost("the picture received", func(m map[string]any) bool {
		return m["post_type"] == "receive_message" && m["media_type"] == wx.MediaImage && m["sender_id"] == owner
	})
	if !bytes.Equal(mediaData(t, m), pngBytes) {
		t.Error("the picture received: media_data is not its bytes")
	}

	o.sent("send_friend_message", o.call(wx.RouteSendFriendMessage, "id", owner, "content", "ilink 回复"))
	o.sent("send_friend_message with a picture", o.call(wx.RouteSendFriendMessage, "id", owner,
		"media_data", base64.StdEncoding.EncodeToString(pngBytes), "media_name", "run.png"))
	f.Wait(t, "the text and the picture at iLink", func() bool {
		s := f.Sent()
		return slices.ContainsFunc(s, func(m ilinktest.Sent) bool { return m.Text == "ilink 回复" }) &&
			slices.ContainsFunc(s, func(m ilinktest.Sent) bool { return m.ItemType == ilink.ItemImage && bytes.Equal(m.Data, pngBytes) })
	})
	o.awaitPost("the text sent", func(m map[string]any) bool { return m["post_type"] == "send_message" && m["content"] == "ilink 回复" })
	o.awaitPost("the picture sent", func(m map[string]any) bool { return m["post_type"] == "send_message" && m["media_name"] == "run.png" })
	if r := f.Rejected(); len(r) != 0 {
		t.Errorf("iLink refused requests: %v", r)
	}
}
