package gateway

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
)

// hub is one ordered consumer shared by every live client of one filter: a client that asks
// for new items only (no since, no Last-Event-ID, no replay) reads from it, so a thousand
// consoles cost one consumer, not a thousand. Each client has a small queue; the hub never
// waits on one. A client whose queue is full leaves the hub and goes on exactly where it was
// through a consumer of its own (streamer.serve), where the usual limits (maxBehind, the write
// time-out) decide whether it keeps up.
type hub struct {
	s    *streamer
	key  string
	cons jetstream.Consumer
	msgs jetstream.MessagesContext

	mu   sync.Mutex
	subs map[*hubSub]struct{}
}

// hubSub is one client's place in a hub.
type hubSub struct {
	ch chan item
	// Set by the hub before it closes ch.
	overflow bool   // the queue was full: go on from resume()
	err      error  // the hub's consumer failed
	first    uint64 // the sequence of the first item queued (0: none yet)
}

// resume is where a client that has sent the item last (0: none) goes on after an overflow.
func (sub *hubSub) resume(last uint64) uint64 {
	if last == 0 {
		return sub.first
	}
	return last + 1
}

// hubKey names a filter: its subjects in order, "" for everything.
func hubKey(subjects []string) string {
	s := append([]string(nil), subjects...)
	for i := 1; i < len(s); i++ { // a few names at most: insertion sort
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return strings.Join(s, " ")
}

// join puts a live client on the hub of its filter, creating the hub (and its consumer) if
// there is none. Errors are the client's 503, as subscribe's.
func (s *streamer) join(ctx context.Context, subjects []string) (*hub, *hubSub, *events.Status) {
	if !s.connected() {
		s.log.Warn("event stream unavailable: NATS not connected")
		return nil, nil, events.ErrUnavailable
	}
	key := hubKey(subjects)
	s.hubsMu.Lock()
	defer s.hubsMu.Unlock()
	h := s.hubs[key]
	if h == nil {
		sub, st := s.subscribe(ctx, jetstream.OrderedConsumerConfig{
			DeliverPolicy:    jetstream.DeliverNewPolicy,
			FilterSubjects:   subjects,
			MaxResetAttempts: streamResets,
			NamePrefix:       "gateway_hub_" + nuid.Next(),
		})
		if st != nil {
			return nil, nil, st
		}
		h = &hub{s: s, key: key, cons: sub.cons, msgs: sub.msgs, subs: map[*hubSub]struct{}{}}
		s.hubs[key] = h
		go h.run()
	}
	sub := &hubSub{ch: make(chan item, s.pull)}
	h.mu.Lock()
	h.subs[sub] = struct{}{}
	h.mu.Unlock()
	return h, sub, nil
}

// leave takes a client off its hub; the last one out stops the hub and removes its consumer.
func (s *streamer) leave(h *hub, sub *hubSub) {
	s.hubsMu.Lock()
	defer s.hubsMu.Unlock()
	h.mu.Lock()
	delete(h.subs, sub)
	empty := len(h.subs) == 0
	h.mu.Unlock()
	if empty && s.hubs[h.key] == h {
		delete(s.hubs, h.key)
		s.close(&subscription{cons: h.cons, msgs: h.msgs})
	}
}

// run hands each item to every client's queue until the consumer ends.
func (h *hub) run() {
	for {
		m, err := h.msgs.Next()
		if err != nil {
			h.fail(err)
			return
		}
		meta, err := m.Metadata()
		if err != nil {
			h.s.log.Warn("event stream: not a stream item", "subject", m.Subject(), "err", err)
			continue
		}
		it := item{seq: meta.Sequence.Stream, name: events.EventName(m.Subject()), data: m.Data()}
		h.mu.Lock()
		for sub := range h.subs {
			select {
			case sub.ch <- it:
				if sub.first == 0 {
					sub.first = it.seq
				}
			default:
				if sub.first == 0 {
					sub.first = it.seq
				}
				sub.overflow = true
				close(sub.ch)
				delete(h.subs, sub)
			}
		}
		h.mu.Unlock()
	}
}

// fail ends the hub: its clients end as they would on their own consumer's failure, and
// resume with Last-Event-ID. A hub stopped by its last client ends quietly.
func (h *hub) fail(err error) {
	h.s.hubsMu.Lock()
	if h.s.hubs[h.key] == h {
		delete(h.s.hubs, h.key)
		go h.s.close(&subscription{cons: h.cons, msgs: h.msgs})
	}
	h.s.hubsMu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) > 0 && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
		h.s.log.Warn("event stream: NATS", "err", err, "clients", len(h.subs))
	}
	for sub := range h.subs {
		sub.err = err
		close(sub.ch)
		delete(h.subs, sub)
	}
}

// pumpLive sends a live client the items of its hub. It returns the sequence to go on from
// when the client's queue overflowed, or 0 and why it ended.
func (s *streamer) pumpLive(ctx context.Context, sub *hubSub, out sink, log *slog.Logger) (uint64, error) {
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-beat.C:
			if err := out.keepalive(); err != nil {
				if ctx.Err() == nil {
					log.Info("event stream: keepalive failed", "err", err)
				}
				return 0, err
			}
		case it, ok := <-sub.ch:
			if !ok {
				if sub.err != nil {
					return 0, sub.err
				}
				return sub.resume(last), nil
			}
			err := out.send(it)
			if errors.Is(err, errStalled) {
				return 0, s.tooSlow(out, log, uint64(len(sub.ch))+1, "stalled")
			}
			if err != nil {
				return 0, err
			}
			last = it.seq
		}
	}
}

// attachment is what a client reads through: the hub of its filter, or a consumer of its own.
type attachment struct {
	h    *hub
	sub  *hubSub
	left bool          // off the hub
	own  *subscription // its own consumer
}

// attach gives a client what it reads through, before anything is written to it: a live
// client joins the hub of its filter; a client that resumes or replays gets its own consumer
// (its position is its own).
func (s *streamer) attach(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (*attachment, *events.Status) {
	if cfg.DeliverPolicy == jetstream.DeliverNewPolicy {
		h, sub, st := s.join(ctx, cfg.FilterSubjects)
		if st != nil {
			return nil, st
		}
		return &attachment{h: h, sub: sub}, nil
	}
	own, st := s.subscribe(ctx, cfg)
	if st != nil {
		return nil, st
	}
	return &attachment{own: own}, nil
}

// detach lets go of what a client read through.
func (s *streamer) detach(a *attachment) {
	if a.h != nil && !a.left {
		a.left = true
		s.leave(a.h, a.sub)
	}
	if a.own != nil {
		s.close(a.own)
	}
}

// serve streams to a client until it ends: a live client through its hub, then, if it falls
// behind the hub, through a consumer of its own from the item it had got to; any other client
// through its own consumer.
func (s *streamer) serve(ctx context.Context, cfg jetstream.OrderedConsumerConfig, a *attachment, out sink, log *slog.Logger) error {
	if a.own != nil {
		return s.pump(ctx, a.own.msgs, out, log, math.MaxUint64)
	}
	next, err := s.pumpLive(ctx, a.sub, out, log)
	a.left = true
	s.leave(a.h, a.sub)
	if err != nil {
		return err
	}
	log.Debug("event stream: behind the shared consumer, going on with one of its own", "from", next)
	cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
	cfg.OptStartSeq = next
	own, err := s.resubscribe(ctx, cfg, out, log)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("event stream: no consumer of its own, closed; the client resumes with Last-Event-ID",
				"from", next, "err", err)
		}
		return err
	}
	a.own = own
	// A live client was never behind: how far it now is counts against maxBehind.
	return s.pump(ctx, own.msgs, out, log, 0)
}

// fallbackCreations bounds the consumers created at once for live clients that fell behind
// the hub: a burst makes every live client fall behind together, and hundreds of creations at
// once slow the JetStream API past APITimeout.
const fallbackCreations = 4

// Back-off between attempts at a fallen-behind client's own consumer.
const (
	resubscribeFirstWait = 50 * time.Millisecond
	resubscribeMaxWait   = time.Second
)

// resubscribe creates the own consumer of a client already streaming that fell behind the hub,
// from cfg.OptStartSeq (the item it had got to: nothing lost, nothing twice). Unlike a new
// client's subscribe, a failure is not the answer: the client is kept, with keepalives, while
// it waits its turn among fallbackCreations and while failed attempts are retried with
// back-off for up to the write timeout (at least APITimeout). It ends early when the client
// goes, the server shuts down, or NATS is not connected.
func (s *streamer) resubscribe(ctx context.Context, cfg jetstream.OrderedConsumerConfig, out sink, log *slog.Logger) (*subscription, error) {
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	// pause waits for ch (nil: never) or d (0: forever), keeping the client's connection alive.
	pause := func(ch chan struct{}, d time.Duration) error {
		var timeout <-chan time.Time
		if d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			timeout = t.C
		}
		for {
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case ch <- struct{}{}:
				return nil
			case <-timeout:
				return nil
			case <-beat.C:
				if err := out.keepalive(); err != nil {
					return err
				}
			}
		}
	}
	var deadline time.Time
	wait := resubscribeFirstWait
	for attempt := 1; ; attempt++ {
		if err := pause(s.fallbackSem, 0); err != nil {
			return nil, err
		}
		if attempt == 1 {
			deadline = time.Now().Add(max(s.writeTimeout, s.g.cfg.APITimeout))
		}
		own, err := s.subscribeFallback(ctx, cfg, attempt)
		<-s.fallbackSem
		if err == nil {
			return own, nil
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if !s.connected() || time.Now().Add(wait).After(deadline) {
			return nil, err
		}
		log.Info("event stream: consumer of its own not created, retrying", "attempt", attempt, "err", err, "in", wait)
		if err := pause(nil, wait); err != nil {
			return nil, err
		}
		wait = min(2*wait, resubscribeMaxWait)
	}
}

// subscribeFallback is one attempt of resubscribe.
func (s *streamer) subscribeFallback(ctx context.Context, cfg jetstream.OrderedConsumerConfig, attempt int) (*subscription, error) {
	if s.fallbackHook != nil {
		if err := s.fallbackHook(attempt); err != nil {
			return nil, err
		}
	}
	own, st := s.subscribe(ctx, cfg)
	if st != nil {
		return nil, errors.New(st.Status)
	}
	return own, nil
}
