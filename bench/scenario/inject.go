package scenario

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// The default roster's group PERL学习交流 and its member 老王.
const (
	defaultGroupID  = 2617047292
	defaultSenderID = 2372835507
	defaultFriendID = 2372835507
)

// injection makes the account receive message seq (through proctest.Inject).
func injection(seq int) events.Injection {
	return proctest.GroupMessage(defaultGroupID, defaultSenderID, benchPrefix+strconv.Itoa(seq))
}

// Injected is the injector's account of a run.
type Injected struct {
	N          int     `json:"n"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"injections_per_sec"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	// T0 is when each injection was sent (Unix ns), IDs the message id each one's reply gave.
	T0  []int64 `json:"-"`
	IDs []int64 `json:"-"`
}

func connectNATS(url, name string) (*nats.Conn, error) {
	return nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
}

func injectOne(nc *nats.Conn, seq int, in *Injected, firstErr *atomic.Value, errs *atomic.Int64) {
	injectOneTo(nc, proctest.InjectSubject, seq, in, firstErr, errs)
}

// injectOneTo is injectOne to the injection subject of any account.
func injectOneTo(nc *nats.Conn, subject string, seq int, in *Injected, firstErr *atomic.Value, errs *atomic.Int64) {
	in.T0[seq] = time.Now().UnixNano()
	reply, err := proctest.InjectTo(nc, subject, injection(seq), 30*time.Second)
	if err == nil && reply.Code != 0 {
		err = fmt.Errorf("injection refused: %+v", reply)
	}
	if err != nil {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
		return
	}
	in.IDs[seq] = reply.ID
}

// InjectAll injects n group messages as fast as workers concurrent requests allow.
func InjectAll(ctx context.Context, natsURL string, n, workers int) (*Injected, error) {
	return InjectSpread(ctx, natsURL, n, workers, func(int) string { return proctest.InjectSubject })
}

// InjectSpread is InjectAll with message seq injected on subject(seq): spread over accounts.
func InjectSpread(ctx context.Context, natsURL string, n, workers int, subject func(seq int) string) (*Injected, error) {
	nc, err := connectNATS(natsURL, "openqq-bench-injector")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	in := &Injected{N: n, T0: make([]int64, n), IDs: make([]int64, n)}
	var (
		next     atomic.Int64
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				seq := int(next.Add(1) - 1)
				if seq >= n {
					return
				}
				injectOneTo(nc, subject(seq), seq, in, &firstErr, &errs)
			}
		})
	}
	wg.Wait()
	in.finish(time.Since(start), &errs, &firstErr)
	return in, ctx.Err()
}

// InjectPaced injects n group messages at rate per second, each on its own goroutine when due.
func InjectPaced(ctx context.Context, natsURL string, n int, rate float64) (*Injected, error) {
	nc, err := connectNATS(natsURL, "openqq-bench-injector")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	in := &Injected{N: n, T0: make([]int64, n), IDs: make([]int64, n)}
	var (
		errs     atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for seq := range n {
		if d := time.Until(start.Add(time.Duration(seq) * interval)); d > 0 {
			time.Sleep(d)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() { injectOne(nc, seq, in, &firstErr, &errs) })
	}
	wg.Wait()
	in.finish(time.Since(start), &errs, &firstErr)
	return in, ctx.Err()
}

func (in *Injected) finish(d time.Duration, errs *atomic.Int64, firstErr *atomic.Value) {
	in.Seconds = d.Seconds()
	in.PerSec = float64(in.N) / d.Seconds()
	in.Errors = errs.Load()
	if v, ok := firstErr.Load().(string); ok {
		in.FirstError = v
	}
}

// waitDelivered waits until the sink has every message, or until nothing new arrived for idle.
func waitDelivered(ctx context.Context, s *Sink, idle time.Duration) {
	last := int64(-1)
	lastChange := time.Now()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.Done():
			return
		case <-ctx.Done():
			return
		case <-t.C:
			rd := s.round.Load()
			if u := rd.unique.Load(); u != last {
				last, lastChange = u, time.Now()
			} else if time.Since(lastChange) > idle {
				return
			}
		}
	}
}
