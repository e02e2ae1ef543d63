package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
)

// maxInjections bounds the injections handled at once.
const maxInjections = 256

// serveInjections serves the injection endpoint (<prefix>.sim.inject) for a platform whose
// driver takes injections, while one login lasts (ctx): as before the endpoint moved out of the
// simulated account, nothing answers between logins. The returned func stops it.
func (e *Engine) serveInjections(ctx context.Context) (stop func(), err error) {
	if !e.plat.CanInject() {
		return func() {}, nil
	}
	// Each injection waits for its report to be stored; taken one at a time, they would go no
	// faster than one JetStream round trip each. A caller that needs an order waits for each
	// reply before the next injection, as a real peer's messages arrive.
	inflight := make(chan struct{}, maxInjections)
	sub, err := e.nc.Subscribe(e.subj.SimInject(), func(m *nats.Msg) {
		inflight <- struct{}{}
		go func() {
			defer func() { <-inflight }()
			e.inject(ctx, m)
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("session: subscribe %s: %w", e.subj.SimInject(), err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// inject hands one injection to the platform and answers with its reply, or a refusal's
// {"code":...,"status":...}.
func (e *Engine) inject(ctx context.Context, m *nats.Msg) {
	reply, err := e.injectOne(ctx, m.Data)
	if err != nil {
		var st *events.Status
		if !errors.As(err, &st) {
			st = events.NewStatus(events.CodeFailure, "%v", err)
		}
		reply = events.InjectReply{Code: st.Code, Status: st.Status}
		e.log.Info("injection refused", "code", st.Code, "status", st.Status)
	}
	if m.Reply != "" {
		_ = m.Respond(events.MustMarshal(reply))
	}
}

// injectOne calls the platform's Inject; a panic is a refusal, not the end of the process.
func (e *Engine) injectOne(ctx context.Context, data []byte) (reply any, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("injection panicked", "panic", r)
			reply, err = nil, events.ErrInternal
		}
	}()
	return e.plat.Inject(ctx, data)
}
