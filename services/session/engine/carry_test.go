package engine

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// Reports an earlier run left unstored (Config.Carry) are stored before anything the new run
// reports, in their order, once each (a carried report the stream had already is not stored
// twice); what a run could not store is what Unstored hands back.
func TestCarryStoredFirst(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subj := events.Subjects{Prefix: "qq", Client: "alice"}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, StreamSettings(subj, StreamConfig{})); err != nil {
		t.Fatal(err)
	}
	carried := func(id, name string) *nats.Msg {
		m := nats.NewMsg(subj.Event(name))
		m.Header.Set(events.HeaderMsgID, "alice:"+id)
		m.Data = []byte(`{"post_type":"event","event":"` + name + `"}`)
		return m
	}
	first, second := carried("old-1", events.EventStateChange), carried("old-2", events.EventStop)
	if _, err := js.PublishMsg(ctx, carried("old-1", events.EventStateChange)); err != nil { // stored already: its ack was lost
		t.Fatal(err)
	}
	p := &testPlat{service: "openqq", login: make(chan struct{})}
	close(p.login)
	e, err := New(nc, Config{SubjectPrefix: "qq", Client: "alice", StreamManaged: true, Carry: []*nats.Msg{first, second}},
		natstest.Logger(t), func(e *Engine) (Platform, error) { p.e = e; return p, nil })
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(rctx) }()
	waitState(t, e, events.StateRunning)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if left := e.Unstored(); len(left) != 0 {
		t.Errorf("%d reports unstored with the stream up", len(left))
	}
	stream, err := js.Stream(ctx, subj.Stream())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := uint64(1); ; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		ids = append(ids, m.Header.Get(events.HeaderMsgID))
	}
	if len(ids) < 3 || ids[0] != "alice:old-1" || ids[1] != "alice:old-2" {
		t.Fatalf("stored %q: want the carried reports first, old-1 once", ids)
	}
	for _, id := range ids[2:] {
		if id == "alice:old-1" || id == "alice:old-2" {
			t.Errorf("stored %q: a carried report twice", ids)
		}
	}
}
