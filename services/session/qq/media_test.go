package qq

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/sim"
	"github.com/openqq/openqq/services/session/engine"
)

// Pictures through the QQ platform: sent by media_path (a file, a URL), media_data and
// media_id, stored once in QQ_MEDIA, handed to the driver and reported with Openwx's media
// fields; received pictures stored and reported; every bad media refused with nothing sent,
// stored or reported.

const discussTestID = 4118239384 // 周末聚餐, in the sim's default roster

func testPNG(t *testing.T, seed uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := range 8 {
		for y := range 8 {
			img.Set(x, y, color.RGBA{seed, uint8(x * 32), uint8(y * 32), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type mediaEnv struct {
	*pubEnv
	nc  *nats.Conn
	js  jetstream.JetStream
	dir string
}

func startMediaEnv(t *testing.T) *mediaEnv {
	t.Helper()
	dir := t.TempDir()
	e := startPubEnv(t, func(_ *engine.Config, c *Config) {
		c.Config = media.Config{Dir: dir, MaxBytes: 4096}
	})
	nc, err := nats.Connect(e.url())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &mediaEnv{pubEnv: e, nc: nc, js: e.js(), dir: dir}
}

func (e *mediaEnv) call(route string, p events.Params) map[string]any {
	e.t.Helper()
	data, _ := json.Marshal(p)
	r, err := e.nc.Request("qq.api."+route, data, 10*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(r.Data, &out); err != nil {
		e.t.Fatalf("reply %.300s: %v", r.Data, err)
	}
	return out
}

func (e *mediaEnv) sim() *sim.Sim { return e.s.drv.(*sim.Sim) }

// stored counts the media in QQ_MEDIA.
func (e *mediaEnv) stored() int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	obs, err := e.js.ObjectStore(ctx, "QQ_MEDIA")
	if err != nil {
		e.t.Fatal(err)
	}
	list, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return len(list)
}

// reports are the message reports of the event stream.
func (e *mediaEnv) reports() []events.Message {
	e.t.Helper()
	var out []events.Message
	for _, s := range readStream(e.t, e.js, "QQ_EVENTS") {
		if !strings.HasSuffix(s.subject, "_message") {
			continue
		}
		var m events.Message
		if err := json.Unmarshal(s.data, &m); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// report waits for the message report of id.
func (e *mediaEnv) report(id int64) events.Message {
	e.t.Helper()
	var got events.Message
	waitFor(e.t, 10*time.Second, "report "+strconv.FormatInt(id, 10), func() bool {
		for _, m := range e.reports() {
			if m.ID == id {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

func TestSendPicture(t *testing.T) {
	e := startMediaEnv(t)
	fromFile, fromURL, fromData, fromID := testPNG(t, 1), testPNG(t, 2), testPNG(t, 3), testPNG(t, 4)
	if err := os.WriteFile(filepath.Join(e.dir, "cat.png"), fromFile, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(fromURL)
	}))
	t.Cleanup(srv.Close)
	pre, err := e.s.media.Put(context.Background(), "pre.png", bytes.NewReader(fromID), media.PutHint{})
	if err != nil {
		t.Fatal(err)
	}
	friend, group := strconv.FormatInt(pubSenderID, 10), strconv.FormatInt(pubGroupID, 10)
	tests := []struct {
		name    string
		route   string
		p       events.Params
		want    []byte
		content string // what the driver got as text
		typ     string
		target  int64
	}{
		{"path", events.RouteSendFriendMessage, events.Params{"id": friend, "media_path": filepath.Join(e.dir, "cat.png")}, fromFile, "", events.FriendMessage, pubSenderID},
		{"relative path with content", events.RouteSendGroupMessage, events.Params{"id": group, "media_path": "cat.png", "content": "看"}, fromFile, "看", events.GroupMessage, pubGroupID},
		{"url", events.RouteSendGroupMessage, events.Params{"id": group, "media_path": srv.URL + "/dog.png"}, fromURL, "", events.GroupMessage, pubGroupID},
		{"base64", events.RouteSendDiscussMessage, events.Params{"id": strconv.FormatInt(discussTestID, 10), "media_data": base64.StdEncoding.EncodeToString(fromData)}, fromData, "", events.DiscussMessage, discussTestID},
		{"media_id", events.RouteSendSessMessage, events.Params{"id": friend, "group_id": group, "media_id": pre.ID, "content": "hi"}, fromID, "hi", events.SessMessage, pubSenderID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(tc.route, tc.p)
			if r["code"] != 0.0 {
				t.Fatalf("reply %v", r)
			}
			sent := e.sim().Deliveries()
			out := sent[len(sent)-1]
			if out.Type != tc.typ || out.TargetID != tc.target || out.Content != tc.content {
				t.Fatalf("driver got %+v", out)
			}
			if !bytes.Equal(out.Picture, tc.want) {
				t.Fatalf("the sim got %d bytes, want the %d sent", len(out.Picture), len(tc.want))
			}
			id := int64(r["id"].(float64))
			m := e.report(id)
			if m.Format != events.FormatMedia || m.Media == nil || m.Content != tc.content+events.PictureContent ||
				m.Media.Type != media.TypeImage || m.Media.Mime != "image/png" || m.Media.Size != int64(len(tc.want)) || m.Media.Data != nil {
				t.Fatalf("report %+v media %+v", m, m.Media)
			}
			stored, _, err := e.s.media.Bytes(context.Background(), m.Media.ID)
			if err != nil || !bytes.Equal(stored, tc.want) {
				t.Fatalf("media %s: %v", m.Media.ID, err)
			}
			if tc.name == "media_id" && m.Media.ID != pre.ID {
				t.Errorf("media_id %s sent as %s", pre.ID, m.Media.ID)
			}
		})
	}
	// A text message's report has no format and no media fields, as before pictures.
	r := e.call(events.RouteSendFriendMessage, events.Params{"id": friend, "content": "纯文本"})
	id := int64(r["id"].(float64))
	if m := e.report(id); m.Format != "" || m.Media != nil || e.sim().Sent()[len(e.sim().Sent())-1].Media != nil {
		t.Errorf("text report %+v", m)
	}
}

// Every bad media is refused with a clear error: nothing sent, stored or reported.
func TestSendPictureRefused(t *testing.T) {
	e := startMediaEnv(t)
	outside := filepath.Join(t.TempDir(), "secret.png")
	if err := os.WriteFile(outside, testPNG(t, 5), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "big.png"), bytes.Repeat([]byte{1}, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte{2}, 5000))
	}))
	t.Cleanup(srv.Close)
	friend := strconv.FormatInt(pubSenderID, 10)
	tests := []struct {
		name string
		p    events.Params
		code int
		text string
	}{
		{"outside MEDIA_DIR", events.Params{"media_path": outside}, events.CodeBadRequest, "outside the media directory"},
		{"climbing out", events.Params{"media_path": "../secret.png"}, events.CodeBadRequest, "outside the media directory"},
		{"file scheme", events.Params{"media_path": "file://" + outside}, events.CodeBadRequest, "scheme is not allowed"},
		{"ftp scheme", events.Params{"media_path": "ftp://127.0.0.1/a.png"}, events.CodeBadRequest, "scheme is not allowed"},
		{"file over the limit", events.Params{"media_path": "big.png"}, events.CodeTooLarge, "over the media limit"},
		{"url over the limit", events.Params{"media_path": srv.URL + "/big"}, events.CodeTooLarge, "over the media limit"},
		{"base64 over the limit", events.Params{"media_data": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 5000))}, events.CodeTooLarge, "over the media limit"},
		{"undecodable base64", events.Params{"media_data": "!!!notbase64!!!"}, events.CodeBadRequest, "not base64"},
		{"unknown media_id", events.Params{"media_id": "NOSUCHKEY0123456789ABC:3"}, events.CodeNotFound, "not found"},
		{"neither content nor media", events.Params{}, -1, ""},
		{"unknown friend", events.Params{"id": "1", "media_data": base64.StdEncoding.EncodeToString(testPNG(t, 6))}, -1, ""},
	}
	sentBefore, storedBefore, reportsBefore := len(e.sim().Sent()), e.stored(), len(e.reports())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := events.Params{"id": friend}
			for k, v := range tc.p {
				p[k] = v
			}
			r := e.call(events.RouteSendFriendMessage, p)
			code, _ := r["code"].(float64)
			status, _ := r["status"].(string)
			if code == 0 || tc.code != -1 && int(code) != tc.code || !strings.Contains(status, tc.text) {
				t.Errorf("reply %v, want code %d naming %q", r, tc.code, tc.text)
			}
		})
	}
	if n := len(e.sim().Sent()); n != sentBefore {
		t.Errorf("%d messages sent by refused calls", n-sentBefore)
	}
	if n := e.stored(); n != storedBefore {
		t.Errorf("%d media stored by refused calls", n-storedBefore)
	}
	if n := len(e.reports()); n != reportsBefore {
		t.Errorf("%d reports of refused calls", n-reportsBefore)
	}
}

// A received picture, and one the account sent from elsewhere, is stored and reported with
// the media fields; one whose message cannot be reported leaves nothing stored.
func TestReceivedPicture(t *testing.T) {
	e := startMediaEnv(t)
	pic := testPNG(t, 7)
	ctx := context.Background()
	at := time.Unix(1700000000, 0)
	id, err := e.s.Receive(ctx, driver.Incoming{
		Type: events.GroupMessage, GroupID: pubGroupID, SenderID: pubSenderID, Content: "看[图片]", Time: at,
		Media: &media.Incoming{Name: "x.png", Data: pic},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := e.report(id)
	if m.Format != events.FormatMedia || m.Content != "看[图片]" || m.Media == nil || m.Media.Type != media.TypeImage ||
		m.Media.Code != 3 || m.Media.Size != int64(len(pic)) || m.Media.Mtime != at.Unix() || m.Media.Name != "x.png" || m.Media.Data != nil {
		t.Fatalf("report %+v media %+v", m, m.Media)
	}
	if b, _, err := e.s.media.Bytes(ctx, m.Media.ID); err != nil || !bytes.Equal(b, pic) {
		t.Fatalf("stored media: %v", err)
	}

	id, err = e.s.Sent(ctx, driver.SentMessage{
		Type: events.FriendMessage, TargetID: pubSenderID, Time: at, Media: &media.Incoming{Reader: bytes.NewReader(pic)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m := e.report(id); m.Format != events.FormatMedia || m.Content != events.PictureContent || m.Media == nil || m.Media.Size != int64(len(pic)) {
		t.Fatalf("sent elsewhere: report %+v media %+v", m, m.Media)
	}

	before := e.stored()
	if _, err := e.s.Receive(ctx, driver.Incoming{
		Type: events.GroupMessage, GroupID: 1, SenderID: pubSenderID, Time: at, Media: &media.Incoming{Data: pic},
	}); !errors.Is(err, driver.ErrUnknown) {
		t.Fatalf("unknown group: %v", err)
	}
	if n := e.stored(); n != before {
		t.Errorf("an unreported picture left %d media stored", n-before)
	}
}
