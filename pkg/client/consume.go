package client

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Handler handles one item. The items of one Consume come one at a time, in order.
type Handler func(ctx context.Context, it *Item) error

// Deliver is where a consumer of the stream starts.
type Deliver int

const (
	// DeliverAll starts at the first item the stream keeps (7 days by default).
	DeliverAll Deliver = iota
	// DeliverNew starts with the next item published.
	DeliverNew
	// DeliverLastPerName starts with the last item of each name: the current state, say.
	DeliverLastPerName
)

// ConsumeOptions choose what Consume follows.
type ConsumeOptions struct {
	// Names keeps the items of these names (message types, event names); none keeps every one.
	Names []string
	// Stream follows the JetStream stream rather than the live subjects: items published
	// before Consume started are there too (see Deliver), and none is missed across a
	// reconnection.
	Stream bool
	// Durable names a durable consumer of the stream (Stream is implied): it remembers the last
	// item each handler returned nil for, so a restarted service resumes there, and several
	// processes with the same Durable share the items. An item whose handler fails comes again
	// after RetryDelay.
	Durable string
	// Deliver is where a new consumer of the stream starts (DeliverAll if zero).
	Deliver Deliver
	// RetryDelay is how long a durable consumer waits before an item whose handler failed comes
	// again (1s if zero).
	RetryDelay time.Duration
	// OnError hears of a handler's error and of an item that cannot be decoded (which is then
	// skipped); the default logs them with slog.
	OnError func(it *Item, err error)
}

// Follow hands every item of qq.events.> to h, live, until ctx ends: Consume with no options.
func (c *Client) Follow(ctx context.Context, h Handler) error {
	return c.Consume(ctx, ConsumeOptions{}, h)
}

// Consume hands items to h until ctx ends, then returns nil; it returns an error at once if it
// cannot start (the stream does not exist yet, say).
func (c *Client) Consume(ctx context.Context, opts ConsumeOptions, h Handler) error {
	onError := opts.OnError
	if onError == nil {
		onError = func(it *Item, err error) {
			name := ""
			if it != nil {
				name = it.Name
			}
			slog.Warn("openqq client: item not handled", "item", name, "err", err)
		}
	}
	subjects := []string{c.subj.Events()}
	if len(opts.Names) > 0 {
		subjects = subjects[:0]
		for _, n := range opts.Names {
			subjects = append(subjects, c.subj.Event(n))
		}
	}
	if opts.Stream || opts.Durable != "" {
		return c.consumeStream(ctx, opts, subjects, h, onError)
	}
	return c.consumeLive(ctx, subjects, h, onError)
}

func (c *Client) consumeLive(ctx context.Context, subjects []string, h Handler, onError func(*Item, error)) error {
	// One channel for every subject keeps the items in the order they arrive. Should h fall
	// this far behind, NATS drops items for this subscriber (live means live: use Stream).
	ch := make(chan *nats.Msg, 8192)
	for _, s := range subjects {
		sub, err := c.nc.ChanSubscribe(s, ch)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", s, err)
		}
		defer sub.Unsubscribe() //nolint:errcheck // the connection may be gone already
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			it, err := DecodeItem(m.Subject, m.Data)
			if err == nil {
				err = h(ctx, it)
			}
			if err != nil && ctx.Err() == nil {
				onError(it, err)
			}
		}
	}
}

func (c *Client) consumeStream(ctx context.Context, opts ConsumeOptions, subjects []string, h Handler, onError func(*Item, error)) error {
	js, err := jetstream.New(c.nc)
	if err != nil {
		return err
	}
	policy := jetstream.DeliverAllPolicy
	switch opts.Deliver {
	case DeliverNew:
		policy = jetstream.DeliverNewPolicy
	case DeliverLastPerName:
		policy = jetstream.DeliverLastPerSubjectPolicy
	}
	var cons jetstream.Consumer
	if opts.Durable == "" {
		cons, err = js.OrderedConsumer(ctx, c.subj.Stream(), jetstream.OrderedConsumerConfig{
			FilterSubjects: subjects, DeliverPolicy: policy,
		})
	} else {
		cons, err = js.CreateOrUpdateConsumer(ctx, c.subj.Stream(), jetstream.ConsumerConfig{
			Durable: opts.Durable, FilterSubjects: subjects, DeliverPolicy: policy,
			AckPolicy: jetstream.AckExplicitPolicy, Description: "openqq client",
		})
	}
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.subj.Stream(), err)
	}
	retry := opts.RetryDelay
	if retry <= 0 {
		retry = time.Second
	}
	durable := opts.Durable != ""
	cc, err := cons.Consume(func(m jetstream.Msg) {
		it, err := DecodeItem(m.Subject(), m.Data())
		if err != nil {
			onError(nil, err)
			if durable {
				_ = m.Term() // it will never decode: do not hand it out again
			}
			return
		}
		if meta, merr := m.Metadata(); merr == nil {
			it.Seq = meta.Sequence.Stream
		}
		if err := h(ctx, it); err != nil {
			if ctx.Err() == nil {
				onError(it, err)
			}
			if durable {
				_ = m.NakWithDelay(retry)
			}
			return
		}
		if durable {
			// Confirmed, so that a Consume that ends has its last item recorded as handled.
			_ = m.DoubleAck(ctx)
		}
	})
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.subj.Stream(), err)
	}
	<-ctx.Done()
	cc.Stop()
	// Unsubscribed once closed: the server hands nothing more to this Consume, and h is done.
	<-cc.Closed()
	return nil
}

// ErrStreamNotFound is wrapped by Consume's error when the stream does not exist (yet): no
// session has started with this prefix.
var ErrStreamNotFound = jetstream.ErrStreamNotFound
