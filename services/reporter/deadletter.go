package reporter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

// Headers of a dead letter: where the item came from and why it was parked.
const (
	HeaderDLStream     = events.HeaderDeadStream
	HeaderDLSeq        = events.HeaderDeadSeq
	HeaderDLSubject    = events.HeaderDeadSubject
	HeaderDLConsumer   = events.HeaderDeadConsumer
	HeaderDLTarget     = events.HeaderDeadTarget
	HeaderDLError      = events.HeaderDeadError
	HeaderDLDeliveries = events.HeaderDeadDeliveries
	// HeaderDLStale is "1" on an item parked unposted because it was older than POST_MAX_LAG.
	HeaderDLStale = events.HeaderDeadStale
)

// deadLetterMaxAge is how long parked items wait to be looked at or replayed.
const deadLetterMaxAge = 30 * 24 * time.Hour

// deadLetter parks an item in the dead-letter stream on qq.deadletter.<consumer>, with the
// original body and headers saying where it came from and why. Publishing it under a
// Nats-Msg-Id of consumer and sequence stores it once even if two replicas park it.
func (r *Reporter) deadLetter(ctx context.Context, t target, m jetstream.Msg, meta *jetstream.MsgMetadata, tries int, cause error, stale bool) error {
	if err := r.ensureDeadLetterStream(ctx); err != nil {
		return err
	}
	dl := nats.NewMsg(r.subj.DeadLetter(t.consumer()))
	dl.Data = m.Data()
	seq := strconv.FormatUint(meta.Sequence.Stream, 10)
	dl.Header.Set(events.HeaderMsgID, t.consumer()+"-"+seq)
	dl.Header.Set(HeaderDLStream, meta.Stream)
	dl.Header.Set(HeaderDLSeq, seq)
	dl.Header.Set(HeaderDLSubject, m.Subject())
	dl.Header.Set(HeaderDLConsumer, t.consumer())
	dl.Header.Set(HeaderDLTarget, t.String())
	dl.Header.Set(HeaderDLError, cause.Error())
	dl.Header.Set(HeaderDLDeliveries, strconv.Itoa(tries))
	if stale {
		dl.Header.Set(HeaderDLStale, "1")
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.APITimeout)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, dl); err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	return nil
}

func (r *Reporter) ensureDeadLetterStream(ctx context.Context) error {
	_, err := r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        r.subj.DeadLetterStream(),
		Description: "openqq: items post_api kept refusing; replay with openqq-reporter replay",
		Subjects:    []string{r.subj.DeadLetters()},
		Storage:     jetstream.FileStorage,
		MaxAge:      deadLetterMaxAge,
		Replicas:    max(r.cfg.StreamReplicas, 1),
	})
	if err != nil {
		return fmt.Errorf("dead-letter stream: %w", err)
	}
	return nil
}

// ReplayResult counts what Replay did.
type ReplayResult struct {
	Delivered, Failed, Skipped int
}

// Replay tries every parked item once more against its target, as configured now, and
// removes the ones delivered. Items of targets no longer in POST_API, or in no account's own
// POST_API in the clients bucket, are left alone.
func (r *Reporter) Replay(ctx context.Context) (ReplayResult, error) {
	var res ReplayResult
	stream, err := r.js.Stream(ctx, r.subj.DeadLetterStream())
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	accts, err := r.accountsSnapshot(ctx)
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	r.accMu.Lock()
	r.accounts = accts
	r.accMu.Unlock()
	targets := map[string]target{}
	for _, u := range r.cfg.targets() {
		t := newHTTPTarget(r, u)
		targets[t.consumer()] = t
	}
	for name, a := range accts {
		for _, u := range a.own {
			t := newAccountTarget(r, name, u, a.since)
			targets[t.consumer()] = t
		}
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	for range info.State.Msgs {
		m, err := cons.Next(jetstream.FetchMaxWait(2 * time.Second))
		if err != nil {
			break
		}
		meta, err := m.Metadata()
		if err != nil {
			return res, err
		}
		t, ok := targets[m.Headers().Get(HeaderDLConsumer)]
		if !ok {
			res.Skipped++
			continue
		}
		orig, _ := strconv.ParseUint(m.Headers().Get(HeaderDLSeq), 10, 64)
		tries, _ := strconv.Atoi(m.Headers().Get(HeaderDLDeliveries))
		subject := m.Headers().Get(HeaderDLSubject)
		answer, hasAnswer, err := t.post(ctx, subject, m.Data(), orig, tries+1)
		if err != nil {
			r.log.Warn("replay failed", "target", t.String(), "seq", orig, "err", err)
			res.Failed++
			continue
		}
		if hasAnswer {
			if err := r.apply(ctx, t, subject, orig, m.Data(), answer); err != nil {
				r.log.Warn("replayed item's answer not applied", "seq", orig, "err", err)
			}
		}
		if err := stream.DeleteMsg(ctx, meta.Sequence.Stream); err != nil {
			return res, fmt.Errorf("replay: delete %d: %w", meta.Sequence.Stream, err)
		}
		res.Delivered++
	}
	return res, nil
}
