package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// End to end with the real WeChat session (openqq-session, PLATFORM=wx, the simulated
// account): an image the account receives reaches post_api with its bytes in media_data; a
// text it receives is answered with a reply, which goes out as an answer, whose own report is
// delivered and never answered again, though the receiver answers everything.
func TestWXEndToEndWithTheSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the session")
	}
	t.Parallel()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	sess := proctest.StartSession(t, srv.ClientURL(), map[string]string{
		"PLATFORM": "wx", "SUBJECT_PREFIX": wx.Prefix, "CONTROL_DELAY": "100ms",
	})
	sess.WaitState(t, string(events.StateRunning), 20*time.Second)
	api := client.New(nc, client.WithPrefix(wx.Prefix))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reply, err := api.Call(ctx, wx.RouteGetFriendInfo, nil)
	if err != nil {
		t.Fatal(err)
	}
	var friends []wx.Friend
	if err := json.Unmarshal(reply.Data, &friends); err != nil {
		t.Fatal(err)
	}
	var friend string
	for _, f := range friends {
		if f.Category == wx.CategoryFriend {
			friend = f.ID
			break
		}
	}
	if friend == "" {
		t.Fatalf("no friend in %s", reply.Data)
	}

	rc := newReceiver(t, func(p post) answer {
		if p.str("format") == wx.FormatText && p.str("content") == "hello" || p.str("post_type") == events.PostSendMessage {
			return answer{status: http.StatusOK, ctype: "application/json", body: `{"reply":"re:hello"}`}
		}
		return answer{status: http.StatusOK}
	})
	cfg := wxConfig(rc.url())
	cfg.PostMediaData = true
	runReporter(t, srv, cfg)

	img := bytes.Repeat([]byte("\x89PNG\r\n\x1a\n0123456789"), 20000) // 360 kB
	inject := func(in wx.Injection) {
		t.Helper()
		data, _ := json.Marshal(in)
		m, err := nc.Request(events.Subjects{Prefix: wx.Prefix}.SimInject(), data, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var rep wx.InjectReply
		if json.Unmarshal(m.Data, &rep) != nil || rep.Code != 0 {
			t.Fatalf("injection refused: %s", m.Data)
		}
	}
	inject(wx.Injection{Type: wx.FriendMessage, SenderID: friend, Format: wx.FormatMedia, MediaType: wx.MediaImage,
		MediaName: "cat.png", MediaMime: "image/png", MediaData: img})
	ps := rc.waitFor(t, 30*time.Second, "the image", func(ps []post) bool {
		for _, p := range ps {
			if p.str("format") == wx.FormatMedia {
				return true
			}
		}
		return false
	})
	for _, p := range ps {
		if p.str("format") == wx.FormatMedia {
			if got := mediaData(t, p); !bytes.Equal(got, img) {
				t.Fatalf("media_data is %d bytes, not the %d received", len(got), len(img))
			}
		}
	}

	inject(wx.Injection{Type: wx.FriendMessage, SenderID: friend, Content: "hello"})
	rc.waitFor(t, 30*time.Second, "the answer's own report", func(ps []post) bool {
		for _, p := range ps {
			if p.str("post_type") == events.PostSendMessage && p.str("from") == events.FromReply && p.str("content") == "re:hello" {
				return true
			}
		}
		return false
	})
	// The receiver answered the answer's report too; once everything is settled (an answer is
	// applied before its item is acknowledged), the stream holds the one answer's send only.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	bus := &wxBus{srv: srv, nc: nc, js: js, subj: events.Subjects{Prefix: wx.Prefix}}
	bus.waitIdle(t, rc.url(), 30*time.Second)
	st, err := js.Stream(ctx, bus.subj.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sends []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil || m.Subject != bus.subj.Event(wx.FriendMessage) {
			continue
		}
		var h struct {
			PostType string `json:"post_type"`
			Content  string `json:"content"`
			From     string `json:"from"`
		}
		if json.Unmarshal(m.Data, &h) == nil && h.PostType == events.PostSendMessage {
			sends = append(sends, h.From+":"+h.Content)
		}
	}
	if len(sends) != 1 || sends[0] != events.FromReply+":re:hello" {
		t.Errorf("sends stored: %q, want the one answer", sends)
	}
}
