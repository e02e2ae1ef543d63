package engine

import (
	"context"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// OnState hears every state change in order, and an engine told its stream is managed does
// not create it: its reports go to the stream whoever runs it created (StreamSettings).
func TestOnStateAndManagedStream(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subj := events.Subjects{Prefix: "qq"}
	sc := StreamConfig{MaxMsgs: 12345}
	if _, err := js.CreateStream(context.Background(), StreamSettings(subj, sc)); err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		seen [][2]events.State
	)
	p := &testPlat{service: "openqq", login: make(chan struct{})}
	close(p.login)
	e, err := New(nc, Config{SubjectPrefix: "qq", StreamManaged: true, Stream: StreamConfig{MaxMsgs: 1}, OnState: func(prev, cur events.State) {
		mu.Lock()
		seen = append(seen, [2]events.State{prev, cur})
		mu.Unlock()
	}}, natstest.Logger(t), func(e *Engine) (Platform, error) { p.e = e; return p, nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	waitState(t, e, events.StateRunning)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := [][2]events.State{
		{events.StateInit, events.StateLoading}, {events.StateLoading, events.StateUpdating},
		{events.StateUpdating, events.StateRunning}, {events.StateRunning, events.StateStop},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(want) {
		t.Fatalf("OnState heard %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("OnState heard %v, want %v", seen, want)
		}
	}
	info, err := js.Stream(context.Background(), subj.Stream())
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.MaxMsgs; got != 12345 {
		t.Errorf("stream MaxMsgs %d: the managed engine changed its stream", got)
	}
	if n := info.CachedInfo().State.Msgs; n < 4 {
		t.Errorf("stream holds %d reports, want the state changes and the stop", n)
	}
}

// Two accounts that publish an item under the same id both have it stored: an id is unique
// per account, and the stream's de-duplication must not take one account's for another's.
func TestSameIDTwoAccounts(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	for _, client := range []string{"", "alice", "bob"} {
		p := &testPlat{service: "openqq", login: make(chan struct{})}
		e, err := New(nc, Config{SubjectPrefix: "qq", Client: client}, natstest.Logger(t), func(e *Engine) (Platform, error) { p.e = e; return p, nil })
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		m := &events.Message{ID: 42, Type: events.FriendMessage, Class: events.ClassRecv, Content: "to " + client}
		if err := e.PublishItem(m, "42"); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), "QQ_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range []string{"qq.events.friend_message", "qq.events.alice.friend_message", "qq.events.bob.friend_message"} {
		if _, err := stream.GetLastMsgForSubject(context.Background(), subj); err != nil {
			t.Errorf("%s: %v: an account's item was taken for another's duplicate", subj, err)
		}
	}
}
