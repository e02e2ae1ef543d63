package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// Ids of the default roster (services/session/driver/sim/default_roster.json).
const (
	meID          = 4072574066
	meUID         = 1234567
	friendID      = 2372835507 // 老王 (markname), a member of PERL学习交流
	friendUID     = 456789
	perlGroupID   = 2617047292 // PERL学习交流: the account is an admin
	perlGroupUID  = 67890
	devGroupID    = 2617055211 // openqq开发组 (markname 开发组): the account is the owner
	hikeGroupID   = 2617063130 // 周末爬山群: the account is a plain member
	discussID     = 4118239384 // 周末聚餐
	perlOwnerID   = 2372835507 + 16*7919
	perlAdminID   = 2372835507 + 17*7919
	perlMemberID  = 2372835507 + 19*7919 // a plain member, not a friend
	perlMemberUID = 456789 + 19*131
)

// env is one running openqq: NATS, session and gateway.
type env struct {
	t    *testing.T
	srv  *embednats.Server
	nc   *nats.Conn // the test's own connection
	base string     // http://127.0.0.1:<port>
	sess *session.Session
	http *http.Client
	api  string // the routes' path prefix: /openqq/ (when empty) or /openwx/
}

type option func(*session.Config, *gateway.Config)

// start runs a session and a gateway on a fresh NATS server and waits until the client is
// running (unless the login is slowed down by an option).
func start(t *testing.T, opts ...option) *env {
	t.Helper()
	srv := natstest.Start(t)
	e := &env{t: t, srv: srv, nc: natstest.Connect(t, srv), http: &http.Client{Timeout: 30 * time.Second}}
	scfg := session.Config{
		SubjectPrefix: "qq", Account: "default", Driver: "sim", DriverTimeout: 5 * time.Second,
		ControlDelay: 200 * time.Millisecond, LogLevel: "info",
		DriverConfig: &sim.Config{QRCodeDir: t.TempDir()},
	}
	gcfg := gateway.Config{SubjectPrefix: "qq", APITimeout: 2 * time.Second, MaxBodyBytes: 64 << 10}
	for _, o := range opts {
		o(&scfg, &gcfg)
	}
	log := natstest.Logger(t)
	ctx, cancel := context.WithCancel(context.Background())

	sessDone := make(chan error, 1)
	if scfg.Driver != "" {
		sess, err := session.New(natstest.Connect(t, srv), scfg, log)
		if err != nil {
			t.Fatal(err)
		}
		e.sess = sess
		go func() { sessDone <- sess.Run(ctx) }()
	} else {
		sessDone <- nil
	}
	gw, err := gateway.New(natstest.Connect(t, srv), gcfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range []chan error{gwDone, sessDone} {
			select {
			case err := <-c:
				if err != nil {
					t.Errorf("service ended with %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("service did not stop within 10s")
			}
		}
	})
	if c, isSim := scfg.DriverConfig.(*sim.Config); scfg.Driver != "" && (!isSim || c.LoginDelay == 0) {
		e.waitState(events.StateRunning)
	}
	return e
}

// simConfig is the simulated account's configuration in s, for options to change.
func simConfig(s *session.Config) *sim.Config {
	c, ok := s.DriverConfig.(*sim.Config)
	if !ok {
		c = &sim.Config{}
		s.DriverConfig = c
	}
	return c
}

// noSession leaves the session out: the gateway has nobody to ask.
func noSession(s *session.Config, _ *gateway.Config) { s.Driver = "" }

// waitState polls get_client_info until the client is in state st.
func (e *env) waitState(st events.State) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var info events.ClientInfo
		if code, _ := e.getJSON("get_client_info", nil, &info); code == 200 && info.State == st {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatalf("client not %s after 10s", st)
}

// do sends a request and returns the status and body.
func (e *env) do(req *http.Request) (int, []byte) {
	e.t.Helper()
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); req.Method != http.MethodOptions && ct != "application/json;charset=UTF-8" {
		e.t.Errorf("%s %s: Content-Type %q", req.Method, req.URL.Path, ct)
	}
	return resp.StatusCode, body
}

func (e *env) newRequest(method, route string, q url.Values, body io.Reader) *http.Request {
	e.t.Helper()
	api := e.api
	if api == "" {
		api = events.APIPathPrefix
	}
	u := e.base + api + route
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return req
}

// get calls a route with GET and a query string.
func (e *env) get(route string, q url.Values) (int, []byte) {
	e.t.Helper()
	return e.do(e.newRequest(http.MethodGet, route, q, nil))
}

// postForm calls a route with an x-www-form-urlencoded body.
func (e *env) postForm(route string, form url.Values) (int, []byte) {
	e.t.Helper()
	req := e.newRequest(http.MethodPost, route, nil, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// postJSON calls a route with a JSON body.
func (e *env) postJSON(route string, v any) (int, []byte) {
	e.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		e.t.Fatal(err)
	}
	req := e.newRequest(http.MethodPost, route, nil, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}

// getJSON calls a route with GET and decodes the reply into v.
func (e *env) getJSON(route string, q url.Values, v any) (int, []byte) {
	e.t.Helper()
	code, body := e.get(route, q)
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v in %s", route, err, body)
	}
	return code, body
}

// inject makes the simulated account receive a message or a roster change.
func (e *env) inject(in events.Injection) events.InjectReply {
	e.t.Helper()
	b, _ := json.Marshal(in)
	m, err := e.nc.Request(events.Subjects{}.SimInject(), b, 5*time.Second)
	if err != nil {
		e.t.Fatalf("inject: %v", err)
	}
	var r events.InjectReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		e.t.Fatalf("inject reply %s: %v", m.Data, err)
	}
	return r
}

// subscribe collects every item on subject (qq.events.* by default).
func (e *env) subscribe(subject string) *items {
	e.t.Helper()
	if subject == "" {
		subject = events.Subjects{}.Events()
	}
	it := &items{t: e.t, ch: make(chan *nats.Msg, 100_000)}
	sub, err := e.nc.ChanSubscribe(subject, it.ch)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.nc.Flush(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = sub.Unsubscribe() })
	return it
}

type items struct {
	t  *testing.T
	ch chan *nats.Msg
}

// next waits for the next item whose subject ends in name ("" for any).
func (it *items) next(name string) *nats.Msg {
	it.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-it.ch:
			if name == "" || events.EventName(m.Subject) == name {
				return m
			}
		case <-timeout:
			it.t.Fatalf("no %q item within 5s", name)
			return nil
		}
	}
}

// message waits for the next message report of type typ.
func (it *items) message(typ string) *events.Message {
	it.t.Helper()
	m := it.next(typ)
	var msg events.Message
	if err := json.Unmarshal(m.Data, &msg); err != nil {
		it.t.Fatalf("%s: %v", m.Data, err)
	}
	return &msg
}

// event waits for the next event report named name.
func (it *items) event(name string) *events.Event {
	it.t.Helper()
	m := it.next(name)
	var ev events.Event
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		it.t.Fatalf("%s: %v", m.Data, err)
	}
	return &ev
}

// decode decodes JSON or fails the test.
func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
