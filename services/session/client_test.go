package session

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// Two accounts on one NATS, the default one and "alice": each answers its own API subjects and
// stores its items on its own (qq.events.* and qq.events.alice.*), in the prefix's one stream.
func TestClientSubjects(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	if _, err := New(nc, Config{Client: "a.b", DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}, natstest.Logger(t)); err == nil || !strings.Contains(err.Error(), "not a valid name") {
		t.Errorf("client a.b: %v, want refused", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run := func(client string) *Session {
		s, err := New(nc, Config{Client: client, DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}, natstest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		deadline := time.Now().Add(10 * time.Second)
		for s.ClientState() != events.StateRunning {
			if time.Now().After(deadline) {
				t.Fatalf("%s not running within 10s", client)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return s
	}
	run("")
	run("alice")

	items, err := nc.SubscribeSync("qq.events.>")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ client, api, inject, subject string }{
		{"default", "qq.api.get_friend_info", "qq.sim.inject", "qq.events.friend_message"},
		{"alice", "qq.api.alice.get_friend_info", "qq.sim.alice.inject", "qq.events.alice.friend_message"},
	} {
		r, err := nc.Request(tt.api, []byte("{}"), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tt.api, err)
		}
		var friends []events.Friend
		if err := json.Unmarshal(r.Data, &friends); err != nil || len(friends) == 0 {
			t.Fatalf("%s: %s (%v)", tt.api, r.Data, err)
		}
		in, _ := json.Marshal(events.Injection{Type: events.FriendMessage, SenderID: friends[0].ID, Content: "to " + tt.client})
		if _, err := nc.Request(tt.inject, in, 5*time.Second); err != nil {
			t.Fatalf("%s: %v", tt.inject, err)
		}
		for {
			m, err := items.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("no %s: %v", tt.subject, err)
			}
			if m.Subject != tt.subject {
				continue
			}
			if !strings.Contains(string(m.Data), "to "+tt.client) {
				t.Errorf("%s carries %s", m.Subject, m.Data)
			}
			if c, ok := (events.Subjects{}).ClientOf(m.Subject); !ok || c != tt.client {
				t.Errorf("ClientOf(%s) = %q", m.Subject, c)
			}
			break
		}
	}
}
