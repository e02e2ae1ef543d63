package reporter

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// priorityGroup is the consumers' one priority group: the server pins it to one replica at a
// time (PriorityPolicyPinned), so that one replica holds all the items of a consumer (a
// target, or one partition of it) and can keep each conversation in order.
const priorityGroup = "openqq"

// pinHeader carries the pin id on every message the server hands to the pinned replica.
const pinHeader = "Nats-Pin-Id"

// deliverAll feeds one target from one of its durable consumers (name: the target's, or one
// partition's, part of parts) until ctx ends, then drains: it goes on until everything stored
// is delivered or POST_DRAIN_TIMEOUT has passed. When only own ends (the partition went to
// another replica), it stops without draining: what it holds goes back, the pin too. It
// comes back by itself from a missing stream, a lost connection or a deleted consumer.
//
// sh is what the target's partitions share in this replica.
func (r *Reporter) deliverAll(ctx, own context.Context, t target, name string, part, parts int, sh *shared) {
	log := r.log.With("target", t.String(), "consumer", name)
	o := newOrderer()
	// quit ends when delivery is over: it interrupts back-offs, never a POST in flight.
	quit, endQuit := context.WithCancel(context.WithoutCancel(ctx))
	defer endQuit()
	var workers sync.WaitGroup
	for range r.cfg.PostConcurrency {
		workers.Go(func() {
			for j := o.next(); j != nil; j = o.next() {
				sh.slots <- struct{}{}
				if quit.Err() != nil {
					// Stopped while waiting for a slot: the item goes back unposted.
					<-sh.slots
					return
				}
				r.handle(quit, t, j)
				<-sh.slots
				o.done(j)
			}
		})
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	bg.Go(func() { r.keepInProgress(quit, o) })

	pull, endPull := context.WithCancel(context.WithoutCancel(ctx))
	defer endPull()
	var pin atomicString
	var consMu sync.Mutex
	var current jetstream.Consumer
	bg.Go(func() {
		select {
		case <-own.Done():
		case <-pull.Done():
			return
		}
		if ctx.Err() == nil {
			log.Info("partition handed over")
			endPull()
			return
		}
		r.drain(t, func() jetstream.Consumer {
			consMu.Lock()
			defer consMu.Unlock()
			return current
		}, o, pin.load)
		endPull()
	})
	for pull.Err() == nil {
		cons, err := r.ensureConsumer(pull, t, name)
		if err != nil {
			if pull.Err() == nil {
				if errors.Is(err, jetstream.ErrStreamNotFound) {
					log.Info("waiting for the session to create the stream", "stream", r.subj.Stream())
				} else {
					log.Warn("consumer not ready, retrying", "err", err)
				}
				_ = wait.Sleep(pull, time.Second)
			}
			continue
		}
		consMu.Lock()
		current = cons
		consMu.Unlock()
		log.Info("delivering", "filter", t.filter())
		if err := r.consume(pull, t, cons, o, &pin, part, parts, sh.keys); err != nil && pull.Err() == nil {
			log.Warn("delivery interrupted, resuming", "err", err)
			_ = wait.Sleep(pull, time.Second)
		}
	}
	// Nothing new starts; POSTs in flight finish (each within POST_TIMEOUT), back-offs end.
	o.close()
	endQuit()
	workers.Wait()
	// What never started goes back at once, oldest first, for the next replica to take.
	for _, m := range o.inHand() {
		_ = m.Nak()
	}
	for _, m := range o.takeForeign() {
		_ = m.Ack()
	}
	consMu.Lock()
	cons := current
	consMu.Unlock()
	r.unpin(name, cons, pin.load())
}

// drain waits, once ctx has ended, until every item of the target is delivered (nothing
// pending, nothing in hand), or until POST_DRAIN_TIMEOUT: the session's last words (running →
// stop, then stop) are stored just before, and must arrive. A replica that is not the pinned
// one has nothing to drain.
func (r *Reporter) drain(t target, consumer func() jetstream.Consumer, o *orderer, pin func() string) {
	if r.cfg.PostDrainTimeout <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.PostDrainTimeout)
	defer cancel()
	for !r.nc.IsClosed() {
		ictx, icancel := context.WithTimeout(ctx, time.Second)
		if cons := consumer(); cons == nil {
			// Not bound yet: there is something to drain only if there is a stream.
			if _, err := r.js.Stream(ictx, r.subj.Stream()); errors.Is(err, jetstream.ErrStreamNotFound) {
				icancel()
				return
			}
		} else if o.idle() {
			info, err := cons.Info(ictx)
			// Unordered, the other replicas' items in hand are theirs to finish.
			if err == nil && (pinnedElsewhere(info, pin()) || info.NumPending == 0 && (info.NumAckPending == 0 || !r.cfg.ordered())) {
				icancel()
				return
			}
		}
		icancel()
		if wait.Sleep(ctx, 20*time.Millisecond) != nil {
			r.log.Warn("drain time-out: items left for the next run", "target", t.String(), "after", r.cfg.PostDrainTimeout)
			return
		}
	}
}

// pinnedElsewhere reports whether another replica holds the consumer.
func pinnedElsewhere(info *jetstream.ConsumerInfo, pin string) bool {
	for _, g := range info.PriorityGroups {
		if g.Group == priorityGroup && g.PinnedClientID != "" && g.PinnedClientID != pin {
			return true
		}
	}
	return false
}

// unpin lets another replica take the consumer at once rather than after POST_PIN_TTL.
func (r *Reporter) unpin(name string, cons jetstream.Consumer, pin string) {
	if cons == nil || pin == "" || !r.cfg.ordered() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := cons.Info(ctx)
	if err != nil || pinnedElsewhere(info, pin) {
		return
	}
	if s, err := r.js.Stream(ctx, r.subj.Stream()); err == nil {
		_ = s.UnpinConsumer(ctx, name, priorityGroup)
	}
}

// pullExpiry bounds each pull request. With nats.go's default of 30 s, a pull request the
// server no longer counts (seen once in a burst of 100,000 items in the benchmark) stalled
// delivery for 30 s, until the client missed two 15 s heartbeats; with 5 s it heals in 5 s.
// It stays well under the pin's TTL, so that the pinned replica keeps its pin.
// maxMissedHeartbeats is how many missed heartbeats in a row a consumer's iterator lives
// through before it is built again (consumer re-checked, after a second's pause).
const maxMissedHeartbeats = 3

func (r *Reporter) pullExpiry() time.Duration {
	return min(5*time.Second, max(r.cfg.PostPinTTL/3, time.Second))
}

// consume receives the target's items and gives them to the orderer. Whenever the pin moves
// to this replica (the first message, or a new pin id), starts are held back until every item
// the server counts as pending is in this replica's hands: a replica that died leaves its
// items pending until their ack wait ends, and they must go before their successors.
//
// With partitions, every item of the target comes to every partition's consumer: the items of
// other partitions are acked at once, unposted (held while taking over, so that the pending
// count can be told apart).
func (r *Reporter) consume(ctx context.Context, t target, cons jetstream.Consumer, o *orderer, pin *atomicString, part, parts int, keys *keyCache) error {
	opts := []jetstream.PullMessagesOpt{jetstream.PullMaxMessages(r.cfg.PostConcurrency), jetstream.PullExpiry(r.pullExpiry())}
	if r.cfg.ordered() {
		opts = append(opts, jetstream.PullPriorityGroup(priorityGroup))
	}
	it, err := cons.Messages(opts...)
	if err != nil {
		return err
	}
	// Drained rather than stopped: what the client has buffered is still handed to the
	// orderer (and back to the server if not started); dropped, it would stay pending until
	// its ack wait, holding up the next replica's take-over.
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	defer it.Stop()
	lastPin := "\x00" // no pin id seen yet on this iterator
	var recovering atomic.Bool
	missed := 0 // heartbeats missed in a row
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return nil
			}
			// A missed heartbeat (two in a row not seen, 2 × pullExpiry/2) is what a busy
			// machine produces: nats.go has forgotten its pull in flight and pulls again at the
			// next Next. Tearing the iterator down for it, and waiting a second, stalled a
			// 100,000-item burst for 2.6 s. Only a run of them means the consumer is gone.
			if errors.Is(err, jetstream.ErrNoHeartbeat) && missed < maxMissedHeartbeats {
				missed++
				r.log.Debug("heartbeat missed, pulling again", "target", t.String(), "in_a_row", missed)
				continue
			}
			return err
		}
		missed = 0
		meta, err := m.Metadata()
		if err != nil {
			r.log.Error("message without metadata", "err", err)
			_ = m.Nak()
			continue
		}
		// Paused before the item is queued: a worker must not post it before the take-over.
		if p := m.Headers().Get(pinHeader); r.cfg.ordered() && p != lastPin {
			lastPin = p
			pin.store(p)
			if recovering.CompareAndSwap(false, true) {
				o.setPaused(true)
				go func() {
					defer recovering.Store(false)
					r.takeOver(ctx, t, cons, o)
				}()
			}
		}
		// Another account's item (or one its settings do not want) is acked unposted, as an
		// item of another partition is.
		if !t.accepts(m.Subject()) {
			if !o.holdForeign(m, meta.Sequence.Stream) {
				_ = m.Ack()
			}
			continue
		}
		key := strconv.FormatUint(meta.Sequence.Stream, 10) // POST_ORDER=none: each item its own
		if r.cfg.ordered() {
			key = r.orderKey(m.Subject(), keys.get(meta.Sequence.Stream, m.Data()))
			if partitionOf(key, parts) != part {
				if !o.holdForeign(m, meta.Sequence.Stream) {
					_ = m.Ack()
				}
				continue
			}
		}
		if o.add(m, meta.Sequence.Stream, key) == alreadyDone {
			_ = m.Ack() // its first ack was lost; posting it again would put it after newer items
			continue
		}
	}
}

// takeOver waits until no item is pending elsewhere, then lets the orderer start jobs.
func (r *Reporter) takeOver(ctx context.Context, t target, cons jetstream.Consumer, o *orderer) {
	defer func() {
		o.setPaused(false)
		for _, m := range o.takeForeign() {
			_ = m.Ack()
		}
	}()
	start := time.Now()
	logged := false
	for ctx.Err() == nil {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		info, err := cons.Info(ictx)
		cancel()
		if err == nil {
			mine := o.heldUpTo(info.Delivered.Stream)
			if info.NumAckPending <= mine {
				if logged {
					r.log.Info("took over: the items left pending elsewhere are back", "target", t.String(), "waited", time.Since(start).Round(time.Millisecond))
				}
				return
			}
			if !logged && time.Since(start) > time.Second {
				logged = true
				r.log.Info("taking over: waiting for the items another replica left pending", "target", t.String(),
					"pending", info.NumAckPending, "in_hand", mine, "ack_wait", r.cfg.PostAckWait)
			}
		}
		_ = wait.Sleep(ctx, 25*time.Millisecond)
	}
}

// keepInProgress tells the server, every third of the ack wait, that the items in hand are
// being worked on, so that it redelivers them only when this replica is gone.
func (r *Reporter) keepInProgress(ctx context.Context, o *orderer) {
	tick := time.NewTicker(r.cfg.PostAckWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, m := range append(o.inHand(), o.foreignInHand()...) {
			_ = m.InProgress()
		}
	}
}

// handle delivers one item: ack after a 2xx (and its answer applied), else retries after a
// back-off, and the dead-letter stream once POST_MAX_DELIVER tries have failed. It keeps the
// item in hand all along, so that the next item of its key waits. When quit ends during a
// back-off, the item goes back to the server for the next replica.
func (r *Reporter) handle(quit context.Context, t target, j *job) {
	work := context.WithoutCancel(quit) // a shutdown does not cut a POST in half
	for try := 0; ; try++ {
		m := j.msg()
		meta, err := m.Metadata()
		if err != nil {
			r.log.Error("message without metadata", "err", err)
			return
		}
		seq, attempt := meta.Sequence.Stream, int(meta.NumDelivered)+try
		log := r.log.With("target", t.String(), "seq", seq, "id", m.Headers().Get(events.HeaderMsgID),
			"subject", m.Subject(), "attempt", attempt)
		start := time.Now()
		if try == 0 && meta.NumDelivered == 1 && r.cfg.PostMaxLag > 0 && time.Since(meta.Timestamp) > r.cfg.PostMaxLag {
			err := r.deadLetter(work, t, m, meta, attempt-1, errStale, true)
			if err == nil {
				observeDelivery(t, outcomeStale, time.Since(start))
				log.Info("stale: parked with the dead letters", "outcome", outcomeStale, "age", time.Since(meta.Timestamp).Round(time.Second), "max_lag", r.cfg.PostMaxLag)
				r.settle(quit, j, log)
				return
			}
			log.Warn("could not park a stale item, posting it", "err", err)
		}
		answer, hasAnswer, err := t.post(work, m.Subject(), m.Data(), seq, attempt)
		if err != nil {
			if attempt >= r.cfg.PostMaxDeliver {
				if dlErr := r.deadLetter(work, t, m, meta, attempt, err, false); dlErr != nil {
					observeDelivery(t, outcomeRetried, time.Since(start))
					log.Error("could not dead-letter, retrying", "outcome", outcomeRetried, "err", dlErr, "took", time.Since(start))
					if !r.pause(quit, j, r.cfg.PostRetryMax) {
						return
					}
					continue
				}
				observeDelivery(t, outcomeDeadLettered, time.Since(start))
				log.Warn("dead-lettered", "outcome", outcomeDeadLettered, "err", err, "stream", r.subj.DeadLetterStream(), "took", time.Since(start))
				r.settle(quit, j, log)
				return
			}
			delay := r.backoff(attempt)
			observeDelivery(t, outcomeRetried, time.Since(start))
			log.Info("delivery failed, will retry", "outcome", outcomeRetried, "err", err, "in", delay.Round(time.Millisecond), "took", time.Since(start))
			if !r.pause(quit, j, delay) {
				return
			}
			continue
		}
		if hasAnswer {
			if err := r.apply(work, t, m.Subject(), seq, m.Data(), answer); err != nil {
				delay := r.backoff(attempt)
				observeDelivery(t, outcomeRetried, time.Since(start))
				log.Warn("answer not applied, will retry the item", "outcome", outcomeRetried, "err", err, "in", delay, "took", time.Since(start))
				if !r.pause(quit, j, delay) {
					return
				}
				continue
			}
		}
		observeDelivery(t, outcomeDelivered, time.Since(start))
		log.Info("delivered", "outcome", outcomeDelivered, "took", time.Since(start))
		r.settle(quit, j, log)
		return
	}
}

var errStale = errors.New("stale: older than POST_MAX_LAG when first due")

// pause waits out a back-off; false when quit ended first, the item then given back.
func (r *Reporter) pause(quit context.Context, j *job, d time.Duration) bool {
	if wait.Sleep(quit, d) == nil {
		return true
	}
	_ = j.msg().Nak()
	return false
}

// settle acks an item and, in order, waits for the server to confirm it, so that the next
// item of its key is posted only once this one can no longer come back.
func (r *Reporter) settle(quit context.Context, j *job, log *slog.Logger) {
	j.acked.Store(true)
	if !r.cfg.ordered() {
		if err := j.msg().Ack(); err != nil {
			log.Warn("ack", "err", err)
		}
		return
	}
	for {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(quit), r.cfg.APITimeout)
		err := j.msg().DoubleAck(ctx)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			return
		}
		log.Warn("ack not confirmed, retrying", "err", err)
		if wait.Sleep(quit, 100*time.Millisecond) != nil {
			return
		}
	}
}

// backoff doubles from POST_RETRY_MIN up to POST_RETRY_MAX, with ±20% jitter so that a
// receiver coming back is not hit by every retry at once.
func (r *Reporter) backoff(attempt int) time.Duration {
	d := r.cfg.PostRetryMin
	for i := 1; i < attempt && d < r.cfg.PostRetryMax; i++ {
		d *= 2
	}
	d = min(d, r.cfg.PostRetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// ensureConsumer binds to one of the target's durable consumers, creating it on first use. A
// new one starts POST_BACKFILL back; an existing one keeps its position and takes the current
// filter.
func (r *Reporter) ensureConsumer(ctx context.Context, t target, name string) (jetstream.Consumer, error) {
	stream := r.subj.Stream()
	cfg := r.consumerConfig(t, name)
	existing, err := r.js.Consumer(ctx, stream, name)
	switch {
	case err == nil:
		info := existing.CachedInfo()
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = info.Config.DeliverPolicy, info.Config.OptStartTime, info.Config.OptStartSeq
		return r.js.UpdateConsumer(ctx, stream, cfg)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if r.cfg.PostBackfill > 0 {
			from := time.Now().Add(-r.cfg.PostBackfill)
			if ht, ok := t.(*httpTarget); ok && ht.client != "" && ht.since.After(from) {
				// An account's own receiver gets the account's items from when its spec
				// said so; the ones before went where the spec before said.
				from = ht.since
			}
			cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
		} else {
			cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		}
		return r.js.CreateConsumer(ctx, stream, cfg)
	default:
		return nil, err
	}
}

// atomicString is a string read and written from several goroutines.
type atomicString struct{ v atomic.Value }

func (a *atomicString) store(s string) { a.v.Store(s) }

func (a *atomicString) load() string {
	s, _ := a.v.Load().(string)
	return s
}

// consumerConfig is the configuration of one of a target's durable consumers.
func (r *Reporter) consumerConfig(t target, name string) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:        name,
		Description:    "openqq reporter → " + t.String(),
		FilterSubjects: t.filter(),
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        r.cfg.PostAckWait, // kept alive by InProgress while in hand
		MaxDeliver:     -1,                // the reporter dead-letters by itself: the server never drops
		// Items wait in hand behind their key's head: room for many keys' backlogs.
		MaxAckPending: max(2000, 64*r.cfg.PostConcurrency),
	}
	if isAccountTarget(t) {
		cfg.InactiveThreshold = accountConsumerIdle
	}
	if part, ok := strings.CutPrefix(name, t.consumer()+"_"); ok {
		cfg.Description += " (partition " + part + ")"
	}
	if r.cfg.ordered() {
		cfg.PriorityPolicy = jetstream.PriorityPolicyPinned
		cfg.PriorityGroups = []string{priorityGroup}
		cfg.PinnedTTL = r.cfg.PostPinTTL
	}
	return cfg
}
