package reporter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// putMedia stores n random bytes in the WeChat platform's media bucket, as the session does
// for a received image, and returns them with their metadata.
func (b *wxBus) putMedia(t testing.TB, n int) ([]byte, media.Meta) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := media.Open(ctx, b.js, b.subj.MediaBucket(), media.Config{})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	copy(data, "\x89PNG\r\n\x1a\n") // an image, by its bytes
	meta, err := st.Put(ctx, "cat.png", bytes.NewReader(data), media.PutHint{Type: wx.MediaImage})
	if err != nil {
		t.Fatal(err)
	}
	return data, meta
}

// wxRecvMedia is a received friend media message as the stream stores it: the media's id and
// metadata, never its bytes.
func wxRecvMedia(id, sender string, m media.Meta) map[string]any {
	item := wxRecvFriend(id, sender, "[图片]("+m.Path+")")
	item["format"] = wx.FormatMedia
	for k, v := range map[string]any{"media_type": m.Type, "media_code": m.Code, "media_id": m.ID, "media_path": m.Path,
		"media_name": m.Name, "media_size": m.Size, "media_mime": m.Mime, "media_mtime": m.Mtime, "media_ext": m.Ext} {
		item[k] = v
	}
	return item
}

// mediaData decodes a post's media_data, checking its lines are MIME::Base64's.
func mediaData(t testing.TB, p post) []byte {
	t.Helper()
	s, ok := p.Item["media_data"].(string)
	if !ok {
		t.Fatalf("no media_data in %.300s", p.Body)
	}
	if !strings.HasSuffix(s, "\n") {
		t.Errorf("media_data does not end with a line break")
	}
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, l := range lines[:len(lines)-1] {
		if len(l) != 76 {
			t.Fatalf("media_data line %d is %d characters, want 76", i, len(l))
		}
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(lines, ""))
	if err != nil {
		t.Fatalf("media_data: %v", err)
	}
	return b
}

// A media message reaches post_api with its bytes in media_data (MIME::Base64, as Mojo's),
// read from the media store and streamed into a body of announced length, the signature over
// all of it; the stream itself never held them.
func TestWXMediaDataAdded(t *testing.T) {
	t.Parallel()
	b := startWXBus(t)
	data, meta := b.putMedia(t, 1<<20)
	rc := newReceiver(t, nil)
	cfg := wxConfig(rc.url())
	cfg.PostMediaData = true
	cfg.PostSecret = "s3cr3t"
	runReporter(t, b.srv, cfg)
	b.publish(t, wxRecvMedia("301", "@f1", meta))
	ps := rc.waitFor(t, 20*time.Second, "the media message", func(ps []post) bool { return len(ps) >= 1 })
	p := ps[0]
	if got := mediaData(t, p); !bytes.Equal(got, data) {
		t.Fatalf("media_data decodes to %d bytes, not the %d stored", len(got), len(data))
	}
	if p.str("media_id") != meta.ID || p.str("format") != wx.FormatMedia || p.str("sender_id") != "@f1" {
		t.Errorf("the report's own fields changed: %.300s", p.Body)
	}
	if p.Chunked || p.ContentLength != int64(len(p.Body)) {
		t.Errorf("Content-Length %d, chunked %v, for a body of %d bytes", p.ContentLength, p.Chunked, len(p.Body))
	}
	if ua := p.Header.Get("User-Agent"); !strings.Contains(ua, "Openwx") {
		t.Errorf("User-Agent %q does not say Openwx", ua)
	}
	if sig := p.Header.Get(events.HTTPHeaderSignature); sig != Sign("s3cr3t", p.Body) {
		t.Errorf("X-Signature %q does not sign the body posted", sig)
	}
	// The stored item is as published: no bytes in the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := b.js.Stream(ctx, b.subj.Stream())
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, b.subj.Event(wx.FriendMessage))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(m.Data, []byte("media_data")) {
		t.Error("the stream's item carries media_data")
	}
}

// POST_MEDIA_DATA=0 posts a media message without its bytes; a media the store no longer has
// is posted without them too, once, the item delivered, not failed.
func TestWXMediaDataOffAndMissing(t *testing.T) {
	t.Parallel()
	b := startWXBus(t)
	_, meta := b.putMedia(t, 4096)
	off := newReceiver(t, nil)
	cfg := wxConfig(off.url())
	cfg.PostMediaData = false
	runReporter(t, b.srv, cfg)

	on := newReceiver(t, nil)
	cfgOn := wxConfig(on.url())
	cfgOn.PostMediaData = true
	runReporter(t, b.srv, cfgOn)

	gone := meta
	gone.ID = "NoSuchMediaKey0000000000:3"
	b.publish(t, wxRecvMedia("401", "@f1", meta))
	b.publish(t, wxRecvMedia("402", "@f1", gone))
	b.publish(t, wxRecvFriend("403", "@f1", "text"))

	for _, p := range off.waitFor(t, 20*time.Second, "three items", func(ps []post) bool { return len(ps) >= 3 }) {
		if _, ok := p.Item["media_data"]; ok {
			t.Errorf("POST_MEDIA_DATA=0 posted media_data: %.200s", p.Body)
		}
	}
	ps := on.waitFor(t, 20*time.Second, "three items", func(ps []post) bool { return len(ps) >= 3 })
	b.waitIdle(t, on.url(), 20*time.Second)
	if n := len(on.all()); n != 3 {
		t.Errorf("%d POSTs for 3 items: the missing media was retried", n)
	}
	for _, p := range ps {
		_, has := p.Item["media_data"]
		switch p.str("id") {
		case "401":
			if !has {
				t.Error("the stored media went without media_data")
			}
		case "402", "403":
			if has {
				t.Errorf("item %s got media_data", p.str("id"))
			}
		}
	}
}

// POST_STDOUT prints a media message with its media_data, on one line.
func TestWXMediaDataStdout(t *testing.T) {
	t.Parallel()
	b := startWXBus(t)
	data, meta := b.putMedia(t, 3000)
	var out proctest.SyncBuffer
	cfg := wxConfig()
	cfg.PostStdout, cfg.Stdout, cfg.PostMediaData = true, &out, true
	runReporter(t, b.srv, cfg)
	b.publish(t, wxRecvMedia("501", "@f1", meta))
	var line string
	waitUntil(t, 20*time.Second, "the printed line", func() bool {
		line, _, _ = strings.Cut(out.String(), "\n")
		return strings.HasSuffix(out.String(), "\n")
	})
	var item map[string]any
	if err := json.Unmarshal([]byte(line), &item); err != nil {
		t.Fatalf("%v: %.200s", err, line)
	}
	if got := mediaData(t, post{Item: item, Body: []byte(line)}); !bytes.Equal(got, data) {
		t.Error("stdout's media_data differs from the stored bytes")
	}
}

// BenchmarkMediaPost posts one 1 MB media message (the media read from the store, its base64
// streamed into the body) to a receiver that discards it: allocations per item, with the
// bytes neither held whole nor encoded into one string.
func BenchmarkMediaPost(b *testing.B) {
	bus := startWXBus(b)
	_, meta := bus.putMedia(b, 1<<20)
	rc := proctest.StartReceiver(b, proctest.ReceiverOptions{Discard: true, Respond: func(*proctest.Request) proctest.Answer {
		return proctest.Answer{Status: http.StatusOK}
	}})
	cfg := wxConfig(rc.URL)
	cfg.PostMediaData = true
	r, err := New(natstest.Connect(b, bus.srv), cfg, quietLogger(b, 8))
	if err != nil {
		b.Fatal(err)
	}
	item, _ := json.Marshal(wxRecvMedia("601", "@f1", meta))
	t := newHTTPTarget(r, rc.URL)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(1 << 20)
	for b.Loop() {
		if _, _, err := t.post(ctx, "wx.events.friend_message", item, 1, 1); err != nil {
			b.Fatal(err)
		}
	}
}
