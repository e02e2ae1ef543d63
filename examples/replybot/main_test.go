package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/cmd/openqq/allinone"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// The README's promise: the all-in-one run with POST_API pointed at this bot answers an
// injected group message with the bot's reply, in the same group.
func TestReplyBotAnswersInTheGroup(t *testing.T) {
	bot := httptest.NewServer(http.HandlerFunc(handle))
	defer bot.Close()

	cfg := allinone.Config{}
	cfg.NATS.Host, cfg.NATS.Port, cfg.NATS.StoreDir = "127.0.0.1", -1, t.TempDir()
	cfg.Gateway.Addr, cfg.Gateway.SubjectPrefix = "127.0.0.1:0", "qq"
	cfg.Gateway.APITimeout, cfg.Gateway.MaxBodyBytes = 5*time.Second, 1<<20
	cfg.Session.SubjectPrefix, cfg.Session.Driver = "qq", "sim"
	cfg.Session.DriverConfig = sim.Config{QRCodeDir: t.TempDir()}
	cfg.Reporter.PostAPI = []string{bot.URL + "/post_api"}
	ready := make(chan allinone.Addrs, 1)
	cfg.Ready = func(a allinone.Addrs) { ready <- a }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- allinone.Run(ctx, cfg, natstest.Logger(t)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	addrs := <-ready

	nc, err := nats.Connect(addrs.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sent := make(chan *nats.Msg, 16)
	if _, err := nc.ChanSubscribe(events.Subjects{}.Event(events.GroupMessage), sent); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(events.Injection{Type: events.GroupMessage, GroupID: 2617047292, SenderID: 2372835507, Content: "你好"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := nc.Request(events.Subjects{Prefix: events.DefaultPrefix}.SimInject(), in, time.Second)
		if err == nil && json.Valid(r.Data) {
			var rep events.InjectReply
			_ = json.Unmarshal(r.Data, &rep)
			if rep.Code == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("inject never accepted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		select {
		case m := <-sent:
			var msg events.Message
			if err := json.Unmarshal(m.Data, &msg); err != nil {
				t.Fatal(err)
			}
			if msg.PostType != events.PostSendMessage {
				continue
			}
			if msg.Content != "后端-夏梓轩，你说的是：你好" || msg.GroupRef == nil || msg.GroupRef.ID != 2617047292 || msg.From != events.FromReply {
				t.Fatalf("reply %s", m.Data)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("no reply within 10s")
		}
	}
}
