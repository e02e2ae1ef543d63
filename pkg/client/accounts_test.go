package client_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// TestWatchAccounts: the view reads an absent bucket as empty, then follows the bucket once it
// exists: puts, deletions, and entries that are not specs.
func TestWatchAccounts(t *testing.T) {
	t.Parallel()
	s := startNATS(t)
	nc := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var errs []error
	c := client.New(nc, client.WithPrefix("wx"))
	view := c.WatchAccounts(ctx, func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() })
	select {
	case <-view.Ready():
	case <-ctx.Done():
		t.Fatal("not ready without a bucket")
	}
	if n := len(view.All()); n != 0 {
		t.Fatalf("absent bucket: %d accounts", n)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: events.Subjects{Prefix: "wx"}.ClientsBucket()})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, v any) {
		b, _ := json.Marshal(v)
		if _, err := kv.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-view.Changes():
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %s; view %+v", what, view.All())
			}
		}
	}
	// The value's client field does not name the account: the key does.
	put("alice", events.ClientSpec{Client: "mallory", Settings: map[string]string{"POST_API": "http://a/"}, StartTime: 7})
	until("alice", func() bool { _, ok := view.Get("alice"); return ok })
	acc, _ := view.Get("alice")
	if acc.Spec.Client != "alice" || acc.Spec.Setting("POST_API") != "http://a/" || acc.Updated.IsZero() || acc.Revision == 0 {
		t.Errorf("alice = %+v", acc)
	}
	if _, err := kv.Put(ctx, "bob", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	put("carol", events.ClientSpec{Client: "carol"})
	until("carol", func() bool { _, ok := view.Get("carol"); return ok })
	if _, ok := view.Get("bob"); ok {
		t.Error("an entry that is not a spec is in the view")
	}
	mu.Lock()
	if len(errs) == 0 {
		t.Error("the undecodable entry was not reported")
	}
	mu.Unlock()
	if err := kv.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	until("alice deleted", func() bool { _, ok := view.Get("alice"); return !ok })
}

// TestForClient: a client for another account calls that account's subjects, and the default
// account's are today's.
func TestForClient(t *testing.T) {
	t.Parallel()
	s := startNATS(t)
	nc := connect(t, s)
	got := make(chan string, 4)
	sub, err := nc.Subscribe("qq.api.>", func(m *nats.Msg) {
		got <- m.Subject
		_ = m.Respond([]byte(`{"code":0,"status":"success"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	base := client.New(nc, client.WithTimeout(5*time.Second))
	for _, tc := range []struct {
		c    *client.Client
		want string
	}{
		{base, "qq.api.get_user_info"},
		{base.ForClient("alice"), "qq.api.alice.get_user_info"},
		{base.ForClient(events.DefaultClient), "qq.api.get_user_info"},
		{client.New(nc, client.WithClient("bob")), "qq.api.bob.get_user_info"},
	} {
		if _, err := tc.c.Call(context.Background(), events.RouteGetUserInfo, nil); err != nil {
			t.Fatal(err)
		}
		if s := <-got; s != tc.want {
			t.Errorf("called %s, want %s", s, tc.want)
		}
	}
	if base.Subjects().Client != "" {
		t.Error("ForClient changed the client it was made from")
	}
}
