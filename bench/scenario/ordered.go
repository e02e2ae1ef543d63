package scenario

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const pathOrdered = "ordered"

// orderedConversations is how many conversations the ordered row's messages are spread over.
const orderedConversations = 100

// orderedItem is message seq of the ordered row: conversation seq%100, of every type in turn
// (friend, group, discuss, sess), with the sink's "bench <seq>" content and id seq+1.
func orderedItem(seq int) (subject string, body []byte, key string) {
	c := seq % orderedConversations
	id := seq + 1
	switch c % 4 {
	case 0:
		return "qq.events.friend_message", fmt.Appendf(nil,
			`{"post_type":"receive_message","type":"friend_message","class":"recv","id":%d,"sender_id":%d,"receiver_id":1,"content":"%s%d"}`,
			id, 1000+c, benchPrefix, seq), "friend." + strconv.Itoa(1000+c)
	case 1:
		return "qq.events.group_message", fmt.Appendf(nil,
			`{"post_type":"receive_message","type":"group_message","class":"recv","id":%d,"sender_id":7,"group_id":%d,"content":"%s%d"}`,
			id, 2000+c, benchPrefix, seq), "group." + strconv.Itoa(2000+c)
	case 2:
		return "qq.events.discuss_message", fmt.Appendf(nil,
			`{"post_type":"receive_message","type":"discuss_message","class":"recv","id":%d,"sender_id":7,"discuss_id":%d,"content":"%s%d"}`,
			id, 3000+c, benchPrefix, seq), "discuss." + strconv.Itoa(3000+c)
	default:
		return "qq.events.sess_message", fmt.Appendf(nil,
			`{"post_type":"receive_message","type":"sess_message","class":"recv","id":%d,"sender_id":%d,"group_id":9,"content":"%s%d"}`,
			id, 4000+c, benchPrefix, seq), "sess." + strconv.Itoa(4000+c)
	}
}

// Ordered: Events messages over 100 conversations (friends, groups, discusses, sess) stored
// first, then delivered by one openqq-reporter with the default POST_ORDER=conversation, by one
// with POST_ORDER=none (the unordered pipeline), and by the minimal loop with the same payloads
// and pull settings. Rates are the steady ones (10th to 90th percentile of arrivals), so that
// start-up does not count; the order of each conversation is checked at the sink.
func (h *Harness) Ordered(ctx context.Context) []Row {
	cfg := h.Cfg
	what := fmt.Sprintf("%s messages over %d conversations stored, then 1 openqq-reporter × POST_CONCURRENCY %d → sink answering at once",
		group(strconv.Itoa(cfg.Events)), orderedConversations, cfg.PostConcurrency)
	rows, err := h.ordered(ctx, what)
	if err != nil {
		return append(rows, errorRow(pathOrdered, what, err))
	}
	return rows
}

func (h *Harness) ordered(ctx context.Context, what string) ([]Row, error) {
	cfg := h.Cfg
	n := cfg.Events
	subjects := make([]string, n)
	bodies := make([][]byte, n)
	keys := make([]string, n)
	ids := make([]int64, n)
	for i := range n {
		subjects[i], bodies[i], keys[i] = orderedItem(i)
		ids[i] = int64(i + 1)
	}

	h.logf("ordered: nats-server and session")
	sys, err := h.Cluster(ctx, false, nil)
	if err != nil {
		return nil, err
	}
	defer sys.Stop()
	if err := storeAll(ctx, sys.NATS, subjects, bodies); err != nil {
		return nil, err
	}

	run := func(order string) (Delivery, int, error) {
		sink, err := NewSink(0)
		if err != nil {
			return Delivery{}, 0, err
		}
		defer sink.Close()
		sink.Reset(n)
		h.logf("ordered: one reporter, POST_ORDER=%s", order)
		t0 := time.Now().UnixNano()
		p, err := h.Reporter(ctx, sys, map[string]string{
			"POST_API": sink.URL, "POST_CONCURRENCY": strconv.Itoa(cfg.PostConcurrency),
			"POST_ORDER": order, "POST_MAX_LAG": "0s", "POST_BACKFILL": "1h",
		})
		if err != nil {
			return Delivery{}, 0, err
		}
		defer p.Stop()
		waitDelivered(ctx, sink, stallWait)
		starts := make([]int64, n)
		for i := range starts {
			starts[i] = t0
		}
		return sink.Result(starts, ids), outOfOrder(sink, keys), nil
	}
	ord, ordBad, err := run("conversation")
	if err != nil {
		return nil, err
	}
	unord, unordBad, err := run("none")
	if err != nil {
		return nil, err
	}
	problems, lines := sys.Problems()
	sys.Stop()

	h.logf("ordered: baseline (minimal JetStream loop)")
	base, err := h.BaselineAll(ctx, bodies, ids, cfg.PostConcurrency)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}

	steady := func(d Delivery) string {
		s := fmt.Sprintf("%s events/s steady", num(d.SteadyPerSec))
		if d.Lossless() {
			s += ", no loss"
		} else {
			s += fmt.Sprintf(", **%d missing, %d wrong id**", d.Missing, d.WrongID)
		}
		if d.Duplicates > 0 {
			s += fmt.Sprintf(", %d duplicates", d.Duplicates)
		}
		return s
	}
	raw := map[string]any{"openqq": ord, "unordered": unord, "baseline": base,
		"out_of_order": ordBad, "unordered_out_of_order": unordBad, "log_error_lines": problems, "log_error_sample": lines}
	rUnord := ratio(ord.SteadyPerSec, unord.SteadyPerSec)
	rBase := ratio(ord.SteadyPerSec, base.SteadyPerSec)
	return []Row{{
		Path: pathOrdered, What: what + ": ordered against unordered", Metric: "events/s", Unit: "events/s",
		Value: ord.SteadyPerSec, Baseline: f64(unord.SteadyPerSec), Ratio: rUnord,
		Measured:     "POST_ORDER=conversation: " + steady(ord),
		BaselineText: fmt.Sprintf("POST_ORDER=none: %s (%d out of order)", steady(unord), unordBad),
		Target:       "≥ 0.8 of unordered", Met: atLeast(rUnord, 0.8), Raw: raw,
	}, {
		Path: pathOrdered, What: what + ": ordered against the minimal loop", Metric: "events/s", Unit: "events/s",
		Value: ord.SteadyPerSec, Baseline: f64(base.SteadyPerSec), Ratio: rBase,
		Measured:     "POST_ORDER=conversation: " + steady(ord),
		BaselineText: "minimal loop: " + steady(base),
		Target:       "≥ 0.6 of baseline", Met: atLeast(rBase, 0.6),
	}, {
		Path: pathOrdered, What: "every conversation in stored order at the sink", Metric: "out of order", Unit: "events",
		Value:    float64(ordBad),
		Measured: fmt.Sprintf("%d of %d arrived before an earlier message of their conversation", ordBad, n),
		Target:   "0", Met: boolp(ordBad == 0 && ord.Lossless()),
	}}, nil
}

// storeAll publishes every body on its subject into the stream the session made, and waits
// for the acks.
func storeAll(ctx context.Context, natsURL string, subjects []string, bodies [][]byte) error {
	nc, err := connectNATS(natsURL, "bench-store")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		return err
	}
	for i, b := range bodies {
		m := nats.NewMsg(subjects[i])
		m.Data = b
		if _, err := js.PublishMsgAsync(m); err != nil {
			return fmt.Errorf("store %d: %w", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("store: %d publishes not acknowledged", js.PublishAsyncPending())
	}
	return nil
}

// outOfOrder counts the messages that first arrived before an earlier message of their
// conversation (keys[i] is message i's).
func outOfOrder(s *Sink, keys []string) int {
	rd := s.round.Load()
	last := map[string]int64{}
	bad := 0
	for i, k := range keys {
		if i >= rd.n || rd.count[i].Load() == 0 {
			continue
		}
		t := rd.recv[i].Load()
		if t < last[k] {
			bad++
		}
		last[k] = max(last[k], t)
	}
	return bad
}
