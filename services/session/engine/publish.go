package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
)

// StreamConfig sets the limits of the QQ_EVENTS stream.
type StreamConfig struct {
	MaxAge   time.Duration `envconfig:"MAX_AGE" default:"168h" zero:"off"`
	MaxBytes int64         `envconfig:"MAX_BYTES" default:"1073741824"`
	MaxMsgs  int64         `envconfig:"MAX_MSGS" default:"-1"`
	Replicas int           `envconfig:"REPLICAS" default:"1"`
	// Duplicates is how long a Nats-Msg-Id is remembered to store a retried publish once.
	Duplicates time.Duration `envconfig:"DUPLICATE_WINDOW" default:"2m"`
}

// ErrOutboxFull is a report refused because NATS has been away for long enough to fill the
// outbox.
var ErrOutboxFull = errors.New("outbox full: NATS has been unreachable too long")

// publisher stores reports on the stream, in order, each under its id (Nats-Msg-Id) so that a
// retried publish is stored once. Reports wait in a bounded outbox while NATS is away, and go
// out in order when it is back. Core subscribers (nats sub 'qq.events.*') see every report
// live, since a JetStream publish is a plain publish the stream also keeps.
type publisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	subj   events.Subjects
	stream jetstream.StreamConfig
	log    *slog.Logger
	max    int
	labels metricLabels

	mu     sync.Mutex
	queue  []entry
	wake   chan struct{}
	idle   *sync.Cond // signalled when the queue empties
	closed bool

	streamOK  atomic.Bool   // the stream was there at the last look
	ready     chan struct{} // closed once the stream first exists
	readyOnce sync.Once
	away      atomic.Bool // the last flush failed: callers do not wait for acks
}

type entry struct {
	msg    *nats.Msg
	stored chan struct{} // closed once the stream has it
}

// ackWait is how long a caller waits for its report to be stored while NATS is up.
const ackWait = 5 * time.Second

// StreamSettings is the configuration of subj's event stream with sc's limits, as the
// publisher creates it (and a session host, once for all its accounts).
func StreamSettings(subj events.Subjects, sc StreamConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        subj.Stream(),
		Description: "openqq: every message report and event, as post_api gets them",
		Subjects:    []string{subj.Events()},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      max(sc.MaxAge, 0), // negative: no limit (zero takes the default)
		MaxBytes:    sc.MaxBytes,
		MaxMsgs:     sc.MaxMsgs,
		Replicas:    sc.Replicas,
		Duplicates:  sc.Duplicates,
	}
}

func newPublisher(nc *nats.Conn, subj events.Subjects, sc StreamConfig, outbox int, log *slog.Logger) (*publisher, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(2*window))
	if err != nil {
		return nil, err
	}
	p := &publisher{
		nc: nc, js: js, subj: subj, log: log, max: outbox,
		wake: make(chan struct{}, 1), ready: make(chan struct{}),
		stream: StreamSettings(subj, sc),
	}
	p.idle = sync.NewCond(&p.mu)
	return p, nil
}

// publish queues a report for the stream and waits until it is stored, so that nobody hears
// of a message before the stream has it. While NATS is away it does not wait: the report
// stays in the outbox until NATS is back. It fails only when the outbox is full.
func (p *publisher) publish(it events.Item, id string) error {
	body, err := events.Marshal(it)
	if err != nil {
		return err
	}
	m := nats.NewMsg(p.subj.Event(it.Name()))
	if !events.IsDefaultClient(p.subj.Client) {
		// Ids are unique per account only (each account's clock-based counter): two accounts
		// of the stream may publish the same id in the same microsecond, and JetStream would
		// keep only the first as a duplicate.
		id = p.subj.Client + ":" + id
	}
	m.Header.Set(events.HeaderMsgID, id)
	m.Data = body
	p.mu.Lock()
	if len(p.queue) >= p.max {
		p.mu.Unlock()
		p.log.Error("report dropped", "subject", m.Subject, "id", id, "err", ErrOutboxFull)
		return ErrOutboxFull
	}
	e := entry{msg: m, stored: make(chan struct{})}
	p.queue = append(p.queue, e)
	outboxReports.WithLabelValues(p.labels.service, p.labels.prefix).Inc()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	if p.away.Load() {
		return nil
	}
	select {
	case <-e.stored:
	case <-time.After(ackWait):
		p.log.Warn("report not stored yet, kept in the outbox", "subject", m.Subject, "id", id)
	}
	return nil
}

// carry queues reports an earlier run of the account could not store, ahead of any new one,
// so that they are stored first and in their order.
func (p *publisher) carry(msgs []*nats.Msg) {
	if len(msgs) == 0 {
		return
	}
	p.mu.Lock()
	q := make([]entry, 0, len(msgs)+len(p.queue))
	for _, m := range msgs {
		q = append(q, entry{msg: m, stored: make(chan struct{})})
	}
	p.queue = append(q, p.queue...)
	p.mu.Unlock()
	outboxReports.WithLabelValues(p.labels.service, p.labels.prefix).Add(float64(len(msgs)))
}

// unstored takes what the outbox still holds once the publisher has stopped: the reports drain
// could not store.
func (p *publisher) unstored() []*nats.Msg {
	p.mu.Lock()
	out := make([]*nats.Msg, 0, len(p.queue))
	for _, e := range p.queue {
		out = append(out, e.msg)
	}
	p.queue = nil
	p.idle.Broadcast()
	p.mu.Unlock()
	outboxReports.WithLabelValues(p.labels.service, p.labels.prefix).Sub(float64(len(out)))
	return out
}

// streamReady is closed once the stream exists.
func (p *publisher) streamReady() <-chan struct{} { return p.ready }

// run stores what is queued until ctx ends.
func (p *publisher) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	outage := false // NATS was away; recovered counts what has been stored since it is back
	recovered := 0
	for {
		if p.pending() == 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		stored, err := p.flush(ctx)
		if ctx.Err() != nil {
			return
		}
		p.away.Store(err != nil)
		if err == nil {
			if outage {
				recovered += stored
				if p.pending() == 0 {
					p.log.Info("NATS is back: buffered reports stored, in order", "reports", recovered)
					outage, recovered = false, 0
				}
			}
			backoff = 50 * time.Millisecond
			continue
		}
		if !outage {
			outage = true
			p.log.Warn("cannot store reports, keeping them until NATS is back", "buffered", p.pending(), "err", err)
		}
		recovered += stored
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (p *publisher) pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// flush stores the queue, in order, until it is empty or a publish fails. It pipelines: each
// report is published as soon as it is queued (up to window unacknowledged), and leaves the
// queue when its ack comes, so a report waits for one JetStream round trip, not for a whole
// batch before it and then its own. After a failure, run calls flush again, which publishes
// again from the head what was not acknowledged (the stream keeps one copy of each id). It
// returns how many reports it stored.
func (p *publisher) flush(ctx context.Context) (int, error) {
	if err := p.ensureStream(ctx); err != nil {
		return 0, err
	}
	var (
		acks   []jetstream.PubAckFuture // of the head of the queue, in order
		stored int
		timer  = time.NewTimer(ackWait)
	)
	defer timer.Stop()
	for {
		p.mu.Lock()
		more := p.queue[len(acks):min(len(p.queue), window)]
		var toSend []*nats.Msg
		for _, e := range more {
			toSend = append(toSend, e.msg)
		}
		p.mu.Unlock()
		for _, m := range toSend {
			f, err := p.js.PublishMsgAsync(m)
			if err != nil {
				return stored, p.failed(err)
			}
			if len(acks) == 0 {
				timer.Reset(ackWait)
			}
			acks = append(acks, f)
		}
		if len(acks) == 0 {
			return stored, nil
		}
		select {
		case <-acks[0].Ok():
			p.stored()
			acks = acks[1:]
			stored++
			timer.Reset(ackWait)
		case err := <-acks[0].Err():
			return stored, p.failed(err)
		case <-timer.C:
			return stored, fmt.Errorf("no publish ack within %s", ackWait)
		case <-p.wake:
		case <-ctx.Done():
			return stored, ctx.Err()
		}
	}
}

// window is how many reports may be published and not yet acknowledged.
const window = 256

// stored drops the head of the queue, which the stream has.
func (p *publisher) stored() {
	p.mu.Lock()
	e := p.queue[0]
	p.queue[0] = entry{}
	p.queue = p.queue[1:]
	if len(p.queue) == 0 {
		p.queue = nil // let the backing array go
		p.idle.Broadcast()
	}
	p.mu.Unlock()
	outboxReports.WithLabelValues(p.labels.service, p.labels.prefix).Dec()
	eventsPublished.WithLabelValues(p.labels.service, p.labels.prefix, events.EventName(e.msg.Subject)).Inc()
	close(e.stored)
}

// failed notes a failed publish: a stream that is gone is created again by the next flush.
func (p *publisher) failed(err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		p.forgetStream()
	}
	return err
}

func (p *publisher) ensureStream(ctx context.Context) error {
	if p.streamOK.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := p.js.CreateOrUpdateStream(ctx, p.stream); err != nil {
		return fmt.Errorf("stream %s: %w", p.stream.Name, err)
	}
	p.streamOK.Store(true)
	p.readyOnce.Do(func() {
		p.log.Info("stream ready", "stream", p.stream.Name, "subjects", p.stream.Subjects, "max_age", p.stream.MaxAge)
		close(p.ready)
	})
	return nil
}

// forgetStream makes the next flush check the stream again.
func (p *publisher) forgetStream() { p.streamOK.Store(false) }

// drain waits until the outbox is empty or timeout passes, and says what it could not store.
// While NATS is away there is nothing to wait for.
func (p *publisher) drain(timeout time.Duration) {
	if p.away.Load() {
		timeout = 0
	}
	done := make(chan struct{})
	go func() {
		p.mu.Lock()
		for len(p.queue) > 0 && !p.closed {
			p.idle.Wait()
		}
		p.mu.Unlock()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		p.mu.Lock()
		p.closed = true
		left := len(p.queue)
		p.idle.Broadcast()
		p.mu.Unlock()
		p.log.Error("stopping with reports not stored", "reports", left)
	}
}

// PublishEvent publishes an event report (events.NewEvent); a failure is logged, as an event
// is never a reason to fail the call that caused it.
func (e *Engine) PublishEvent(name string, params ...any) {
	ev, err := events.NewEvent(name, params...)
	if err != nil {
		e.log.Error("event", "event", name, "err", err)
		return
	}
	_ = e.pub.publish(ev, NextEventID())
}

// PublishItem stores a report on the event stream under id, its Nats-Msg-Id (JetStream stores
// a retried publish once), and waits until it is stored. While NATS is away it does not wait:
// the report stays in the outbox until NATS is back. It fails only when the outbox is full
// (ErrOutboxFull).
func (e *Engine) PublishItem(it events.Item, id string) error { return e.pub.publish(it, id) }

// Outbox is how many reports wait to be stored.
func (e *Engine) Outbox() int { return e.pub.pending() }

// Unstored takes, once Run has returned, the reports the account could not store before it
// stopped (NATS away, the stream without a leader): a session host hands them to the account's
// next run (Config.Carry) or keeps storing them itself, so that nothing accepted is lost when
// an account stops in an outage.
func (e *Engine) Unstored() []*nats.Msg { return e.pub.unstored() }

// NextID hands out a message id: Unix microseconds, strictly increasing.
func (e *Engine) NextID() int64 { return e.ids.next() }

// NextEventID names an event for Nats-Msg-Id; events have no id of their own in Mojo's format.
func NextEventID() string { return "ev-" + nuid.Next() }

// idGen hands out message ids: Unix microseconds, strictly increasing, so ids stay unique
// across restarts (JetStream de-duplicates by id) and below 2^53 until the year 2255.
type idGen struct {
	mu   sync.Mutex
	last int64
}

func (g *idGen) next() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := max(time.Now().UnixMicro(), g.last+1)
	g.last = id
	return id
}
