package reporter

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// deliverAll feeds one target from its durable consumer until ctx ends. It comes back by
// itself from a missing stream, a lost connection or a deleted consumer.
func (r *Reporter) deliverAll(ctx context.Context, t target) error {
	log := r.log.With("target", t.String(), "consumer", t.consumer())
	var wg sync.WaitGroup
	defer wg.Wait() // POSTs in flight finish, each within POST_TIMEOUT
	wg.Go(func() { r.watchPending(ctx, t) })
	// In-flight work outlives ctx so that a shutdown does not cut a POST in half.
	work := context.WithoutCancel(ctx)
	for ctx.Err() == nil {
		cons, err := r.ensureConsumer(ctx, t)
		if err != nil {
			if ctx.Err() == nil {
				if errors.Is(err, jetstream.ErrStreamNotFound) {
					log.Info("waiting for the session to create the stream", "stream", r.subj.Stream())
				} else {
					log.Warn("consumer not ready, retrying", "err", err)
				}
				_ = wait.Sleep(ctx, time.Second)
			}
			continue
		}
		log.Info("delivering", "filter", r.filterSubjects())
		if err := r.consume(ctx, work, t, cons, &wg); err != nil && ctx.Err() == nil {
			log.Warn("delivery interrupted, resuming", "err", err)
			_ = wait.Sleep(ctx, time.Second)
		}
	}
	return nil
}

// pullExpiry bounds each pull request. With nats.go's default of 30 s, a pull request the
// server no longer counts (seen once in a burst of 100,000 items in the benchmark) stalled
// delivery for 30 s, until the client missed two 15 s heartbeats; with 5 s it heals in 5 s.
const pullExpiry = 5 * time.Second

func (r *Reporter) consume(ctx, work context.Context, t target, cons jetstream.Consumer, wg *sync.WaitGroup) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(r.cfg.PostConcurrency), jetstream.PullExpiry(pullExpiry))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	sem := make(chan struct{}, r.cfg.PostConcurrency)
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return nil
			}
			return err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r.handle(work, t, m)
		})
	}
}

// handle delivers one item: ack after a 2xx (and its answer applied), else a retry after a
// back-off, or the dead-letter stream once POST_MAX_DELIVER tries have failed.
func (r *Reporter) handle(ctx context.Context, t target, m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		r.log.Error("message without metadata", "err", err)
		_ = m.Nak()
		return
	}
	seq, attempt := meta.Sequence.Stream, int(meta.NumDelivered)
	log := r.log.With("target", t.String(), "seq", seq, "id", m.Headers().Get(events.HeaderMsgID),
		"subject", m.Subject(), "attempt", attempt)
	start := time.Now()
	outcome := outcomeRetried // one log line and one count per attempt, with its outcome
	defer func() { observeDelivery(t, outcome, time.Since(start)) }()
	answer, hasAnswer, err := t.post(ctx, m.Data(), seq, attempt)
	if err != nil {
		if attempt >= r.cfg.PostMaxDeliver {
			if dlErr := r.deadLetter(ctx, t, m, meta, err); dlErr != nil {
				log.Error("could not dead-letter, retrying", "outcome", outcome, "err", dlErr, "took", time.Since(start))
				_ = m.NakWithDelay(r.cfg.PostRetryMax)
				return
			}
			outcome = outcomeDeadLettered
			log.Warn("dead-lettered", "outcome", outcome, "err", err, "stream", r.subj.DeadLetterStream(), "took", time.Since(start))
			_ = m.Ack()
			return
		}
		delay := r.backoff(attempt)
		log.Info("delivery failed, will retry", "outcome", outcome, "err", err, "in", delay.Round(time.Millisecond), "took", time.Since(start))
		_ = m.NakWithDelay(delay)
		return
	}
	if hasAnswer {
		if err := r.apply(ctx, t, seq, m.Data(), answer); err != nil {
			delay := r.backoff(attempt)
			log.Warn("answer not applied, will retry the item", "outcome", outcome, "err", err, "in", delay, "took", time.Since(start))
			_ = m.NakWithDelay(delay)
			return
		}
	}
	if err := m.Ack(); err != nil {
		log.Warn("ack", "err", err)
	}
	outcome = outcomeDelivered
	log.Info("delivered", "outcome", outcome, "took", time.Since(start))
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

// ackWait must outlast a POST and the answer's API calls, or the server would redeliver an
// item still in hand.
func (r *Reporter) ackWait() time.Duration {
	return r.cfg.PostTimeout + 2*r.cfg.APITimeout + 5*time.Second
}

// ensureConsumer binds to the target's durable consumer, creating it on first use. A new one
// starts POST_BACKFILL back; an existing one keeps its position and takes the current filter.
func (r *Reporter) ensureConsumer(ctx context.Context, t target) (jetstream.Consumer, error) {
	stream := r.subj.Stream()
	cfg := jetstream.ConsumerConfig{
		Durable:        t.consumer(),
		Description:    "openqq reporter → " + t.String(),
		FilterSubjects: r.filterSubjects(),
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        r.ackWait(),
		MaxDeliver:     -1, // the reporter dead-letters by itself: the server never drops
		MaxAckPending:  max(1000, 4*r.cfg.PostConcurrency),
	}
	existing, err := r.js.Consumer(ctx, stream, t.consumer())
	switch {
	case err == nil:
		info := existing.CachedInfo()
		cfg.DeliverPolicy, cfg.OptStartTime = info.Config.DeliverPolicy, info.Config.OptStartTime
		return r.js.UpdateConsumer(ctx, stream, cfg)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if r.cfg.PostBackfill > 0 {
			from := time.Now().Add(-r.cfg.PostBackfill)
			cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
		} else {
			cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		}
		return r.js.CreateConsumer(ctx, stream, cfg)
	default:
		return nil, err
	}
}
