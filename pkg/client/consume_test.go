package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// consume runs Consume in the background and returns the items it hands out.
func consume(t *testing.T, qq *client.Client, opts client.ConsumeOptions, h client.Handler) <-chan *client.Item {
	t.Helper()
	got := make(chan *client.Item, 64)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- qq.Consume(ctx, opts, func(ctx context.Context, it *client.Item) error {
			if h != nil {
				if err := h(ctx, it); err != nil {
					return err
				}
			}
			got <- it
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return got
}

func next(t *testing.T, got <-chan *client.Item) *client.Item {
	t.Helper()
	select {
	case it := <-got:
		return it
	case <-time.After(10 * time.Second):
		t.Fatal("no item")
		return nil
	}
}

// within is the next item, or nil if none comes within d (a marker published before the
// subscription was in place, to be published again).
func within(got <-chan *client.Item, d time.Duration) *client.Item {
	select {
	case it := <-got:
		return it
	case <-time.After(d):
		return nil
	}
}

func createStream(t *testing.T, nc *nats.Conn, subj events.Subjects) jetstream.Stream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: subj.Stream(), Subjects: []string{subj.Events()}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestFollowLive(t *testing.T) {
	nc := connect(t, startNATS(t))
	subj := events.Subjects{Prefix: "acct1"}
	qq := client.New(nc, client.WithPrefix("acct1"))
	// Consume subscribes in the background: publish a marker until each subscriber has one.
	all := consume(t, qq, client.ConsumeOptions{}, nil)
	login, _ := events.NewEvent(events.EventLogin)
	for {
		publish(t, nc, subj, login)
		if it := within(all, 100*time.Millisecond); it != nil && it.Name == events.EventLogin {
			break
		}
	}
	groups := consume(t, qq, client.ConsumeOptions{Names: []string{events.GroupMessage}}, nil)
	for {
		publish(t, nc, subj, groupMessage(0, "marker"))
		if it := within(groups, 100*time.Millisecond); it != nil && it.Message.Content == "marker" {
			break
		}
	}
	drain := func(got <-chan *client.Item) *client.Item {
		for {
			it := next(t, got)
			if it.Name != events.EventLogin && (it.Message == nil || it.Message.Content != "marker") {
				return it
			}
		}
	}
	publish(t, nc, subj, groupMessage(1, "one"))
	ev, err := events.NewEvent(events.EventStateChange, events.StateLoading, events.StateRunning)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, nc, subj, ev)
	publish(t, nc, subj, groupMessage(2, "two"))

	var names []string
	for range 3 {
		it := drain(all)
		names = append(names, it.Name)
		if it.Subject != subj.Event(it.Name) || it.Seq != 0 {
			t.Errorf("item %s on %s seq %d", it.Name, it.Subject, it.Seq)
		}
		if it.Event != nil {
			var from, to events.State
			if err := it.Params(&from, &to); err != nil || from != events.StateLoading || to != events.StateRunning {
				t.Errorf("state_change params %s → %s (%v)", from, to, err)
			}
		}
	}
	if fmt.Sprint(names) != "[group_message state_change group_message]" {
		t.Errorf("items %v", names)
	}
	for _, want := range []string{"one", "two"} {
		if it := drain(groups); it.Message == nil || it.Message.Content != want || it.Message.GroupRef.ID != 2617047292 {
			t.Errorf("group filter got %+v, want message %q", it, want)
		}
	}
}

func TestConsumeStream(t *testing.T) {
	nc := connect(t, startNATS(t))
	subj := events.Subjects{}
	createStream(t, nc, subj)
	qq := client.New(nc)
	for _, to := range []events.State{events.StateLoading, events.StateRunning} {
		ev, _ := events.NewEvent(events.EventStateChange, events.StateInit, to)
		publish(t, nc, subj, ev)
	}
	publish(t, nc, subj, groupMessage(1, "stored"))
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	t.Run("from the start", func(t *testing.T) {
		got := consume(t, qq, client.ConsumeOptions{Stream: true}, nil)
		for seq := uint64(1); seq <= 3; seq++ {
			if it := next(t, got); it.Seq != seq {
				t.Errorf("seq %d, want %d", it.Seq, seq)
			}
		}
	})
	t.Run("the last of a name", func(t *testing.T) {
		got := consume(t, qq, client.ConsumeOptions{Stream: true, Names: []string{events.EventStateChange}, Deliver: client.DeliverLastPerName}, nil)
		it := next(t, got)
		var from, to events.State
		if err := it.Params(&from, &to); err != nil || to != events.StateRunning || it.Seq != 2 {
			t.Errorf("got %s seq %d (%v), want the last state_change", to, it.Seq, err)
		}
	})
	t.Run("no stream", func(t *testing.T) {
		err := client.New(nc, client.WithPrefix("nobody")).Consume(t.Context(), client.ConsumeOptions{Stream: true}, nil)
		if !errors.Is(err, client.ErrStreamNotFound) {
			t.Errorf("err %v, want ErrStreamNotFound", err)
		}
	})
}

// A durable consumer hands a failed item out again, and a new Consume of the same name resumes
// after the last item handled.
func TestConsumeDurable(t *testing.T) {
	nc := connect(t, startNATS(t))
	subj := events.Subjects{}
	createStream(t, nc, subj)
	qq := client.New(nc)
	publish(t, nc, subj, groupMessage(1, "first"))
	failed := make(chan error, 1)
	opts := client.ConsumeOptions{Durable: "bot", RetryDelay: 10 * time.Millisecond, OnError: func(_ *client.Item, err error) { failed <- err }}
	fail := true
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *client.Item, 8)
	done := make(chan error, 1)
	go func() {
		done <- qq.Consume(ctx, opts, func(_ context.Context, it *client.Item) error {
			if fail {
				fail = false
				return errors.New("not now")
			}
			got <- it
			return nil
		})
	}()
	if err := <-failed; err.Error() != "not now" {
		t.Fatal(err)
	}
	if it := next(t, got); it.Message.Content != "first" || it.Seq != 1 {
		t.Errorf("redelivered %+v", it)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	publish(t, nc, subj, groupMessage(2, "second"))
	again := consume(t, qq, client.ConsumeOptions{Durable: "bot"}, nil)
	if it := next(t, again); it.Message.Content != "second" || it.Seq != 2 {
		t.Errorf("resumed with %+v, want the second item", it)
	}
}
