package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// wxBus is a real NATS server with the WeChat platform's stream, on which the test publishes
// Openwx reports itself, as the wx session would.
type wxBus struct {
	srv  *embednats.Server
	nc   *nats.Conn
	js   jetstream.JetStream
	subj events.Subjects
}

func startWXBus(t testing.TB) *wxBus {
	t.Helper()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b := &wxBus{srv: srv, nc: nc, js: js, subj: events.Subjects{Prefix: wx.Prefix}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: b.subj.Stream(), Subjects: []string{b.subj.Events()}, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// publish stores one report on wx.events.<name of the item>.
func (b *wxBus) publish(t testing.TB, item map[string]any) {
	t.Helper()
	name, _ := item["type"].(string)
	if item["post_type"] == events.PostEvent {
		name, _ = item["event"].(string)
	}
	data, err := json.Marshal(item)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.js.Publish(ctx, b.subj.Event(name), data); err != nil {
		t.Fatal(err)
	}
}

// targetIdle is targetIdle on the WeChat stream.
func (b *wxBus) waitIdle(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	name := consumerName(url)
	waitUntil(t, timeout, "consumer "+name+" idle", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := b.js.Stream(ctx, b.subj.Stream())
		if err != nil {
			return false
		}
		found := false
		for ci := range s.ListConsumers(ctx).Info() {
			if ci.Name != name && !strings.HasPrefix(ci.Name, name+"_p") {
				continue
			}
			if ci.NumPending != 0 || ci.NumAckPending != 0 {
				return false
			}
			found = true
		}
		return found
	})
}

// wxConfig is fastConfig for the WeChat platform, chosen by the subject prefix alone.
func wxConfig(urls ...string) Config {
	cfg := fastConfig(urls...)
	cfg.SubjectPrefix = wx.Prefix
	return cfg
}

// Openwx report builders: ids are strings, "@…" for contacts and "@@…" for groups.
const (
	wxMe = "@me0000"
)

func wxRecvFriend(id, sender, content string) map[string]any {
	return map[string]any{"post_type": events.PostReceiveMessage, "type": events.FriendMessage, "class": events.ClassRecv,
		"format": "text", "id": id, "sender_id": sender, "receiver_id": wxMe, "content": content,
		"sender": "friend " + sender, "receiver": "me", "time": 1764640000}
}

func wxSendFriend(id, receiver, content, from string) map[string]any {
	return map[string]any{"post_type": events.PostSendMessage, "type": events.FriendMessage, "class": events.ClassSend,
		"format": "text", "id": id, "sender_id": wxMe, "receiver_id": receiver, "content": content, "from": from,
		"code": 0, "status": "success", "time": 1764640000}
}

func wxRecvGroup(id, group, sender, content string) map[string]any {
	return map[string]any{"post_type": events.PostReceiveMessage, "type": events.GroupMessage, "class": events.ClassRecv,
		"format": "text", "id": id, "sender_id": sender, "group_id": group, "content": content,
		"group": "group " + group, "time": 1764640000}
}

func wxSendGroup(id, group, content, from string) map[string]any {
	return map[string]any{"post_type": events.PostSendMessage, "type": events.GroupMessage, "class": events.ClassSend,
		"format": "text", "id": id, "sender_id": wxMe, "group_id": group, "content": content, "from": from,
		"code": 0, "status": "success", "time": 1764640000}
}

func wxGroupNotice(id, group, content string) map[string]any {
	return map[string]any{"post_type": events.PostReceiveMessage, "type": wx.GroupNotice, "class": events.ClassRecv,
		"format": "text", "id": id, "group_id": group, "content": content, "time": 1764640000}
}

func wxEvent(name string, params ...any) map[string]any {
	if params == nil {
		params = []any{}
	}
	return map[string]any{"post_type": events.PostEvent, "event": name, "params": params}
}

// wxCall is one request the stand-in session got on wx.api.<route>.
type wxCall struct {
	route  string
	params events.Params
	from   string // the Openqq-From header
}

// wxAPI stands in for the wx session: a real micro service on wx.api.send_friend_message and
// wx.api.send_group_message that records each call and answers as Openwx does, or with the
// code fail chooses.
type wxAPI struct {
	mu    sync.Mutex
	calls []wxCall
	fail  func(c wxCall) int // a code other than 0 refuses the call
}

func startWXAPI(t testing.TB, nc *nats.Conn) *wxAPI {
	t.Helper()
	a := &wxAPI{}
	svc, err := micro.AddService(nc, micro.Config{Name: wx.ServiceName, Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	g := svc.AddGroup(events.Subjects{Prefix: wx.Prefix}.APIGroup())
	for _, route := range []string{wx.RouteSendFriendMessage, wx.RouteSendGroupMessage} {
		if err := g.AddEndpoint(route, micro.HandlerFunc(func(req micro.Request) { a.handle(route, req) })); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *wxAPI) handle(route string, req micro.Request) {
	var p events.Params
	if err := json.Unmarshal(req.Data(), &p); err != nil {
		_ = req.RespondJSON(map[string]any{"code": events.CodeBadRequest, "status": err.Error()})
		return
	}
	c := wxCall{route: route, params: p, from: req.Headers().Get(events.HeaderFrom)}
	a.mu.Lock()
	code := 0
	if a.fail != nil {
		code = a.fail(c)
	}
	if code == 0 {
		a.calls = append(a.calls, c)
	}
	a.mu.Unlock()
	if code != 0 {
		_ = req.RespondJSON(map[string]any{"id": nil, "code": code, "status": "refused"})
		return
	}
	_ = req.RespondJSON(map[string]any{"id": fmt.Sprintf("%d:%s", time.Now().UnixNano(), p["id"]), "code": 0, "status": "success"})
}

// got returns the calls answered with success so far.
func (a *wxAPI) got() []wxCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]wxCall(nil), a.calls...)
}
