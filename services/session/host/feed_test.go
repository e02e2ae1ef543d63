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
)

// A host feeds the check_event of all its accounts from one consumer of the stream, not one
// per account (a stream takes a bounded number of consumers), and each account's check_event
// hands out its own items only.
func TestOneCheckEventFeedPerHost(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	startHost(t, srv, "h1", Off)
	subj := events.Subjects{Prefix: "qq"}
	clients := kv(t, nc, subj.ClientsBucket())
	leases := kv(t, nc, subj.LeasesBucket())
	names := []string{"a", "b", "c", "d", "e"}
	for _, c := range names {
		putSpec(t, clients, c, simSettings(t))
	}
	runningOn(t, leases, names, "h1")

	for _, c := range []string{"a", "b"} {
		r, err := nc.Request(subj.ForClient(c).API(events.RouteGetFriendInfo), []byte("{}"), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var friends []events.Friend
		if err := json.Unmarshal(r.Data, &friends); err != nil || len(friends) == 0 {
			t.Fatalf("%s get_friend_info: %s", c, r.Data)
		}
		in, _ := json.Marshal(events.Injection{Type: events.FriendMessage, SenderID: friends[0].ID, Content: "for " + c})
		if _, err := nc.Request(subj.ForClient(c).SimInject(), in, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"a", "b"} {
		var got string
		waitFor(t, c+"'s message in its check_event", func() bool {
			r, err := nc.Request(subj.ForClient(c).API(events.RouteCheckEvent), []byte("{}"), 40*time.Second)
			if err != nil {
				return false
			}
			got += string(r.Data)
			return strings.Contains(got, "for "+c)
		})
		other := map[string]string{"a": "b", "b": "a"}[c]
		if strings.Contains(got, "for "+other) {
			t.Errorf("%s's check_event handed out %s's message: %s", c, other, got)
		}
	}

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), subj.Stream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 1 {
		t.Errorf("%d consumers on %s for %d accounts, want the host's one", info.State.Consumers, subj.Stream(), len(names))
	}
}
