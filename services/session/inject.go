package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
)

// maxInjections bounds the injections handled at once.
const maxInjections = 256

// serveInjections serves the injection endpoint (<prefix>.sim.inject) for a driver that
// declares an Injector, while one login lasts (ctx): as before the endpoint moved out of the
// simulated account, nothing answers between logins. The returned func stops it.
func (s *Session) serveInjections(ctx context.Context, inj driver.Injector) (stop func(), err error) {
	if inj == nil {
		return func() {}, nil
	}
	// Each injection waits for its report to be stored; taken one at a time, they would go no
	// faster than one JetStream round trip each. A caller that needs an order waits for each
	// reply before the next injection, as a real peer's messages arrive.
	inflight := make(chan struct{}, maxInjections)
	sub, err := s.nc.Subscribe(s.subj.SimInject(), func(m *nats.Msg) {
		inflight <- struct{}{}
		go func() {
			defer func() { <-inflight }()
			s.inject(ctx, inj, m)
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("session: subscribe %s: %w", s.subj.SimInject(), err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// inject hands one injection to the driver and answers with an events.InjectReply.
func (s *Session) inject(ctx context.Context, inj driver.Injector, m *nats.Msg) {
	var (
		in  events.Injection
		id  int64
		err error
	)
	if jerr := json.Unmarshal(m.Data, &in); jerr != nil {
		err = events.ErrBadRequest("injection: %v", jerr)
	} else {
		id, err = inj.Inject(ctx, in)
	}
	reply := events.InjectReply{Code: events.CodeOK, ID: id, Status: "success"}
	if err != nil {
		var st *events.Status
		if !errors.As(err, &st) {
			st = events.NewStatus(events.CodeFailure, "%v", err)
		}
		reply = events.InjectReply{Code: st.Code, Status: st.Status}
		s.log.Info("injection refused", "code", st.Code, "status", st.Status)
	}
	if m.Reply != "" {
		_ = m.Respond(events.MustMarshal(reply))
	}
}
