package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

// getReporters calls /console/reporters and checks the answer is the API's JSON.
func (e *streamEnv) getReporters() (reportersReply, []byte) {
	e.t.Helper()
	a := readAnswer(e.t, e.get(pathReporters, ""))
	checkCommon(e.t, http.MethodGet, a)
	if a.status != http.StatusOK {
		e.t.Fatalf("HTTP %d %s", a.status, a.body)
	}
	var r reportersReply
	if err := json.Unmarshal(a.body, &r); err != nil {
		e.t.Fatalf("%s: %v", a.body, err)
	}
	return r, a.body
}

// The reporters' consumers and the dead letters, as the console shows them.
func TestReporters(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	ctx := context.Background()
	newConsumer := func(name, desc string) jetstream.Consumer {
		c, err := e.js.CreateOrUpdateConsumer(ctx, "QQ_EVENTS", jetstream.ConsumerConfig{
			Durable: name, Description: desc, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	x := newConsumer("reporter_x", "openqq reporter → http://127.0.0.1:8080/post_api")
	newConsumer("reporter_a", "openqq reporter → stdout")
	// Neither the answers' consumer nor a stream client's is a reporter's.
	newConsumer("applied", "openqq: post_api answers already applied")
	e.open("")
	e.publishN(5, events.GroupMessage)

	// reporter_x: 2 handed out, the first acknowledged, the second handed out again.
	batch, err := x.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if n == 0 {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		n++
	}
	if n != 2 {
		t.Fatalf("fetched %d", n)
	}
	time.Sleep(300 * time.Millisecond) // past AckWait
	batch, err = x.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if md, _ := m.Metadata(); md.NumDelivered != 2 {
			t.Errorf("redelivered item delivered %d times", md.NumDelivered)
		}
	}

	r, body := e.getReporters()
	want := reportersReply{Code: 0, Reporters: []reporterInfo{
		{Name: "reporter_a", Description: "openqq reporter → stdout", Pending: 5},
		{Name: "reporter_x", Description: "openqq reporter → http://127.0.0.1:8080/post_api",
			Delivered: 2, AckPending: 1, Redelivered: 1, Pending: 3},
	}}
	if !equalReporters(r, want) {
		t.Errorf("got %s, want %s", body, events.MustMarshal(want))
	}
	var shape map[string]json.RawMessage
	if err := json.Unmarshal(body, &shape); err != nil || len(shape) != 3 || shape["code"] == nil ||
		shape["reporters"] == nil || shape["dead_letters"] == nil {
		t.Errorf("shape %s", body)
	}
	var list []map[string]json.RawMessage
	_ = json.Unmarshal(shape["reporters"], &list)
	for _, o := range list {
		for _, k := range []string{"name", "description", "delivered", "ack_pending", "redelivered", "pending", "waiting"} {
			if o[k] == nil {
				t.Errorf("reporter without %q: %s", k, body)
			}
		}
		if len(o) != 7 {
			t.Errorf("reporter with %d fields: %s", len(o), body)
		}
	}

	// A reporter process waiting for items shows as waiting.
	pull, err := e.js.Consumer(ctx, "QQ_EVENTS", "reporter_a")
	if err != nil {
		t.Fatal(err)
	}
	mc, err := pull.Messages(jetstream.PullMaxMessages(100))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Stop()
	for range 5 {
		m, err := mc.Next()
		if err != nil {
			t.Fatal(err)
		}
		_ = m.Ack()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, body = e.getReporters()
		if a := r.Reporters[0]; a.Waiting == 1 && a.Pending == 0 && a.Delivered == 5 && a.AckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reporter_a not waiting: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Dead letters: counted once the stream exists.
	if r.DeadLetters != 0 {
		t.Errorf("dead_letters %d without the stream", r.DeadLetters)
	}
	e.createStream("QQ_DEADLETTER", "qq.deadletter.>")
	for range 3 {
		if _, err := e.js.Publish(ctx, "qq.deadletter.reporter_x", []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if r, body = e.getReporters(); r.DeadLetters != 3 {
		t.Errorf("dead_letters: %s, want 3", body)
	}
}

func equalReporters(a, b reportersReply) bool {
	if a.Code != b.Code || a.DeadLetters != b.DeadLetters || len(a.Reporters) != len(b.Reporters) {
		return false
	}
	for i := range a.Reporters {
		if a.Reporters[i] != b.Reporters[i] {
			return false
		}
	}
	return true
}

// Without the streams there are no reporters and no dead letters yet; another prefix has its
// own streams.
func TestReportersNoStreams(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, true, nil)
	if _, body := e.getReporters(); string(body) != `{"code":0,"reporters":[],"dead_letters":0}` {
		t.Errorf("got %s", body)
	}

	p := startStream(t, Config{SubjectPrefix: "acct2"}, false, nil)
	if _, err := p.js.CreateOrUpdateConsumer(context.Background(), "QQ_EVENTS_ACCT2",
		jetstream.ConsumerConfig{Durable: "reporter_y", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	p.createStream("QQ_DEADLETTER_ACCT2", "acct2.deadletter.>")
	if _, err := p.js.Publish(context.Background(), "acct2.deadletter.reporter_y", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if r, body := p.getReporters(); len(r.Reporters) != 1 || r.Reporters[0].Name != "reporter_y" || r.DeadLetters != 1 {
		t.Errorf("prefix acct2: %s", body)
	}
}
