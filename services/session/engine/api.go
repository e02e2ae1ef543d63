package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
)

// maxInflight bounds the API calls one session handles at once; up to workers of them are
// taken by long-lived goroutines, started as calls come.
const (
	maxInflight = 512
	workers     = 64
)

func sortedRoutes(h map[string]Handler) []string { return slices.Sorted(maps.Keys(h)) }

// endpoint turns a handler into a micro endpoint. Every reply is the HTTP API's JSON body; one
// that must not go out as HTTP 200 is sent as a micro error whose code is the HTTP status, so
// micro's stats count it and the gateway copies it. A micro endpoint hands its requests over
// one at a time, so each is handled apart (up to maxInflight): one slow send must not hold up
// the next. An idle worker takes the call; when none is idle, a goroutine of its own does. A
// fresh goroutine per call spent 4% of the CPU growing its stack for the JSON encoder.
func (e *Engine) endpoint(ctx context.Context, route string, h Handler) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		e.inflight <- struct{}{}
		call := func() {
			defer func() { <-e.inflight }()
			e.handle(ctx, route, h, req)
		}
		select {
		case e.calls <- call:
		default:
			// Workers start with the first calls that find none idle, up to workers: an
			// idle account (a host runs thousands) keeps none.
			if e.workers.Add(1) <= workers {
				go e.work(ctx, call)
			} else {
				e.workers.Add(-1)
				go call()
			}
		}
	})
}

// work runs first, then the calls endpoint hands over until ctx ends.
func (e *Engine) work(ctx context.Context, first func()) {
	first()
	for {
		select {
		case call := <-e.calls:
			call()
		case <-ctx.Done():
			return
		}
	}
}

func (e *Engine) handle(ctx context.Context, route string, h Handler, req micro.Request) {
	ctx = withFrom(ctx, req.Headers().Get(events.HeaderFrom))
	ctx = withIfNoneMatch(ctx, req.Headers().Get(events.HeaderIfNoneMatch))
	body, status, httpStatus, hdr := e.call(ctx, route, h, req.Data())
	if limit := e.nc.MaxPayload(); limit > 0 && int64(len(body)) > limit-1024 {
		// NATS would refuse it and the caller would only see a time-out.
		e.log.Error("reply larger than the NATS server's max_payload", "route", route, "bytes", len(body), "max_payload", limit)
		body = events.MustMarshal(events.NewStatus(events.CodeInternal,
			"reply of %d bytes exceeds the NATS max_payload of %d; raise max_payload on the NATS server", len(body), limit))
		status, httpStatus, hdr = events.CodeInternal, 0, nil
	}
	sessionCalls.WithLabelValues(e.labels.service, e.labels.prefix, route, strconv.Itoa(status)).Inc()
	if err := Respond(req, body, status, httpStatus, hdr); err != nil {
		e.log.Warn("reply", "route", route, "err", err)
	}
}

// Respond sends one reply the way every session route answers: a body and its API code, which
// picks its HTTP status (events.HTTPStatus) unless httpStatus is given (not 0). A reply that
// must not go out as HTTP 200 carries micro's error headers, whose code is the HTTP status, so
// that micro's stats count it and the gateway copies it; hdr (a Bytes reply's type) goes with
// either. The Controller answers its routes with it too.
func Respond(req micro.Request, body []byte, code, httpStatus int, hdr micro.Headers) error {
	if httpStatus == 0 {
		httpStatus = events.HTTPStatus(code)
	}
	if httpStatus == 200 {
		var opts []micro.RespondOpt
		if hdr != nil {
			opts = append(opts, micro.WithHeaders(hdr))
		}
		return req.Respond(body, opts...)
	}
	// The headers of req.Error, sent through Respond: req.Error records the error on the
	// request, which micro reads once the endpoint's handler has returned, on its own
	// goroutine, while this call runs on a worker (a data race the race detector finds).
	// micro's stats no longer count these replies as errors; the session_calls metric does.
	h := micro.Headers{
		micro.ErrorHeader:     {strconv.Itoa(code)},
		micro.ErrorCodeHeader: {strconv.Itoa(httpStatus)},
	}
	for k, v := range hdr {
		h[k] = v
	}
	return req.Respond(body, micro.WithHeaders(h))
}

// replyCoder is an error that is a reply: its JSON encoding is the body, its code the API code.
type replyCoder interface {
	error
	ReplyCode() int
}

// call runs a handler and encodes its reply, whatever happens; it returns the body, the code,
// the HTTP status if the reply chose its own (0: the code's), and the headers to answer with.
func (e *Engine) call(ctx context.Context, route string, h Handler, data []byte) (body []byte, code, httpStatus int, hdr micro.Headers) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("handler panicked", "route", route, "panic", r)
			body, code, httpStatus, hdr = events.MustMarshal(events.ErrInternal), events.CodeInternal, 0, nil
		}
	}()
	reply, err := e.dispatch(ctx, route, h, data)
	if err != nil {
		var st *events.Status
		var rc replyCoder
		switch {
		case errors.As(err, &st):
			reply, code = st, st.Code
		case errors.As(err, &rc):
			reply, code = rc, rc.ReplyCode()
		default:
			e.log.Error("handler failed", "route", route, "err", err)
			reply, code = events.ErrInternal, events.CodeInternal
		}
	}
	switch r := reply.(type) {
	case json.RawMessage:
		return r, code, 0, nil
	case versioned:
		return r.body, code, 0, r.headers()
	case Bytes:
		return r.Body, r.code(code), r.HTTPStatus, r.headers()
	case *Bytes:
		if r != nil {
			return r.Body, r.code(code), r.HTTPStatus, r.headers()
		}
	}
	body, err = events.Marshal(reply)
	if err != nil {
		e.log.Error("encode reply", "route", route, "err", err)
		return events.MustMarshal(events.ErrInternal), events.CodeInternal, 0, nil
	}
	e.log.Debug("api", "route", route, "code", code, "took", time.Since(start))
	return body, code, 0, nil
}

// code is the API code of a bytes reply: its own, else the call's.
func (b Bytes) code(call int) int {
	if b.Code != 0 {
		return b.Code
	}
	return call
}

// headers are the NATS headers that carry the bytes' type to the gateway.
func (b Bytes) headers() micro.Headers {
	h := micro.Headers{}
	if b.ContentType != "" {
		h[events.HeaderContentType] = []string{b.ContentType}
	}
	if b.CacheControl != "" {
		h[events.HeaderCacheControl] = []string{b.CacheControl}
	}
	return h
}

func (e *Engine) dispatch(ctx context.Context, route string, h Handler, data []byte) (any, error) {
	p, err := events.DecodeParams(data)
	if err != nil {
		return nil, events.ErrBadRequest("%v", err)
	}
	if st := e.State(); st != events.StateRunning && route != events.RouteGetQRCode && !e.plat.AnswersBeforeRunning(route) {
		return nil, events.ErrNotReady(st)
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DriverTimeout)
	defer cancel()
	return h(ctx, p)
}

// ClientInfo is get_client_info's handler.
func (e *Engine) ClientInfo(context.Context, events.Params) (any, error) {
	return &events.ClientInfo{
		Account: e.cfg.Account, Code: events.CodeOK, LogLevel: e.cfg.LogLevel, OS: runtime.GOOS,
		PID: os.Getpid(), Runtime: e.runtime(), Starttime: e.start.Unix(), State: e.State(),
		Status: "success", Version: Version,
	}, nil
}

func (e *Engine) runtime() int64 { return int64(time.Since(e.start) / time.Second) }

// StopClient is stop_client's handler: the engine stops after ControlDelay.
func (e *Engine) StopClient(context.Context, events.Params) (any, error) {
	e.log.Info("stop_client: stopping", "in", e.cfg.ControlDelay)
	e.after(opStop)
	return &events.StopReply{
		Account: e.cfg.Account, Code: events.CodeOK, PID: os.Getpid(), Runtime: e.runtime(),
		Starttime: e.start.Unix(), Status: e.controlStatus("stop"),
	}, nil
}

// Relogin is relogin's handler: the engine logs in again after ControlDelay.
func (e *Engine) Relogin(context.Context, events.Params) (any, error) {
	e.log.Info("relogin: logging in again", "in", e.cfg.ControlDelay)
	e.after(opRelogin)
	return &events.ReloginReply{Account: e.cfg.Account, Code: events.CodeOK, Status: e.controlStatus("relogin")}, nil
}

// controlStatus words the reply as Mojo does: "success, client(<pid>) will stop in 3 seconds".
func (e *Engine) controlStatus(what string) string {
	return fmt.Sprintf("success, client(%d) will %s in %d seconds", os.Getpid(), what, int(max(e.cfg.ControlDelay, 0).Seconds()))
}

type fromKey struct{}

// withFrom carries who asked for a call (the Openqq-From header) to the send it makes.
func withFrom(ctx context.Context, from string) context.Context {
	if from == "" {
		return ctx
	}
	return context.WithValue(ctx, fromKey{}, from)
}

// From is who asked for the call ctx belongs to: events.FromReply for a post_api answer,
// else "api".
func From(ctx context.Context) string {
	if from, ok := ctx.Value(fromKey{}).(string); ok && from == events.FromReply {
		return from
	}
	return "api"
}
