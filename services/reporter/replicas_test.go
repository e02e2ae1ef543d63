package reporter

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Ten thousand messages over 100 conversations of every type, four reporter processes, a
// receiver that takes 0–20 ms and answers 500 to 5% of first tries; the first replica, alone
// at first, then sharing the partitions with three more, is SIGKILLed midway and another one
// started. Nothing is lost, nothing of a conversation comes after a later item of it;
// duplicates (a re-POST of an item the dead replica had posted but not acknowledged) are
// counted; and the replicas share the work: several of them post.
func TestOrderReplicasKilledMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs reporter processes")
	}
	t.Parallel()
	bin, err := proctest.Binaries(context.Background(), proctest.BinReporter)
	if err != nil {
		t.Fatal(err)
	}
	g, err := proctest.NewGroup(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamName, Subjects: []string{"qq.events.>"}}); err != nil {
		t.Fatal(err)
	}

	rc := newOrderReceiver(t, func(_ []byte, try int) (int, time.Duration) {
		delay := time.Duration(rand.IntN(21)) * time.Millisecond
		if try == 1 && rand.IntN(100) < 5 {
			return http.StatusInternalServerError, delay
		}
		return http.StatusOK, delay
	})
	env := map[string]string{
		"NATS_URL": srv.ClientURL(), "POST_API": rc.url(), "POST_CONCURRENCY": "16",
		"POST_RETRY_MIN": "50ms", "POST_RETRY_MAX": "500ms", "POST_TIMEOUT": "5s", "POST_ACK_WAIT": "2s", "POST_PIN_TTL": "2s",
		"POST_DRAIN_TIMEOUT": "1s", "POST_PARTITIONS": "4", "HEALTH_ADDR": "127.0.0.1:0", "LOG_LEVEL": "warn",
	}

	const total, convs = 10000, 100
	want := map[string][]int64{}
	items := make([][]byte, 0, total)
	subjects := make([]string, 0, total)
	for i := range total {
		c := rand.IntN(convs)
		id := int64(i + 1)
		var m string
		switch c % 4 {
		case 0:
			m = fmt.Sprintf(`{"post_type":"receive_message","type":"friend_message","id":%d,"sender_id":%d,"receiver_id":1,"content":"m%d"}`, id, 1000+c, i)
		case 1:
			m = fmt.Sprintf(`{"post_type":"receive_message","type":"group_message","id":%d,"sender_id":7,"group_id":%d,"content":"m%d"}`, id, 2000+c, i)
		case 2:
			m = fmt.Sprintf(`{"post_type":"send_message","type":"discuss_message","id":%d,"sender_id":1,"discuss_id":%d,"content":"m%d"}`, id, 3000+c, i)
		default:
			m = fmt.Sprintf(`{"post_type":"receive_message","type":"sess_message","id":%d,"sender_id":%d,"group_id":9,"content":"m%d"}`, id, 4000+c, i)
		}
		k := orderKey([]byte(m))
		want[k] = append(want[k], id)
		items = append(items, []byte(m))
		subjects = append(subjects, "qq.events."+[]string{"friend_message", "group_message", "discuss_message", "sess_message"}[c%4])
	}
	// In batches, each acknowledged before the next: a loaded machine (-race) stalls a large
	// async window.
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			msg := nats.NewMsg(subjects[i])
			msg.Data = items[i]
			if _, err := js.PublishMsgAsync(msg); err != nil {
				t.Error(err)
				return
			}
			if (i+1)%256 == 0 || i == to-1 {
				select {
				case <-js.PublishAsyncComplete():
				case <-time.After(20 * time.Second):
					t.Error("publish did not complete")
					return
				}
			}
		}
	}
	publish(0, total/2)

	// Cleanups run last first: the reporters are killed, then their logs shown if anything failed.
	t.Cleanup(func() {
		if t.Failed() {
			g.LogOutputs(t, 200)
		}
	})
	t.Cleanup(func() {
		for _, p := range g.Procs() {
			p.Signal(syscall.SIGKILL, 5*time.Second)
		}
	})
	var procs []*proctest.Proc
	start := func() {
		name := fmt.Sprintf("replica-%d", len(procs))
		e := maps.Clone(env)
		e["REPORTER_NAME"] = name
		p, err := g.Start(name, proctest.BinReporter, e)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	delivered := func() int {
		n := 0
		for _, a := range rc.all() {
			n += b2i(a.status == http.StatusOK)
		}
		return n
	}
	// The first replica takes every partition; three more join and take their share.
	start()
	waitUntil(t, 20*time.Second, "the first replica delivering", func() bool { return delivered() > 0 })
	firstJoined := len(rc.all())
	for range 3 {
		start()
	}
	go publish(total/2, total)
	waitUntil(t, 30*time.Second, "4,000 items delivered", func() bool { return delivered() >= 4000 })
	if !procs[0].Signal(syscall.SIGKILL, 5*time.Second) { // no drain, no unpin, items in hand
		t.Fatal("the first reporter did not die of SIGKILL")
	}
	start()

	var rep orderReport
	waitUntilf(t, 60*time.Second, func() string { return fmt.Sprintf("every item: %+v", rep) }, func() bool {
		rep = checkOrder(want, rc.all())
		return rep.lost == 0
	})
	t.Logf("4 reporters, one SIGKILLed midway: %d items over %d conversations: %d lost, %d out of order, %d duplicates, %d requests",
		total, len(want), rep.lost, rep.outOfOrder, rep.duplicates, len(rc.all()))
	if rep.outOfOrder != 0 {
		t.Errorf("%d out of order; first: %s", rep.outOfOrder, rep.firstProblem)
	}
	// Delivered after the three joined: the partitions are spread, not one replica's.
	by := map[string]int{}
	for _, a := range rc.all()[firstJoined:] {
		if a.status == http.StatusOK {
			by[a.reporter]++
		}
	}
	t.Logf("delivered by replica once the others joined: %v", by)
	// Replicas 1 to 3 run from then on: each has partitions of its own.
	if len(by) < 3 {
		t.Errorf("fewer than 3 replicas delivered once the others joined: %v", by)
	}
}
