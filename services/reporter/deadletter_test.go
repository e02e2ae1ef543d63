package reporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// deadLetters reads the dead-letter stream (nil if it does not exist).
func (s *system) deadLetters(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, events.DeadLetterStreamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// An item the receiver keeps refusing is parked after POST_MAX_DELIVER tries, with where it
// came from and why, while the rest keeps flowing; Replay delivers it once the receiver takes
// it, and removes it.
func TestDeadLetterAndReplay(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	var acceptAll atomic.Bool
	rc := newReceiver(t, func(p post) answer {
		if p.str("content") == "poison" && !acceptAll.Load() {
			return answer{status: http.StatusInternalServerError, body: "cannot digest"}
		}
		return answer{status: http.StatusOK}
	})
	cfg := fastConfig(rc.url())
	cfg.PostMaxDeliver = 3
	r, _ := runReporter(t, s.srv, cfg)

	var ids []int64
	var poisonID int64
	for _, content := range []string{"before 1", "before 2", "poison", "after 1", "after 2", "after 3"} {
		id := s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: content})
		if content == "poison" {
			poisonID = id
		} else {
			ids = append(ids, id)
		}
	}
	rc.waitFor(t, 15*time.Second, "every other message", func(ps []post) bool {
		for _, id := range ids {
			if !hasMessage(ps, id, events.PostReceiveMessage) {
				return false
			}
		}
		return true
	})
	var dl []*jetstream.RawStreamMsg
	waitUntilf(t, 15*time.Second, func() string { return fmt.Sprintf("one dead letter, got %d", len(dl)) }, func() bool {
		dl = s.deadLetters(t)
		return len(dl) == 1
	})
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)

	// The original item, for comparison.
	var orig *jetstream.RawStreamMsg
	for _, m := range s.streamItems(t, "qq.events.group_message") {
		if bytes.Contains(m.Data, []byte(`"id":`+strconv.FormatInt(poisonID, 10))) {
			orig = m
		}
	}
	if orig == nil {
		t.Fatal("poison not on QQ_EVENTS")
	}
	d := dl[0]
	cons := consumerName(rc.url())
	if d.Subject != "qq.deadletter."+cons {
		t.Errorf("dead letter subject %q, want qq.deadletter.%s", d.Subject, cons)
	}
	if !bytes.Equal(d.Data, orig.Data) {
		t.Errorf("dead letter body %s\nwant the original %s", d.Data, orig.Data)
	}
	for h, want := range map[string]string{
		HeaderDLSubject:    "qq.events.group_message",
		HeaderDLSeq:        strconv.FormatUint(orig.Sequence, 10),
		HeaderDLStream:     events.StreamName,
		HeaderDLDeliveries: "3",
		HeaderDLConsumer:   cons,
		HeaderDLTarget:     config.MaskURL(rc.url()),
	} {
		if got := d.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	if e := d.Header.Get(HeaderDLError); !strings.Contains(e, "500") {
		t.Errorf("header %s = %q, want the HTTP 500", HeaderDLError, e)
	}
	// Tried exactly POST_MAX_DELIVER times, then left alone.
	var attempts []string
	for _, p := range rc.all() {
		if p.str("content") == "poison" {
			attempts = append(attempts, p.Header.Get("X-Openqq-Attempt"))
		}
	}
	if strings.Join(attempts, ",") != "1,2,3" {
		t.Errorf("poison attempts %v, want 1,2,3", attempts)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A reporter for another URL leaves it alone.
	other, err := New(natstest.Connect(t, s.srv), fastConfig("http://127.0.0.1:1/elsewhere"), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := other.Replay(ctx); err != nil || res != (ReplayResult{Skipped: 1}) {
		t.Errorf("replay for another target: %+v, %v; want 1 skipped", res, err)
	}
	// While the receiver still refuses, Replay fails and keeps it.
	if res, err := r.Replay(ctx); err != nil || res != (ReplayResult{Failed: 1}) {
		t.Errorf("replay while refused: %+v, %v; want 1 failed", res, err)
	}
	if n := len(s.deadLetters(t)); n != 1 {
		t.Fatalf("%d dead letters after a failed replay, want 1", n)
	}

	acceptAll.Store(true)
	res, err := r.Replay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res != (ReplayResult{Delivered: 1}) {
		t.Errorf("replay: %+v, want 1 delivered", res)
	}
	if n := len(s.deadLetters(t)); n != 0 {
		t.Errorf("%d dead letters left after replay, want none", n)
	}
	st, err := s.js.Stream(ctx, events.DeadLetterStreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := st.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("dead-letter stream: %+v, %v; want empty", info.State, err)
	}
	if !hasMessage(rc.accepted(), poisonID, events.PostReceiveMessage) {
		t.Errorf("the replayed item never reached post_api")
	}
	// A second replay has nothing to do.
	if res, err := r.Replay(ctx); err != nil || res != (ReplayResult{}) {
		t.Errorf("second replay: %+v, %v; want nothing", res, err)
	}
}

// Replay without a dead-letter stream is a clear error, not a hang.
func TestReplayWithoutDeadLetterStream(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	r, err := New(natstest.Connect(t, srv), fastConfig("http://127.0.0.1:1/"), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.Replay(ctx); err == nil || !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("Replay = %v, want stream not found", err)
	}
}
