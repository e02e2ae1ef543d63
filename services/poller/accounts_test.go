package poller_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/poller"
)

// scripted is a poll_api on loopback (proctest.Receiver, which records every request with its
// query and headers) answering the first poll with a 302 to location, the others with 204.
func scripted(t *testing.T, location string) *proctest.Receiver {
	var once sync.Once
	return proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: func(r *proctest.Request) proctest.Answer {
		a := proctest.Answer{Status: http.StatusNoContent}
		if r.Method == http.MethodGet && location != "" {
			once.Do(func() { a = proctest.Answer{Status: http.StatusFound, Header: http.Header{"Location": {location}}} })
		}
		return a
	}})
}

// TestAccountsHeartbeats: one heartbeat per account with a POLL_API: the default account's
// (the poller's own, its URL unchanged), and a named account's from its spec in the clients
// bucket (client=NAME merged, the header), its commands sent to that account; a heartbeat
// stops when its spec goes, and starts when one comes. The accounts are real: the session
// (openqq-session, a session host) runs the default account and every spec put into the
// bucket.
func TestAccountsHeartbeats(t *testing.T) {
	srv := natstest.Start(t)
	proctest.StartSession(t, srv.ClientURL(), map[string]string{"CONTROL_DELAY": "1ms"})
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// The host creates the bucket as it starts.
	var kv jetstream.KeyValue
	waitFor(t, "the clients bucket", func() bool {
		kv, err = js.KeyValue(ctx, events.Subjects{Prefix: "qq"}.ClientsBucket())
		return err == nil
	})
	put := func(client string, settings map[string]string) {
		settings["DRIVER"], settings["SIM_QRCODE_DIR"] = "sim", t.TempDir()
		b, _ := json.Marshal(events.ClientSpec{Client: client, Settings: settings})
		if _, err := kv.Put(ctx, client, b); err != nil {
			t.Fatal(err)
		}
	}
	defaultPoll := scripted(t, "")
	alicePoll := scripted(t, "/openqq/send_friend_message?id=2372835507&content=hi&client=default")
	bobPoll := scripted(t, "")
	put("alice", map[string]string{"POLL_API": alicePoll.URL + "?k=1", "POLL_INTERVAL": "0.02"})
	put("carol", map[string]string{}) // no POLL_API: no heartbeat
	// Each account's sent messages, on its own subjects.
	sent, aliceSent := make(chan *nats.Msg, 8), make(chan *nats.Msg, 8)
	if _, err := nc.ChanSubscribe("qq.events.friend_message", sent); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.ChanSubscribe("qq.events.alice.friend_message", aliceSent); err != nil {
		t.Fatal(err)
	}

	p, err := poller.New(natstest.Connect(t, srv), poller.Config{PollAPI: defaultPoll.URL, PollInterval: 20 * time.Millisecond, PollTimeout: 2 * time.Second}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	gets := func(r *proctest.Receiver, n int) func([]proctest.Request) bool {
		return func(rs []proctest.Request) bool {
			c := 0
			for _, q := range rs {
				if q.Method == http.MethodGet {
					c++
				}
			}
			return c >= n
		}
	}
	if _, ok := defaultPoll.Wait(15*time.Second, gets(defaultPoll, 3)); !ok {
		t.Fatal("the default account's heartbeat did not poll")
	}
	if _, ok := alicePoll.Wait(15*time.Second, gets(alicePoll, 3)); !ok {
		t.Fatal("alice's heartbeat did not poll")
	}
	select {
	case m := <-aliceSent:
		var msg events.Message
		if err := json.Unmarshal(m.Data, &msg); err != nil || msg.Content != "hi" || msg.PostType != events.PostSendMessage || msg.Receiver == nil || msg.Receiver.ID != 2372835507 {
			t.Errorf("alice sent %s", m.Data)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("alice did not carry out her command")
	}
	select {
	case m := <-sent:
		t.Errorf("the default account sent alice's command: %s", m.Data)
	default:
	}
	for _, tc := range []struct {
		name        string
		r           *proctest.Receiver
		query, head string
	}{
		{"default", defaultPoll, "", events.DefaultClient},
		{"alice", alicePoll, "k=1&client=alice", "alice"},
	} {
		for _, q := range tc.r.Requests() {
			if q.RawQuery != tc.query || q.Header.Get(events.HTTPHeaderClient) != tc.head {
				t.Errorf("%s's poll: query %q, %s %q; want %q, %q", tc.name, q.RawQuery, events.HTTPHeaderClient, q.Header.Get(events.HTTPHeaderClient), tc.query, tc.head)
			}
		}
	}

	// alice's spec loses its POLL_API (she runs on: the host restarts her with it), bob's
	// comes: once bob polls, alice's heartbeat has stopped.
	put("alice", map[string]string{})
	put("bob", map[string]string{"POLL_API": bobPoll.URL, "POLL_INTERVAL": "20ms"})
	if _, ok := bobPoll.Wait(15*time.Second, gets(bobPoll, 1)); !ok {
		t.Fatal("bob's heartbeat did not start")
	}
	// Specs are read in order: bob's came after alice's deletion, which stopped her heartbeat
	// (and waited for it) before bob's started (and bob polls only once running).
	before := len(alicePoll.Requests())
	if _, ok := bobPoll.Wait(15*time.Second, gets(bobPoll, 5)); !ok {
		t.Fatal("bob's heartbeat stopped")
	}
	if after := len(alicePoll.Requests()); after != before {
		t.Errorf("alice's heartbeat went on after her POLL_API was gone: %d polls, then %d", before, after)
	}
	if got := bobPoll.Requests()[0]; got.RawQuery != "client=bob" || got.Header.Get(events.HTTPHeaderClient) != "bob" {
		t.Errorf("bob's poll: %q %v", got.RawQuery, got.Header)
	}
}
