package host

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session/engine"
)

// An account that stops while the stream cannot store (here: sealed, as a stream without a
// leader refuses writes) leaves its reports with its host, which stores them once the stream
// takes writes again: the message it accepted and its stop events.
func TestUnstoredReportsOfAStoppedAccount(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h := startHost(t, srv, "h1", Off)
	subj := events.Subjects{Prefix: "qq"}
	clients := kv(t, nc, subj.ClientsBucket())
	leases := kv(t, nc, subj.LeasesBucket())
	putSpec(t, clients, "alice", simSettings(t))
	runningOn(t, leases, []string{"alice"}, "h1")

	r, err := nc.Request(subj.ForClient("alice").API(events.RouteGetFriendInfo), []byte("{}"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var friends []events.Friend
	if err := json.Unmarshal(r.Data, &friends); err != nil || len(friends) == 0 {
		t.Fatalf("get_friend_info: %s", r.Data)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stream, err := js.Stream(ctx, subj.Stream())
	if err != nil {
		t.Fatal(err)
	}
	sc := stream.CachedInfo().Config
	sealed := sc
	sealed.Sealed = true
	if _, err := js.UpdateStream(ctx, sealed); err != nil {
		t.Fatal(err)
	}

	// Accepted while the stream refuses writes: it waits in the account's outbox.
	in, _ := json.Marshal(events.Injection{Type: events.FriendMessage, SenderID: friends[0].ID, Content: "kept through the outage"})
	r, err = nc.Request(subj.ForClient("alice").SimInject(), in, 15*time.Second)
	if err != nil || !strings.Contains(string(r.Data), `"code":0`) {
		t.Fatalf("injection: %s %v", r.Data, err)
	}
	// stop_client: the account stops with its reports unstored.
	if err := clients.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "alice stopped", func() bool { _, ok := h.Session("alice"); return !ok })

	// The stream takes writes again (a sealed stream stays sealed: made again).
	if err := js.DeleteStream(ctx, subj.Stream()); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, engine.StreamSettings(subj, engine.StreamConfig{})); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	waitFor(t, "the message and the stop event stored", func() bool {
		stream, err := js.Stream(ctx, subj.Stream())
		if err != nil {
			return false
		}
		for _, name := range []string{events.FriendMessage, events.EventStop} {
			m, err := stream.GetLastMsgForSubject(ctx, subj.ForClient("alice").Event(name))
			if err == nil && (name != events.FriendMessage || strings.Contains(string(m.Data), "kept through the outage")) {
				got[name] = true
			}
		}
		return len(got) == 2
	})
}
