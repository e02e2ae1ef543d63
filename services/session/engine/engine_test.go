package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// Tests of the engine with a platform of the test's own (no driver): a route table that
// answers each kind of reply, a roster of one string, and injections that publish a message.

// codedErr is an error that is a reply, as a platform may define its own (Openwx's replies
// have their own shape).
type codedErr struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

func (c *codedErr) Error() string  { return c.Msg }
func (c *codedErr) ReplyCode() int { return c.Code }

type testPlat struct {
	e       *Engine
	service string
	inject  bool
	login   chan struct{} // closed: Run logs in
	runs    atomic.Int32

	roster *string // under e's roster lock
}

func (p *testPlat) ServiceName() string { return p.service }
func (p *testPlat) Description() string { return "test platform " + p.service }

func (p *testPlat) Handlers() map[string]Handler {
	return map[string]Handler{
		events.RouteGetClientInfo: p.e.ClientInfo,
		events.RouteStopClient:    p.e.StopClient,
		events.RouteRelogin:       p.e.Relogin,
		"whoami": func(ctx context.Context, q events.Params) (any, error) {
			return map[string]string{"service": p.service, "from": From(ctx), "echo": q["echo"]}, nil
		},
		"avatar": func(context.Context, events.Params) (any, error) {
			return Bytes{ContentType: "image/jpeg", CacheControl: "max-age=60", Body: []byte{0xff, 0xd8, 0xff}}, nil
		},
		"status": func(context.Context, events.Params) (any, error) {
			return nil, fmt.Errorf("looking: %w", events.ErrObjNotFound)
		},
		"send": func(context.Context, events.Params) (any, error) {
			id := int64(7)
			return nil, &events.SendReply{Code: -3, ID: &id, Status: "发送失败"}
		},
		"coded": func(context.Context, events.Params) (any, error) {
			return nil, &codedErr{Code: 1201, Msg: "wx says no"}
		},
		"fault": func(context.Context, events.Params) (any, error) {
			return nil, errors.New("a bug of our own")
		},
		"panic": func(context.Context, events.Params) (any, error) {
			panic("boom")
		},
		"roster": func(ctx context.Context, _ events.Params) (any, error) {
			return p.e.Cached(ctx, "roster", func(int) ([]byte, error) { return json.Marshal(*p.roster) })
		},
	}
}

func (p *testPlat) AnswersBeforeRunning(route string) bool {
	return route == events.RouteGetClientInfo || route == events.RouteStopClient
}

func (p *testPlat) Run(ctx context.Context) error {
	p.runs.Add(1)
	select {
	case <-ctx.Done():
		return nil
	case <-p.login:
	}
	p.e.SetState(events.StateUpdating)
	p.e.Lock()
	r := "roster of " + p.service
	p.roster = &r
	p.e.Changed()
	p.e.Unlock()
	p.e.LoggedIn(true)
	<-ctx.Done()
	return nil
}

func (p *testPlat) LoggedOut() {
	p.e.Lock()
	p.roster = nil
	p.e.Unlock()
}

func (p *testPlat) CanInject() bool { return p.inject }

func (p *testPlat) Inject(_ context.Context, data []byte) (any, error) {
	if !p.inject {
		return nil, ErrNoInjector
	}
	var in struct{ Content string }
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, events.ErrBadRequest("injection: %v", err)
	}
	if in.Content == "" {
		return nil, events.NewStatus(events.CodeBadRequest, "no content")
	}
	m := &events.Message{ID: p.e.NextID(), Type: events.FriendMessage, Class: events.ClassRecv, Content: in.Content}
	if err := p.e.PublishItem(m, strconv.FormatInt(m.ID, 10)); err != nil {
		return nil, err
	}
	return events.InjectReply{Code: events.CodeOK, ID: m.ID, Status: "success"}, nil
}

// running is an engine being run until the test ends.
type running struct {
	e    *Engine
	p    *testPlat
	done chan error
}

func startEngine(t *testing.T, nc *nats.Conn, prefix, service string, inject, login bool) *running {
	t.Helper()
	r := &running{p: &testPlat{service: service, inject: inject, login: make(chan struct{})}, done: make(chan error, 1)}
	if login {
		close(r.p.login)
	}
	e, err := New(nc, Config{SubjectPrefix: prefix, ControlDelay: 10 * time.Millisecond}, natstest.Logger(t),
		func(e *Engine) (Platform, error) { r.p.e = e; return r.p, nil })
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("engine %s: %v", prefix, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("engine %s did not stop", prefix)
		}
	})
	if login {
		waitState(t, e, events.StateRunning)
	} else {
		waitState(t, e, events.StateLoading)
	}
	return r
}

func waitState(t *testing.T, e *Engine, st events.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.State() != st {
		if time.Now().After(deadline) {
			t.Fatalf("state %s, want %s", e.State(), st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ask calls a route and returns the reply.
func ask(t *testing.T, nc *nats.Conn, prefix, route string, hdr nats.Header) *nats.Msg {
	t.Helper()
	m := nats.NewMsg(prefix + ".api." + route)
	m.Data = []byte(`{"echo":"回声"}`)
	for k, v := range hdr {
		m.Header[k] = v
	}
	r, err := nc.RequestMsg(m, 10*time.Second)
	if err != nil {
		t.Fatalf("%s.api.%s: %v", prefix, route, err)
	}
	return r
}

// Each kind of handler result becomes its reply: a value as JSON, Bytes as they are with their
// type in headers, *events.Status and any ReplyCode error as the JSON reply with its code, any
// other error or a panic as a JSON internal error.
func TestReplies(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	startEngine(t, nc, "qq", "openqq", false, true)

	for _, c := range []struct {
		route      string
		hdr        nats.Header
		body       string
		httpStatus string // "" for a plain reply (HTTP 200)
		apiCode    string
		hdrWant    map[string]string
	}{
		{route: "whoami", body: `{"echo":"回声","from":"api","service":"openqq"}`},
		{route: "whoami", hdr: nats.Header{events.HeaderFrom: {events.FromReply}}, body: `{"echo":"回声","from":"reply","service":"openqq"}`},
		{route: "whoami", hdr: nats.Header{events.HeaderFrom: {"someone else"}}, body: `{"echo":"回声","from":"api","service":"openqq"}`},
		{route: "avatar", body: "\xff\xd8\xff", hdrWant: map[string]string{events.HeaderContentType: "image/jpeg", events.HeaderCacheControl: "max-age=60"}},
		{route: "status", body: `{"code":100,"status":"object not found"}`},
		{route: "send", body: `{"code":-3,"id":7,"status":"发送失败"}`, httpStatus: strconv.Itoa(events.HTTPStatus(-3)), apiCode: "-3"},
		{route: "coded", body: `{"code":1201,"msg":"wx says no"}`},
		{route: "fault", body: `{"code":-9,"status":"internal error"}`, httpStatus: "500", apiCode: "-9"},
		{route: "panic", body: `{"code":-9,"status":"internal error"}`, httpStatus: "500", apiCode: "-9"},
	} {
		t.Run(c.route, func(t *testing.T) {
			r := ask(t, nc, "qq", c.route, c.hdr)
			if string(r.Data) != c.body {
				t.Errorf("body %q, want %q", r.Data, c.body)
			}
			if got := r.Header.Get(events.HeaderServiceErrorCode); got != c.httpStatus {
				t.Errorf("HTTP status %q, want %q", got, c.httpStatus)
			}
			if got := r.Header.Get(events.HeaderServiceError); got != c.apiCode {
				t.Errorf("API code %q, want %q", got, c.apiCode)
			}
			for k, v := range c.hdrWant {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s %q, want %q", k, got, v)
				}
			}
		})
	}
}

// Until the platform has logged in, only the routes it names answer; the others say "not
// ready" with the state. A cached reply has a version that a roster change moves.
func TestNotReadyAndCache(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	r := startEngine(t, nc, "qq", "openqq", false, false)

	if got := ask(t, nc, "qq", "whoami", nil); string(got.Data) != `{"code":-2,"status":"client not ready: loading"}` {
		t.Errorf("before running: %s", got.Data)
	}
	var info events.ClientInfo
	if err := json.Unmarshal(ask(t, nc, "qq", events.RouteGetClientInfo, nil).Data, &info); err != nil || info.State != events.StateLoading {
		t.Errorf("get_client_info before running: %+v, %v", info, err)
	}

	close(r.p.login)
	waitState(t, r.e, events.StateRunning)
	first := ask(t, nc, "qq", "roster", nil)
	etag := first.Header.Get(events.HeaderETag)
	if string(first.Data) != `"roster of openqq"` || etag == "" {
		t.Fatalf("roster: %s, etag %q", first.Data, etag)
	}
	if same := ask(t, nc, "qq", "roster", nats.Header{events.HeaderIfNoneMatch: {etag}}); same.Header.Get(events.HeaderNotModified) == "" || len(same.Data) != 0 {
		t.Errorf("same version: %v %q", same.Header, same.Data)
	}
	r.e.Lock()
	changed := "changed"
	r.p.roster = &changed
	r.e.Changed()
	r.e.Unlock()
	after := ask(t, nc, "qq", "roster", nats.Header{events.HeaderIfNoneMatch: {etag}})
	if string(after.Data) != `"changed"` || after.Header.Get(events.HeaderETag) == etag {
		t.Errorf("after a change: %s, etag %q (was %q)", after.Data, after.Header.Get(events.HeaderETag), etag)
	}
}

// Two engines in one process, a QQ and a WeChat one on one connection and another on a
// connection of its own, run side by side: each serves its own service and prefix, and the
// metrics tell them apart.
func TestEnginesSideBySide(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	qq := startEngine(t, nc, "qq", "openqq", true, true)
	wx := startEngine(t, nc, "wx", "openwx", true, true)
	nc2 := natstest.Connect(t, srv)
	wx2 := startEngine(t, nc2, "wx2", "openwx", false, true)
	before := metricstest.Local(t)

	for _, c := range []struct {
		prefix, service string
		calls           int
	}{{"qq", "openqq", 1}, {"wx", "openwx", 2}, {"wx2", "openwx", 3}} {
		for range c.calls {
			var got map[string]string
			if err := json.Unmarshal(ask(t, nc, c.prefix, "whoami", nil).Data, &got); err != nil || got["service"] != c.service {
				t.Errorf("%s.api.whoami: %v %v, want the %s engine", c.prefix, got, err, c.service)
			}
		}
	}
	// Each engine's injection endpoint is its own, and served only if its driver takes them.
	for _, e := range []*running{qq, wx} {
		rep, err := nc.Request(e.e.Subjects().SimInject(), []byte(`{"content":"hi"}`), 10*time.Second)
		if err != nil {
			t.Fatalf("inject %s: %v", e.e.Subjects().Prefix, err)
		}
		var ir events.InjectReply
		if err := json.Unmarshal(rep.Data, &ir); err != nil || ir.Code != 0 || ir.ID == 0 {
			t.Errorf("inject %s: %s", e.e.Subjects().Prefix, rep.Data)
		}
		rep, err = nc.Request(e.e.Subjects().SimInject(), []byte(`{}`), 10*time.Second)
		if err != nil || !json.Valid(rep.Data) || string(rep.Data) != `{"code":-7,"status":"no content"}` {
			t.Errorf("refused injection %s: %s %v", e.e.Subjects().Prefix, rep.Data, err)
		}
	}
	if _, err := nc.Request(wx2.e.Subjects().SimInject(), []byte(`{"content":"hi"}`), time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Errorf("inject into an engine whose driver takes none: %v, want no responders", err)
	}

	after := metricstest.Local(t)
	for _, c := range []struct {
		prefix, service string
		calls           float64
	}{{"qq", "openqq", 1}, {"wx", "openwx", 2}, {"wx2", "openwx", 3}} {
		if got := metricstest.Delta(before, after, "openqq_session_calls_total", "service", c.service, "prefix", c.prefix, "route", "whoami", "code", "0"); got != c.calls {
			t.Errorf("%s calls counted %v, want %v", c.prefix, got, c.calls)
		}
		if got := after.Value("openqq_client_state", "service", c.service, "prefix", c.prefix, "state", string(events.StateRunning)); got != 1 {
			t.Errorf("%s running = %v, want 1", c.prefix, got)
		}
		if got := after.Value("openqq_client_state", "service", c.service, "prefix", c.prefix); got != 1 {
			t.Errorf("%s states sum to %v, want 1", c.prefix, got)
		}
		if !after.Has("openqq_outbox_reports", "service", c.service, "prefix", c.prefix) {
			t.Errorf("no outbox gauge for %s", c.prefix)
		}
	}
	for _, e := range []*running{qq, wx} {
		if got := metricstest.Delta(before, after, "openqq_events_published_total", "service", e.p.service, "prefix", e.e.Subjects().Prefix, "name", events.FriendMessage); got != 1 {
			t.Errorf("%s friend messages counted %v, want 1", e.e.Subjects().Prefix, got)
		}
	}
}

// stop_client stops the engine after CONTROL_DELAY, reporting the stop; relogin logs in
// again.
func TestControlRoutes(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	sub, err := nc.SubscribeSync("qq.events.>")
	if err != nil {
		t.Fatal(err)
	}
	r := startEngine(t, nc, "qq", "openqq", false, true)

	ask(t, nc, "qq", events.RouteRelogin, nil)
	deadline := time.Now().Add(10 * time.Second)
	for r.p.runs.Load() < 2 || r.e.State() != events.StateRunning {
		if time.Now().After(deadline) {
			t.Fatalf("after relogin: %d logins, state %s", r.p.runs.Load(), r.e.State())
		}
		time.Sleep(5 * time.Millisecond)
	}

	ask(t, nc, "qq", events.RouteStopClient, nil)
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("stop_client: Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stop_client: the engine did not stop")
	}
	for {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("no stop event: %v", err)
		}
		if m.Subject == "qq.events."+events.EventStop {
			break
		}
	}
}

// get_qrcode is the engine's: the image of the QR code the login waits to have scanned, its
// type told by its bytes, not cached; HTTP 404 with an empty body before there is one and
// once the account has logged in. It answers in every state.
func TestGetQRCode(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	r := startEngine(t, nc, "qq", "openqq", false, false)
	notFound := func(when string) {
		t.Helper()
		m := ask(t, nc, "qq", events.RouteGetQRCode, nil)
		if len(m.Data) != 0 || m.Header.Get(events.HeaderServiceErrorCode) != "404" || m.Header.Get(events.HeaderContentType) == "" ||
			m.Header.Get(events.HeaderCacheControl) != "no-cache" {
			t.Errorf("%s: headers %v, body %q; want a 404 with an empty body", when, m.Header, m.Data)
		}
	}
	notFound("before a QR code")

	png := []byte("\x89PNG\r\n\x1a\n a QR code")
	r.e.QRCode("/tmp/qr.png", png)
	m := ask(t, nc, "qq", events.RouteGetQRCode, nil)
	if !bytes.Equal(m.Data, png) || m.Header.Get(events.HeaderContentType) != "image/png" ||
		m.Header.Get(events.HeaderCacheControl) != "no-cache" || m.Header.Get(events.HeaderServiceErrorCode) != "" {
		t.Errorf("waiting for a scan: headers %v, body %q", m.Header, m.Data)
	}
	if got := r.e.PendingQRCode(); !bytes.Equal(got, png) {
		t.Errorf("PendingQRCode %q", got)
	}

	close(r.p.login)
	waitState(t, r.e, events.StateRunning)
	notFound("logged in")
	if got := r.e.PendingQRCode(); got != nil {
		t.Errorf("PendingQRCode after the login: %q", got)
	}
}
