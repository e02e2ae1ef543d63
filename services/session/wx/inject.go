package wx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// maxInjections bounds the injections handled at once.
const maxInjections = 256

// serveInjections serves wx.sim.inject while one login lasts (ctx), for a driver that declares
// an Injector, as the engine does for QQ: nothing answers between logins. The returned func
// stops it.
func (w *Platform) serveInjections(ctx context.Context) (stop func(), err error) {
	inj := w.caps.Injector
	if inj == nil {
		return func() {}, nil
	}
	inflight := make(chan struct{}, maxInjections)
	subject := w.e.Subjects().SimInject()
	sub, err := w.e.Conn().Subscribe(subject, func(m *nats.Msg) {
		inflight <- struct{}{}
		go func() {
			defer func() { <-inflight }()
			w.inject(ctx, m)
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", subject, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// inject hands one injection to the driver and answers with a wx.InjectReply.
func (w *Platform) inject(ctx context.Context, m *nats.Msg) {
	reply, err := w.injectOne(ctx, m.Data)
	if err != nil {
		var st *events.Status
		if !errors.As(err, &st) {
			st = events.NewStatus(events.CodeFailure, "%v", err)
		}
		reply = wx.InjectReply{Code: st.Code, Status: st.Status}
		w.log.Info("injection refused", "code", st.Code, "status", st.Status)
	}
	if m.Reply != "" {
		_ = m.Respond(events.MustMarshal(reply))
	}
}

// injectOne decodes and hands over one injection; a panic is a refusal, not the end of the
// process.
func (w *Platform) injectOne(ctx context.Context, data []byte) (reply wx.InjectReply, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("injection panicked", "panic", r)
			reply, err = wx.InjectReply{}, events.ErrInternal
		}
	}()
	var in wx.Injection
	if err := json.Unmarshal(data, &in); err != nil {
		return wx.InjectReply{}, events.ErrBadRequest("injection: %v", err)
	}
	return w.caps.Injector.Inject(ctx, in)
}
