package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
)

// handler answers one route. It returns the reply, or an error that is the reply
// (*events.Status, *events.SendReply) or a fault of openqq's own.
type handler func(ctx context.Context, p events.Params) (any, error)

func (s *Session) handlers() map[string]handler {
	return map[string]handler{
		events.RouteGetUserInfo:        s.getUserInfo,
		events.RouteGetFriendInfo:      s.getFriendInfo,
		events.RouteGetGroupInfo:       s.getGroupInfo,
		events.RouteGetGroupBasicInfo:  s.getGroupBasicInfo,
		events.RouteGetDiscussInfo:     s.getDiscussInfo,
		events.RouteSearchFriend:       s.searchFriend,
		events.RouteSearchGroup:        s.searchGroup,
		events.RouteSendFriendMessage:  s.sendFriendMessage,
		events.RouteSendGroupMessage:   s.sendGroupMessage,
		events.RouteSendDiscussMessage: s.sendDiscussMessage,
		events.RouteSendSessMessage:    s.sendSessMessage,
		events.RouteShutupGroupMember:  s.shutupGroupMember,
		events.RouteKickGroupMember:    s.kickGroupMember,
		events.RouteGetClientInfo:      s.getClientInfo,
		events.RouteStopClient:         s.stopClient,
		events.RouteRelogin:            s.relogin,
		// openqq's own, for drivers that declare Requests (ext.go)
		events.RouteAnswerFriendRequest: s.answerFriendRequest,
		events.RouteAnswerGroupRequest:  s.answerGroupRequest,
	}
}

// maxInflight bounds the API calls one session handles at once; workers of them are taken by
// long-lived goroutines.
const (
	maxInflight = 512
	workers     = 64
)

// endpoint turns a handler into a micro endpoint. Every reply is the HTTP API's JSON body; one
// that must not go out as HTTP 200 is sent as a micro error whose code is the HTTP status, so
// micro's stats count it and the gateway copies it. A micro endpoint hands its requests over
// one at a time, so each is handled apart (up to maxInflight): one slow send must not hold up
// the next. An idle worker takes the call; when none is idle, a goroutine of its own does. A
// fresh goroutine per call spent 4% of the CPU growing its stack for the JSON encoder.
func (s *Session) endpoint(ctx context.Context, route string, h handler) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		s.inflight <- struct{}{}
		call := func() {
			defer func() { <-s.inflight }()
			s.handle(ctx, route, h, req)
		}
		select {
		case s.calls <- call:
		default:
			go call()
		}
	})
}

// work runs the calls endpoint hands over until ctx ends.
func (s *Session) work(ctx context.Context) {
	for {
		select {
		case call := <-s.calls:
			call()
		case <-ctx.Done():
			return
		}
	}
}

func (s *Session) handle(ctx context.Context, route string, h handler, req micro.Request) {
	ctx = withFrom(ctx, req.Headers().Get(events.HeaderFrom))
	ctx = withIfNoneMatch(ctx, req.Headers().Get(events.HeaderIfNoneMatch))
	body, status, hdr := s.call(ctx, route, h, req.Data())
	if limit := s.nc.MaxPayload(); limit > 0 && int64(len(body)) > limit-1024 {
		// NATS would refuse it and the caller would only see a time-out.
		s.log.Error("reply larger than the NATS server's max_payload", "route", route, "bytes", len(body), "max_payload", limit)
		body = events.MustMarshal(events.NewStatus(events.CodeInternal,
			"reply of %d bytes exceeds the NATS max_payload of %d; raise max_payload on the NATS server", len(body), limit))
		status, hdr = events.CodeInternal, nil
	}
	sessionCalls.WithLabelValues(route, strconv.Itoa(status)).Inc()
	var err error
	if status == events.CodeOK || events.HTTPStatus(status) == 200 {
		var opts []micro.RespondOpt
		if hdr != nil {
			opts = append(opts, micro.WithHeaders(hdr))
		}
		err = req.Respond(body, opts...)
	} else {
		err = req.Error(strconv.Itoa(events.HTTPStatus(status)), strconv.Itoa(status), body)
	}
	if err != nil {
		s.log.Warn("reply", "route", route, "err", err)
	}
}

// call runs a handler and encodes its reply, whatever happens; it returns the body, the code and
// the headers to answer with.
func (s *Session) call(ctx context.Context, route string, h handler, data []byte) (body []byte, code int, hdr micro.Headers) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "route", route, "panic", r)
			body, code, hdr = events.MustMarshal(events.ErrInternal), events.CodeInternal, nil
		}
	}()
	reply, err := s.dispatch(ctx, route, h, data)
	if err != nil {
		var st *events.Status
		var sr *events.SendReply
		switch {
		case errors.As(err, &st):
			reply, code = st, st.Code
		case errors.As(err, &sr):
			reply, code = sr, sr.Code
		default:
			s.log.Error("handler failed", "route", route, "err", err)
			reply, code = events.ErrInternal, events.CodeInternal
		}
	}
	switch r := reply.(type) {
	case json.RawMessage:
		return r, code, nil
	case versioned:
		return r.body, code, r.headers()
	}
	body, err = events.Marshal(reply)
	if err != nil {
		s.log.Error("encode reply", "route", route, "err", err)
		return events.MustMarshal(events.ErrInternal), events.CodeInternal, nil
	}
	s.log.Debug("api", "route", route, "code", code, "took", time.Since(start))
	return body, code, nil
}

func (s *Session) dispatch(ctx context.Context, route string, h handler, data []byte) (any, error) {
	p, err := events.DecodeParams(data)
	if err != nil {
		return nil, events.ErrBadRequest("%v", err)
	}
	if st := s.ClientState(); st != events.StateRunning && !events.AnswersBeforeRunning(route) {
		return nil, events.ErrNotReady(st)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DriverTimeout)
	defer cancel()
	return h(ctx, p)
}

// read runs f on the roster under the read lock; the roster is gone while logging in again.
func (s *Session) read(f func() any) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ro == nil {
		return nil, events.ErrNotReady(s.state)
	}
	// Encode under the lock: the reply shares slices with the roster.
	b, err := events.Marshal(f())
	return json.RawMessage(b), err
}

func (s *Session) getUserInfo(ctx context.Context, _ events.Params) (any, error) {
	return s.cached(ctx, events.RouteGetUserInfo, func(int) ([]byte, error) { return events.Marshal(&s.ro.User) })
}

func (s *Session) getFriendInfo(ctx context.Context, _ events.Params) (any, error) {
	return s.cached(ctx, events.RouteGetFriendInfo, func(hint int) ([]byte, error) { return events.MarshalList(s.ro.Friends, hint) })
}

func (s *Session) getGroupInfo(ctx context.Context, _ events.Params) (any, error) {
	return s.cached(ctx, events.RouteGetGroupInfo, func(hint int) ([]byte, error) { return events.MarshalList(s.ro.Groups, hint) })
}

func (s *Session) getGroupBasicInfo(ctx context.Context, _ events.Params) (any, error) {
	return s.cached(ctx, events.RouteGetGroupBasicInfo, func(hint int) ([]byte, error) { return events.MarshalList(s.ro.BasicGroups(), hint) })
}

func (s *Session) getDiscussInfo(ctx context.Context, _ events.Params) (any, error) {
	return s.cached(ctx, events.RouteGetDiscussInfo, func(hint int) ([]byte, error) { return events.MarshalList(s.ro.Discusses, hint) })
}

func (s *Session) searchFriend(_ context.Context, p events.Params) (any, error) {
	return s.found(func() any {
		if r := s.ro.SearchFriends(p); len(r) > 0 {
			return r
		}
		return nil
	})
}

func (s *Session) searchGroup(_ context.Context, p events.Params) (any, error) {
	return s.found(func() any {
		if r := s.ro.SearchGroups(p); len(r) > 0 {
			return r
		}
		return nil
	})
}

// found is read for searches: nothing found is "object not found".
func (s *Session) found(f func() any) (any, error) {
	var none bool
	b, err := s.read(func() any {
		r := f()
		none = r == nil
		return r
	})
	if err == nil && none {
		return nil, events.ErrObjNotFound
	}
	return b, err
}

func (s *Session) getClientInfo(context.Context, events.Params) (any, error) {
	return &events.ClientInfo{
		Account: s.cfg.Account, Code: events.CodeOK, LogLevel: s.cfg.LogLevel, OS: runtime.GOOS,
		PID: os.Getpid(), Runtime: s.runtime(), Starttime: s.start.Unix(), State: s.ClientState(),
		Status: "success", Version: Version,
	}, nil
}

func (s *Session) runtime() int64 { return int64(time.Since(s.start) / time.Second) }

func (s *Session) stopClient(context.Context, events.Params) (any, error) {
	s.log.Info("stop_client: stopping", "in", s.cfg.ControlDelay)
	s.after(opStop)
	return &events.StopReply{
		Account: s.cfg.Account, Code: events.CodeOK, PID: os.Getpid(), Runtime: s.runtime(),
		Starttime: s.start.Unix(), Status: s.controlStatus("stop"),
	}, nil
}

func (s *Session) relogin(context.Context, events.Params) (any, error) {
	s.log.Info("relogin: logging in again", "in", s.cfg.ControlDelay)
	s.after(opRelogin)
	return &events.ReloginReply{Account: s.cfg.Account, Code: events.CodeOK, Status: s.controlStatus("relogin")}, nil
}

// controlStatus words the reply as Mojo does: "success, client(<pid>) will stop in 3 seconds".
func (s *Session) controlStatus(what string) string {
	return fmt.Sprintf("success, client(%d) will %s in %d seconds", os.Getpid(), what, int(max(s.cfg.ControlDelay, 0).Seconds()))
}

type fromKey struct{}

// withFrom carries who asked for a call (the Openqq-From header) to the send it makes.
func withFrom(ctx context.Context, from string) context.Context {
	if from == "" {
		return ctx
	}
	return context.WithValue(ctx, fromKey{}, from)
}

// fromOf is "api" unless the call said otherwise ("reply" for a post_api answer).
func fromOf(ctx context.Context) string {
	if from, ok := ctx.Value(fromKey{}).(string); ok && from == events.FromReply {
		return from
	}
	return "api"
}
