package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/onebot/onebottest"
	"github.com/openqq/openqq/services/session/driver/sim"
	qqplat "github.com/openqq/openqq/services/session/qq"
)

// QQ pictures through HTTP (issue 15): /openqq's send routes take a multipart upload,
// media_data, media_path (a file under MEDIA_DIR or a URL) and media_id; the sim gets the
// bytes; the send_message report reaches post_api with media_data equal to the upload
// (POST_MEDIA_DATA=0 leaves it out); a received picture reaches post_api with its bytes; a
// post_api answer's media is sent; every bad media is refused with nothing sent or stored.

// qqMediaEnv is an openqq with MEDIA_DIR, and two reporters: one posting media_data, one
// with POST_MEDIA_DATA=0.
type qqMediaEnv struct {
	*env
	dir          string
	post, noData *proctest.Receiver
}

const qqMediaMax = 64 << 10

func startQQMedia(t *testing.T, respond func(*proctest.Request) proctest.Answer) *qqMediaEnv {
	t.Helper()
	dir := t.TempDir()
	mc := media.Config{Dir: dir, MaxBytes: qqMediaMax}
	e := start(t, func(s *session.Config, g *gateway.Config) { s.Config, g.Config = mc, mc })
	m := &qqMediaEnv{env: e, dir: dir,
		post:   proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: respond}),
		noData: proctest.StartReceiver(t, proctest.ReceiverOptions{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var dones []chan error
	for _, r := range []struct {
		name string
		url  string
		data bool
	}{{"with-data", m.post.URL, true}, {"no-data", m.noData.URL, false}} {
		rep, err := reporter.New(natstest.Connect(t, e.srv), reporter.Config{
			PostAPI: []string{r.url}, PostEvent: true, PostMediaData: r.data, Config: mc, Name: r.name,
			PostRetryMin: 20 * time.Millisecond, PostRetryMax: 100 * time.Millisecond,
		}, natstest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		dones = append(dones, done)
		go func() { done <- rep.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for _, d := range dones {
			<-d
		}
	})
	return m
}

func (m *qqMediaEnv) sim() *sim.Sim { return m.sess.Driver().(*sim.Sim) }

func (m *qqMediaEnv) store() *media.Store { return m.sess.Platform().(*qqplat.Platform).Media() }

// stored counts the media in QQ_MEDIA.
func (m *qqMediaEnv) stored() int {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := jetstream.New(m.nc)
	if err != nil {
		m.t.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, "QQ_MEDIA")
	if err != nil {
		m.t.Fatal(err)
	}
	list, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		m.t.Fatal(err)
	}
	return len(list)
}

// multipart posts fields and a file part "media" to a route of /openqq.
func (m *qqMediaEnv) multipart(route string, file []byte, kv ...string) map[string]any {
	m.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		_ = mw.WriteField(kv[i], kv[i+1])
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="media"; filename="pic.png"`)
	h.Set("Content-Type", "application/octet-stream")
	fw, err := mw.CreatePart(h)
	if err != nil {
		m.t.Fatal(err)
	}
	_, _ = fw.Write(file)
	_ = mw.Close()
	req := m.newRequest(http.MethodPost, route, nil, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	_, body := m.do(req)
	return plainObject(m.t, body)
}

// plainObject decodes a JSON object, numbers as float64.
func plainObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("want a JSON object, got %s", b)
	}
	return v
}

// posted waits for the report of message id at a post_api receiver.
func posted(t *testing.T, r *proctest.Receiver, id float64) map[string]any {
	t.Helper()
	var got map[string]any
	_, ok := r.Wait(10*time.Second, func(reqs []proctest.Request) bool {
		for _, q := range reqs {
			var p map[string]any
			if json.Unmarshal(q.Body, &p) == nil && p["id"] == id && p["post_type"] != nil {
				got = p
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("post_api got no report of message %v", id)
	}
	return got
}

// qqMediaData is the bytes of a post_api report's media_data.
func qqMediaData(t *testing.T, p map[string]any) []byte {
	t.Helper()
	s, ok := p["media_data"].(string)
	if !ok {
		t.Fatalf("no media_data in %v", p)
	}
	b, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(s, "\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lastSent is the sim's record of its last send: the message and the picture's bytes as the
// simulated server got them.
func (m *qqMediaEnv) lastSent() sim.Delivery {
	m.t.Helper()
	sent := m.sim().Deliveries()
	if len(sent) == 0 {
		m.t.Fatal("the sim sent nothing")
	}
	return sent[len(sent)-1]
}

func TestQQPictureSendHTTP(t *testing.T) {
	m := startQQMedia(t, nil)
	upload, file, fetched, inline := testPNG(t, 11, 0), testPNG(t, 12, 0), testPNG(t, 13, 0), testPNG(t, 14, 0)
	if err := os.WriteFile(filepath.Join(m.dir, "cat.png"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := mediaServer(t, map[string][]byte{"/dog.png": fetched})
	friend, group := strconv.Itoa(friendID), strconv.Itoa(perlGroupID)

	var firstID string
	send := func(name string, call func() map[string]any, want []byte, content string) {
		t.Run(name, func(t *testing.T) {
			r := call()
			if r["code"] != 0.0 {
				t.Fatalf("reply %v", r)
			}
			out := m.lastSent()
			if !bytes.Equal(out.Picture, want) || out.Content != content {
				t.Fatalf("the sim got %q and %d bytes, want %q and %d", out.Content, len(out.Picture), content, len(want))
			}
			p := posted(t, m.post, r["id"].(float64))
			if p["format"] != "media" || p["content"] != content+"[图片]" || p["media_type"] != "image" ||
				p["media_size"] != float64(len(want)) || p["media_mime"] != "image/png" || p["class"] != "send" {
				t.Errorf("post_api got %v", p)
			}
			if got := qqMediaData(t, p); !bytes.Equal(got, want) {
				t.Errorf("media_data: %d bytes, want the %d sent", len(got), len(want))
			}
			if firstID == "" {
				firstID, _ = p["media_id"].(string)
			}
			nd := posted(t, m.noData, r["id"].(float64))
			if _, has := nd["media_data"]; has || nd["media_id"] != p["media_id"] {
				t.Errorf("POST_MEDIA_DATA=0 got %v", nd)
			}
		})
	}
	send("multipart", func() map[string]any {
		return m.multipart("send_friend_message", upload, "id", friend)
	}, upload, "")
	send("multipart with content", func() map[string]any {
		return m.multipart("send_group_message", upload, "id", group, "content", "看图")
	}, upload, "看图")
	send("media_data", func() map[string]any {
		_, b := m.postForm("send_discuss_message", url.Values{"id": {strconv.Itoa(discussID)}, "media_data": {base64.StdEncoding.EncodeToString(inline)}})
		return plainObject(t, b)
	}, inline, "")
	send("media_path file", func() map[string]any {
		_, b := m.get("send_sess_message", q("id", strconv.Itoa(perlMemberID), "group_id", group, "media_path", "cat.png"))
		return plainObject(t, b)
	}, file, "")
	send("media_path url", func() map[string]any {
		_, b := m.postJSON("send_friend_message", map[string]string{"id": friend, "media_path": srv.URL + "/dog.png", "content": "狗"})
		return plainObject(t, b)
	}, fetched, "狗")
	send("media_id", func() map[string]any {
		_, b := m.get("send_group_message", q("id", group, "media_id", firstID))
		return plainObject(t, b)
	}, upload, "")

	// check_event hands out the same reports, their media fields without the bytes.
	code, body := m.get("check_event", nil)
	var items []map[string]any
	if err := json.Unmarshal(body, &items); code != http.StatusOK || err != nil {
		t.Fatalf("check_event: %d %s", code, body)
	}
	pictures := 0
	for _, it := range items {
		if it["format"] == "media" {
			pictures++
			if it["media_id"] == nil || it["media_type"] != "image" || it["media_data"] != nil {
				t.Errorf("check_event item %v", it)
			}
		}
	}
	if pictures != 6 {
		t.Errorf("check_event has %d picture reports, want 6: %s", pictures, body)
	}
}

// Every bad media through HTTP: a clear JSON error, nothing sent, nothing stored.
func TestQQPictureRefusedHTTP(t *testing.T) {
	m := startQQMedia(t, nil)
	outside := filepath.Join(t.TempDir(), "secret.png")
	if err := os.WriteFile(outside, testPNG(t, 15, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	friend := strconv.Itoa(friendID)
	big := testPNG(t, 16, qqMediaMax)
	sentBefore, storedBefore := len(m.sim().Sent()), m.stored()
	tests := []struct {
		name string
		call func() map[string]any
		code float64
	}{
		{"outside MEDIA_DIR", func() map[string]any {
			_, b := m.get("send_friend_message", q("id", friend, "media_path", outside))
			return plainObject(t, b)
		}, events.CodeBadRequest},
		{"file scheme", func() map[string]any {
			_, b := m.get("send_friend_message", q("id", friend, "media_path", "file://"+outside))
			return plainObject(t, b)
		}, events.CodeBadRequest},
		{"undecodable base64", func() map[string]any {
			_, b := m.postForm("send_friend_message", url.Values{"id": {friend}, "media_data": {"@@@@"}})
			return plainObject(t, b)
		}, events.CodeBadRequest},
		{"upload over the limit", func() map[string]any { return m.multipart("send_friend_message", big, "id", friend) }, events.CodeTooLarge},
		{"media_data over the limit", func() map[string]any {
			_, b := m.postForm("send_friend_message", url.Values{"id": {friend}, "media_data": {base64.StdEncoding.EncodeToString(big)}})
			return plainObject(t, b)
		}, events.CodeTooLarge},
		{"upload to an unknown friend", func() map[string]any { return m.multipart("send_friend_message", testPNG(t, 17, 0), "id", "1") }, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.call()
			code, _ := r["code"].(float64)
			if code == 0 || tc.code != -1 && code != tc.code || r["status"] == "" {
				t.Errorf("reply %v, want code %v", r, tc.code)
			}
		})
	}
	if n := len(m.sim().Sent()); n != sentBefore {
		t.Errorf("%d sends by refused calls", n-sentBefore)
	}
	if n := m.stored(); n != storedBefore {
		t.Errorf("%d media stored by refused calls", n-storedBefore)
	}
}

// A received picture reaches post_api with its bytes (not with POST_MEDIA_DATA=0), and
// post_api's media answer (openqq's extension) is sent back as a picture.
func TestQQPictureReceivedAndAnswered(t *testing.T) {
	var answerID string
	m := startQQMedia(t, func(r *proctest.Request) proctest.Answer {
		var p map[string]any
		_ = json.Unmarshal(r.Body, &p)
		if p["class"] == "recv" && p["format"] == "media" {
			return proctest.Answer{ContentType: "application/json", Body: `{"reply":"好图","media":"` + answerID + `"}`}
		}
		return proctest.Answer{}
	})
	answer := testPNG(t, 21, 0)
	meta, err := m.store().Put(context.Background(), "answer.png", bytes.NewReader(answer), media.PutHint{})
	if err != nil {
		t.Fatal(err)
	}
	answerID = meta.ID
	pic := testPNG(t, 22, 0)
	r := m.inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: friendID,
		MediaData: base64.StdEncoding.EncodeToString(pic), MediaName: "recv.png", MediaMime: "image/png"})
	if r.Code != 0 || r.ID == 0 {
		t.Fatalf("inject: %+v", r)
	}
	id := r.ID
	p := posted(t, m.post, float64(id))
	if p["format"] != "media" || p["content"] != "[图片]" || p["media_name"] != "recv.png" || p["class"] != "recv" {
		t.Errorf("post_api got %v", p)
	}
	if got := qqMediaData(t, p); !bytes.Equal(got, pic) {
		t.Errorf("media_data: %d bytes, want the %d received", len(got), len(pic))
	}
	if nd := posted(t, m.noData, float64(id)); nd["media_data"] != nil || nd["media_id"] != p["media_id"] {
		t.Errorf("POST_MEDIA_DATA=0 got %v", nd)
	}
	// the answer: the text, then the picture, to the group
	deadline := time.Now().Add(10 * time.Second)
	for {
		sent := m.sim().Deliveries()
		var text, picture bool
		for _, d := range sent {
			text = text || d.TargetID == perlGroupID && d.Content == "好图"
			picture = picture || d.TargetID == perlGroupID && bytes.Equal(d.Picture, answer)
		}
		if text && picture {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the answer's reply and media were not both sent: %+v", sent)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 15's "done when", through the onebot driver and the fake OneBot peer: a curl-like
// multipart send of [微笑] and a picture arrives as a face segment and an image segment with
// the bytes; a picture the peer delivers (base64:// or a url it serves) reaches post_api with
// its bytes.
func TestQQPictureOneBot(t *testing.T) {
	fl := onebottest.Flavours[0]
	o := obOptions(fl)
	peer := onebottest.New(o)
	mc := media.Config{Dir: t.TempDir(), MaxBytes: qqMediaMax}
	e := start(t, withOneBot(peer.Serve(t), o.Token), func(s *session.Config, g *gateway.Config) { s.Config, g.Config = mc, mc })
	post := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	rep, err := reporter.New(natstest.Connect(t, e.srv), reporter.Config{
		PostAPI: []string{post.URL}, PostEvent: true, PostMediaData: true, Config: mc,
		PostRetryMin: 20 * time.Millisecond, PostRetryMax: 100 * time.Millisecond,
	}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rep.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	m := &qqMediaEnv{env: e, dir: mc.Dir, post: post}

	upload := testPNG(t, 31, 0)
	r := m.multipart("send_friend_message", upload, "uid", strconv.Itoa(obWang), "content", "[微笑]看")
	if r["code"] != 0.0 {
		t.Fatalf("send: %v", r)
	}
	c := peer.WaitCall(t, "send_private_msg", 1)
	var face, image bool
	for _, s := range c.Segments() {
		face = face || s.Type() == "face" && s.Data("id") == "14"
		image = image || bytes.Equal(s.ImageBytes(), upload)
	}
	if !face || !image || c.Int("user_id") != obWang {
		t.Errorf("the peer got %v, want a face 14 and the picture", c.Params)
	}
	if p := posted(t, post, r["id"].(float64)); p["format"] != "media" || !bytes.Equal(qqMediaData(t, p), upload) {
		t.Errorf("send_message at post_api: %v", p)
	}

	for _, tc := range []struct {
		name string
		seg  func([]byte) onebottest.Segment
	}{
		{"base64", onebottest.ImageData},
		{"url", func(b []byte) onebottest.Segment { return peer.ImageURL(t, "got.png", b) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pic := testPNG(t, 32, len(tc.name))
			peer.Private(obWang, onebottest.Text("图"), tc.seg(pic))
			var got map[string]any
			_, ok := post.Wait(10*time.Second, func(reqs []proctest.Request) bool {
				for _, q := range reqs {
					var p map[string]any
					if json.Unmarshal(q.Body, &p) == nil && p["class"] == "recv" && p["format"] == "media" &&
						p["media_size"] == float64(len(pic)) {
						got = p
						return true
					}
				}
				return false
			})
			if !ok {
				t.Fatalf("post_api got no picture of %d bytes: %d requests", len(pic), len(post.Requests()))
			}
			if !bytes.Equal(qqMediaData(t, got), pic) || got["content"] != "图[图片]" || got["sender_id"] != float64(obWang) {
				t.Errorf("post_api got %v", got)
			}
		})
	}
}
