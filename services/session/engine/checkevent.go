package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// CheckEventConfig is check_event's long poll.
type CheckEventConfig struct {
	// ListMaxSize is how many items the buffer keeps, the latest (Mojo's
	// check_event_list_max_size; 0 means the default, as in Mojo).
	ListMaxSize int `envconfig:"CHECK_EVENT_LIST_MAX_SIZE" default:"20"`
	// Hold is the longest a call waits for the first new item.
	Hold time.Duration `envconfig:"CHECK_EVENT_HOLD" default:"30s"`
	// PostEvent and PostEventList choose the events that go in, as for post_api.
	PostEvent bool `envconfig:"POST_EVENT" default:"true"`
	// Its default is events.DefaultPostEventList (the seeds'), defined there once.
	PostEventList []string `envconfig:"POST_EVENT_LIST"`
}

// releaseAfter is how long items handed out under a ticket wait for the gateway's release
// before they go back to the buffer (the gateway died in between).
const releaseAfter = 30 * time.Second

// checkEvents is the shared check_event buffer: the latest items, each handed to exactly one
// caller. Items handed out under a ticket stay "in flight" until the gateway says they reached
// its caller; if the caller hung up, they go back to the front of the buffer.
type checkEvents struct {
	max  int
	hold time.Duration
	log  *slog.Logger

	mu       sync.Mutex
	buf      [][]byte
	waiters  []*waiter
	inflight map[string]*inflight
	dropped  int

	fed atomic.Uint64 // the stream sequence of the latest item the feed added
}

type waiter struct {
	ticket string
	reply  func(items [][]byte)
	timer  *time.Timer
}

type inflight struct {
	items [][]byte
	timer *time.Timer
}

func newCheckEvents(cfg CheckEventConfig, log *slog.Logger) *checkEvents {
	n := cfg.ListMaxSize
	if n <= 0 {
		n = 20
	}
	return &checkEvents{max: n, hold: cfg.Hold, log: log, inflight: map[string]*inflight{}}
}

// add takes a new item: the longest-waiting caller gets it, else the buffer keeps it.
func (c *checkEvents) add(item []byte) {
	c.mu.Lock()
	if len(c.waiters) > 0 {
		w := c.waiters[0]
		c.waiters = c.waiters[1:]
		w.timer.Stop()
		c.handoutLocked(w.ticket, [][]byte{item})
		c.mu.Unlock()
		w.reply([][]byte{item})
		return
	}
	c.buf = append(c.buf, item)
	c.trimLocked()
	c.mu.Unlock()
}

// trimLocked keeps the latest max items, as Mojo's list did.
func (c *checkEvents) trimLocked() {
	if over := len(c.buf) - c.max; over > 0 {
		c.buf = append([][]byte(nil), c.buf[over:]...)
		c.dropped += over
		c.log.Debug("check_event buffer full, oldest items dropped", "dropped", over, "total_dropped", c.dropped)
	}
}

// take answers a call: everything buffered at once, else the first new item within hold, else
// nothing.
func (c *checkEvents) take(ticket string, hold time.Duration, reply func([][]byte)) {
	c.mu.Lock()
	if len(c.buf) > 0 {
		items := c.buf
		c.buf = nil
		c.handoutLocked(ticket, items)
		c.mu.Unlock()
		reply(items)
		return
	}
	if hold <= 0 {
		c.mu.Unlock()
		reply(nil)
		return
	}
	w := &waiter{ticket: ticket, reply: reply}
	w.timer = time.AfterFunc(hold, func() {
		if c.removeWaiter(w) {
			reply(nil)
		}
	})
	c.waiters = append(c.waiters, w)
	c.mu.Unlock()
}

func (c *checkEvents) removeWaiter(w *waiter) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.waiters {
		if x == w {
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			return true
		}
	}
	return false
}

// handoutLocked remembers items given under a ticket until the ticket is released.
func (c *checkEvents) handoutLocked(ticket string, items [][]byte) {
	if ticket == "" {
		return // a plain NATS caller: delivered on reply
	}
	f := &inflight{items: items}
	f.timer = time.AfterFunc(releaseAfter, func() { c.release(ticket, false) })
	c.inflight[ticket] = f
}

// release ends a ticket: its items reached the caller, or go back to the front of the buffer.
// A ticket still waiting is withdrawn.
func (c *checkEvents) release(ticket string, delivered bool) {
	c.mu.Lock()
	for i, w := range c.waiters {
		if w.ticket == ticket {
			// Withdrawn under the same lock that add hands items out under: no item can reach
			// a caller who has gone.
			w.timer.Stop()
			c.waiters = append(c.waiters[:i], c.waiters[i+1:]...)
			c.mu.Unlock()
			w.reply(nil)
			return
		}
	}
	f, ok := c.inflight[ticket]
	if !ok {
		c.mu.Unlock()
		return
	}
	delete(c.inflight, ticket)
	f.timer.Stop()
	if delivered {
		c.mu.Unlock()
		return
	}
	c.log.Info("check_event caller gone, items back in the buffer", "items", len(f.items))
	if len(c.waiters) > 0 {
		w := c.waiters[0]
		c.waiters = c.waiters[1:]
		w.timer.Stop()
		c.handoutLocked(w.ticket, f.items)
		c.mu.Unlock()
		w.reply(f.items)
		return
	}
	c.buf = append(append([][]byte(nil), f.items...), c.buf...)
	c.trimLocked()
	c.mu.Unlock()
}

// encodeItems writes items as the JSON array check_event answers with ([] when none).
func encodeItems(items [][]byte) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(it)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// checkEvent is check_event's endpoint. It answers from another goroutine when it holds, so a
// waiting call never holds up the next one.
func (e *Engine) checkEvent(req micro.Request) {
	hold := e.cfg.CheckEventConfig.Hold
	if h, err := time.ParseDuration(req.Headers().Get(events.HeaderHold)); err == nil && h >= 0 && h < hold {
		hold = h
	}
	ticket := req.Headers().Get(events.HeaderTicket)
	e.checks.take(ticket, hold, func(items [][]byte) {
		sessionCalls.WithLabelValues(e.labels.service, e.labels.prefix, events.RouteCheckEvent, "0").Inc()
		if err := req.Respond(encodeItems(items)); err != nil {
			e.log.Warn("check_event reply", "err", err)
			if ticket == "" {
				return
			}
			e.checks.release(ticket, false)
		}
	})
}

// checkEventRelease is where the gateway releases its tickets.
func (e *Engine) checkEventRelease(req micro.Request) {
	var r events.CheckEventRelease
	if err := json.Unmarshal(req.Data(), &r); err != nil || r.Ticket == "" {
		e.log.Warn("check_event release: bad request", "data", string(req.Data()))
		return
	}
	e.checks.release(r.Ticket, r.Delivered)
	if req.Reply() != "" {
		_ = req.Respond([]byte(`{"code":0,"status":"success"}`))
	}
}

// CheckEventFed is the stream sequence of the latest item check_event's feed has taken (into
// the buffer or to a waiting caller), 0 before the first. Once the feed's consumer has been
// sent an item, this says when the item is in check_event's hands: what a test waits on
// before a call that must find it.
func (e *Engine) CheckEventFed() uint64 { return e.checks.fed.Load() }

// CheckEventWaiting is how many check_event calls wait for an item now: what a test waits on
// before it makes an item arrive for a waiting caller.
func (e *Engine) CheckEventWaiting() int {
	e.checks.mu.Lock()
	defer e.checks.mu.Unlock()
	return len(e.checks.waiters)
}

// feedCheckEvents fills the buffer from the stream, from the session's start, with the items check_event
// hands out. An ordered consumer follows the stream across reconnects by itself.
func (e *Engine) feedCheckEvents(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-e.pub.streamReady():
	}
	var filter []string
	for _, n := range e.checkEventNames() {
		filter = append(filter, e.subj.Event(n))
	}
	Follow(ctx, e.pub.js, e.subj.Stream(), filter, e.start, e.log, func(m jetstream.Msg) {
		e.checks.add(m.Data())
		if md, err := m.Metadata(); err == nil {
			e.checks.fed.Store(md.Sequence.Stream)
		}
	})
}

// Follow hands each item of stream on filter stored since start to handle, in the stream's
// order, until ctx ends: an ordered consumer, which follows the stream across reconnects by
// itself, made again (every second) while it cannot be made. The check_event feed of an engine
// and of a session host (one for all its accounts) both follow the stream this way.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, filter []string, start time.Time, log *slog.Logger, handle func(jetstream.Msg)) {
	for ctx.Err() == nil {
		cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: filter, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start,
		})
		if err == nil {
			var cc jetstream.ConsumeContext
			if cc, err = cons.Consume(handle); err == nil {
				<-ctx.Done()
				cc.Stop()
				return
			}
		}
		log.Warn("check_event feed not ready, retrying", "stream", stream, "err", err)
		_ = wait.Sleep(ctx, time.Second)
	}
}

// checkEventNames are the names of the items check_event hands out.
func (e *Engine) checkEventNames() []string {
	if p, ok := e.plat.(CheckEventNamer); ok {
		return p.CheckEventNames(e.cfg.PostEvent, e.cfg.PostEventList)
	}
	return events.CheckEventNames(e.cfg.PostEvent, e.cfg.PostEventList)
}

// FeedCheckEvent hands check_event one item of the stream, for an engine whose feed is its
// host's (Config.SharedFeed): one consumer of the stream per host rather than one per account
// (a stream takes a bounded number of consumers, and each costs the server). It keeps the
// items of this account that check_event hands out and that were stored since the engine
// started, as the engine's own feed does; seq is the item's stream sequence.
func (e *Engine) FeedCheckEvent(subject string, data []byte, seq uint64, stored time.Time) {
	if subject != e.subj.Event(events.EventName(subject)) {
		return // another account's
	}
	if !stored.Before(e.start) && e.checkNames[events.EventName(subject)] {
		e.checks.add(data)
	}
	// Fed up to seq: the items of this account check_event does not hand out are taken too.
	e.checks.fed.Store(seq)
}
