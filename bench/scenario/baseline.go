package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
)

// The baseline of the event rows: the least a JetStream-backed post_api can do. The same
// payloads are published to a file-store stream on an embedded server (the all-in-one's own
// kind), and one durable consumer POSTs them to a sink with the same concurrency as the reporter,
// acking each after its 200.

type minimalLoop struct {
	srv     *embednats.Server
	pub     *nats.Conn
	sub     *nats.Conn
	js      jetstream.JetStream
	cons    jetstream.Consumer
	client  *http.Client
	sinkURL string
	pubErrs atomic.Int64
	// restarts counts the iterators replaced after an error (a missed heartbeat).
	restarts    atomic.Int64
	lastRestart atomic.Value
	// asyncErrs counts the consumer connection's asynchronous errors (slow consumer, ...).
	asyncErrs    atomic.Int64
	lastAsyncErr atomic.Value
	futures      []jetstream.PubAckFuture
	conc         int
	stop         context.CancelFunc
	done         sync.WaitGroup
	errs         chan error
}

// The baseline's own stream, named as an account with the prefix "bench" would name it.
var (
	baselineSubjects = events.Subjects{Prefix: "bench"}
	baselineSubject  = baselineSubjects.Event(events.GroupMessage)
)

// With listen, its NATS server also takes TCP clients on a free loopback port (the injector).
func startMinimalLoop(ctx context.Context, storeDir, sinkURL string, conc int, listen bool) (*minimalLoop, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := embednats.Start(embednats.Config{Host: "127.0.0.1", Port: -1, DontListen: !listen, StoreDir: storeDir}, log)
	if err != nil {
		return nil, err
	}
	l := &minimalLoop{srv: srv, sinkURL: sinkURL, conc: conc, errs: make(chan error, 1)}
	fail := func(err error) (*minimalLoop, error) { l.close(); return nil, err }
	if l.pub, err = srv.Connect("bench-publisher"); err != nil {
		return fail(err)
	}
	if l.sub, err = nats.Connect("", nats.Name("bench-consumer"), nats.InProcessServer(srv.Server),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			l.asyncErrs.Add(1)
			l.lastAsyncErr.Store(err.Error())
		})); err != nil {
		return fail(err)
	}
	// 256 publishes in flight at once, as the session's publisher.
	if l.js, err = jetstream.New(l.pub, jetstream.WithPublishAsyncMaxPending(256)); err != nil {
		return fail(err)
	}
	if _, err = l.js.CreateStream(ctx, jetstream.StreamConfig{
		Name: baselineSubjects.Stream(), Subjects: []string{baselineSubjects.Events()}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
	}); err != nil {
		return fail(err)
	}
	jsSub, err := jetstream.New(l.sub)
	if err != nil {
		return fail(err)
	}
	if l.cons, err = jsSub.CreateConsumer(ctx, baselineSubjects.Stream(), jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: max(1000, 4*conc),
		AckWait: 30 * time.Second,
	}); err != nil {
		return fail(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conc
	tr.MaxConnsPerHost = 2 * conc
	l.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop = stop
	l.done.Go(func() {
		sem := make(chan struct{}, conc)
		var wg sync.WaitGroup
		defer wg.Wait()
		// As the reporter does: a broken iterator (a missed heartbeat) is replaced. The expiry
		// is shorter than the reporter's default (30 s), so that a stalled pull (see restarts)
		// costs seconds, not half a minute.
		for runCtx.Err() == nil {
			it, err := l.cons.Messages(jetstream.PullMaxMessages(conc), jetstream.PullExpiry(baselineExpiry))
			if err != nil {
				select {
				case l.errs <- err:
				default:
				}
				return
			}
			stopIt := context.AfterFunc(runCtx, it.Stop)
			for {
				m, err := it.Next()
				if err != nil {
					if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
						l.restarts.Add(1)
						l.lastRestart.Store(err.Error())
					}
					break
				}
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					if l.post(m.Data()) == nil {
						_ = m.Ack()
					} else {
						_ = m.NakWithDelay(100 * time.Millisecond)
					}
				})
			}
			it.Stop()
			stopIt()
		}
	})
	return l, nil
}

func (l *minimalLoop) post(body []byte) error {
	req, err := http.NewRequest(http.MethodPost, l.sinkURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// publish stores body under its id, asynchronously; it records when it was sent in t0.
func (l *minimalLoop) publish(seq int, body []byte, id int64, t0 []int64) error {
	m := nats.NewMsg(baselineSubject)
	m.Header.Set(nats.MsgIdHdr, strconv.FormatInt(id, 10))
	m.Data = body
	t0[seq] = time.Now().UnixNano()
	f, err := l.js.PublishMsgAsync(m)
	if err == nil {
		l.futures = append(l.futures, f)
	}
	return err
}

// republish publishes again what was not acknowledged (a publish times out on a busy machine;
// the session's publisher retries too), and says how many it retried.
func (l *minimalLoop) republish(ctx context.Context) (int, error) {
	retried := 0
	for range 5 {
		var failed []*nats.Msg
		for _, f := range l.futures {
			select {
			case <-f.Ok():
			case <-f.Err():
				failed = append(failed, f.Msg())
			}
		}
		l.futures = l.futures[:0]
		if len(failed) == 0 {
			return retried, nil
		}
		retried += len(failed)
		for _, m := range failed {
			f, err := l.js.PublishMsgAsync(m)
			if err != nil {
				return retried, err
			}
			l.futures = append(l.futures, f)
		}
		if err := l.flush(ctx); err != nil {
			return retried, err
		}
	}
	return retried, errors.New("publishes still failing after 5 tries")
}

// diagnose describes the stream and the consumer, for a delivery that came up short.
func (l *minimalLoop) diagnose(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := l.js.Stream(ctx, "BENCH")
	if err != nil {
		return err.Error()
	}
	si, err := s.Info(ctx)
	if err != nil {
		return err.Error()
	}
	ci, err := l.cons.Info(ctx)
	if err != nil {
		return err.Error()
	}
	last, _ := l.lastAsyncErr.Load().(string)
	restart, _ := l.lastRestart.Load().(string)
	return fmt.Sprintf("stream: %d messages; consumer: %d pending, %d ack pending, %d redelivered, %d waiting pulls; %d publishes retried; %d async errors on the consumer's connection (%s); iterator restarted %d times (%s)",
		si.State.Msgs, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting, l.pubErrs.Load(), l.asyncErrs.Load(), last, l.restarts.Load(), restart)
}

func (l *minimalLoop) flush(ctx context.Context) error {
	select {
	case <-l.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return errors.New("publish acks missing after a minute")
	}
}

func (l *minimalLoop) close() {
	if l.stop != nil {
		l.stop()
		l.done.Wait()
	}
	for _, nc := range []*nats.Conn{l.pub, l.sub} {
		if nc != nil {
			nc.Close()
		}
	}
	l.srv.Stop()
}

// BaselineAll publishes every body as fast as the async window allows and waits until the sink
// has them all.
func (h *Harness) BaselineAll(ctx context.Context, bodies [][]byte, ids []int64, conc int) (Delivery, error) {
	sink, err := NewSink(0)
	if err != nil {
		return Delivery{}, err
	}
	defer sink.Close()
	n := len(bodies)
	sink.Reset(n)
	l, err := startMinimalLoop(ctx, h.Dir("baseline-nats"), sink.URL, conc, false)
	if err != nil {
		return Delivery{}, err
	}
	defer l.close()
	t0 := make([]int64, n)
	for i := range n {
		if err := l.publish(i, bodies[i], ids[i], t0); err != nil {
			return Delivery{}, err
		}
	}
	return l.finish(ctx, sink, t0, ids)
}

func (l *minimalLoop) finish(ctx context.Context, sink *Sink, t0, ids []int64) (Delivery, error) {
	if err := l.flush(ctx); err != nil {
		return Delivery{}, err
	}
	n, err := l.republish(ctx)
	l.pubErrs.Add(int64(n))
	if err != nil {
		return Delivery{}, err
	}
	waitDelivered(ctx, sink, 20*time.Second)
	d := sink.Result(t0, ids)
	if !d.Lossless() || n > 0 || l.restarts.Load() > 0 || l.asyncErrs.Load() > 0 {
		d.Note = l.diagnose(ctx)
	}
	return d, l.err()
}

// BaselinePaced publishes n bodies at rate per second and waits until the sink has them all.
func (h *Harness) BaselinePaced(ctx context.Context, bodies [][]byte, ids []int64, conc int, rate float64) (Delivery, error) {
	sink, err := NewSink(0)
	if err != nil {
		return Delivery{}, err
	}
	defer sink.Close()
	n := len(bodies)
	sink.Reset(n)
	l, err := startMinimalLoop(ctx, h.Dir("baseline-nats"), sink.URL, conc, false)
	if err != nil {
		return Delivery{}, err
	}
	defer l.close()
	t0 := make([]int64, n)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if err := l.publish(i, bodies[i], ids[i], t0); err != nil {
			return Delivery{}, err
		}
	}
	return l.finish(ctx, sink, t0, ids)
}

func (l *minimalLoop) err() error {
	select {
	case err := <-l.errs:
		return err
	default:
		return nil
	}
}

// baselineExpiry is how long a pull request of the baseline's consumer lives: the reporter's
// (a third of its default POST_PIN_TTL of 5 s), so that a stalled pull costs both the same.
var baselineExpiry = 5 * time.Second / 3
