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
	}
}

// maxInflight bounds the API calls one session handles at once.
const maxInflight = 512

// endpoint turns a handler into a micro endpoint. Every reply is the HTTP API's JSON body; one
// that must not go out as HTTP 200 is sent as a micro error whose code is the HTTP status, so
// micro's stats count it and the gateway copies it. A micro endpoint hands its requests over
// one at a time, so each is handled in a goroutine of its own (up to maxInflight): one slow
// send must not hold up the next.
func (s *Session) endpoint(ctx context.Context, route string, h handler) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		s.inflight <- struct{}{}
		go func() {
			defer func() { <-s.inflight }()
			s.handle(ctx, route, h, req)
		}()
	})
}

func (s *Session) handle(ctx context.Context, route string, h handler, req micro.Request) {
	ctx = withFrom(ctx, req.Headers().Get(events.HeaderFrom))
	body, status := s.call(ctx, route, h, req.Data())
	if limit := s.nc.MaxPayload(); limit > 0 && int64(len(body)) > limit-1024 {
		// NATS would refuse it and the caller would only see a time-out.
		s.log.Error("reply larger than the NATS server's max_payload", "route", route, "bytes", len(body), "max_payload", limit)
		body = events.MustMarshal(events.NewStatus(events.CodeInternal,
			"reply of %d bytes exceeds the NATS max_payload of %d; raise max_payload on the NATS server", len(body), limit))
		status = events.CodeInternal
	}
	sessionCalls.WithLabelValues(route, strconv.Itoa(status)).Inc()
	var err error
	if status == events.CodeOK || events.HTTPStatus(status) == 200 {
		err = req.Respond(body)
	} else {
		err = req.Error(strconv.Itoa(events.HTTPStatus(status)), strconv.Itoa(status), body)
	}
	if err != nil {
		s.log.Warn("reply", "route", route, "err", err)
	}
}

// call runs a handler and encodes its reply, whatever happens; it returns the body and the code.
func (s *Session) call(ctx context.Context, route string, h handler, data []byte) (body []byte, code int) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("handler panicked", "route", route, "panic", r)
			body, code = events.MustMarshal(events.ErrInternal), events.CodeInternal
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
	if raw, ok := reply.(json.RawMessage); ok {
		return raw, code
	}
	body, err = events.Marshal(reply)
	if err != nil {
		s.log.Error("encode reply", "route", route, "err", err)
		return events.MustMarshal(events.ErrInternal), events.CodeInternal
	}
	s.log.Debug("api", "route", route, "code", code, "took", time.Since(start))
	return body, code
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

type cachedReply struct {
	gen  uint64
	body json.RawMessage
}

// cached is read for the get_*_info routes: the encoded reply is kept until the roster
// changes, since a large roster takes long to encode and seldom changes.
func (s *Session) cached(route string, f func() any) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.ro == nil {
		return nil, events.ErrNotReady(s.state)
	}
	s.cacheMu.Lock()
	c, ok := s.cache[route]
	s.cacheMu.Unlock()
	if ok && c.gen == s.gen {
		return c.body, nil
	}
	b, err := events.Marshal(f())
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	s.cache[route] = cachedReply{gen: s.gen, body: b}
	s.cacheMu.Unlock()
	return json.RawMessage(b), nil
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

func (s *Session) getUserInfo(context.Context, events.Params) (any, error) {
	return s.cached(events.RouteGetUserInfo, func() any { return s.ro.User })
}

func (s *Session) getFriendInfo(context.Context, events.Params) (any, error) {
	return s.cached(events.RouteGetFriendInfo, func() any { return s.ro.Friends })
}

func (s *Session) getGroupInfo(context.Context, events.Params) (any, error) {
	return s.cached(events.RouteGetGroupInfo, func() any { return s.ro.Groups })
}

func (s *Session) getGroupBasicInfo(context.Context, events.Params) (any, error) {
	return s.cached(events.RouteGetGroupBasicInfo, func() any { return s.ro.BasicGroups() })
}

func (s *Session) getDiscussInfo(context.Context, events.Params) (any, error) {
	return s.cached(events.RouteGetDiscussInfo, func() any { return s.ro.Discusses })
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
	return fmt.Sprintf("success, client(%d) will %s in %d seconds", os.Getpid(), what, int(s.cfg.ControlDelay.Seconds()))
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
