package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// testQRCode stands for a QR code image: what get_qrcode's bytes reply carries.
var testQRCode = []byte("\x89PNG\r\n\x1a\nnot really a png")

// startController runs a minimal Controller on prefix's Controller subjects: a real NATS micro
// service with an endpoint per Controller route, as the session hosts serve them, in one queue
// group. Each route echoes what it got (its subject and parameters, as the test session does);
// get_qrcode answers testQRCode for client=waiting and 404 with no body for any other client.
// Given known accounts, check_client?client=NAME of any other name answers Mojo's "client not
// exists".
func startController(t *testing.T, nc *nats.Conn, prefix string, known ...string) {
	t.Helper()
	subj := events.Subjects{Prefix: prefix}
	svc, err := micro.AddService(nc, micro.Config{Name: "openqq_controller_test", Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	g := svc.AddGroup(subj.ControllerGroup())
	for _, route := range events.ControllerRoutes {
		err := g.AddEndpoint(route, micro.HandlerFunc(func(req micro.Request) {
			var p map[string]string
			_ = json.Unmarshal(req.Data(), &p)
			if route == events.RouteGetQRCode {
				h := micro.Headers{events.HeaderContentType: {"image/png"}, events.HeaderCacheControl: {"no-cache"}}
				if p[events.ParamClient] == "waiting" {
					_ = req.Respond(testQRCode, micro.WithHeaders(h))
				} else {
					_ = req.Error("404", "no qrcode", nil, micro.WithHeaders(h))
				}
				return
			}
			if c := p[events.ParamClient]; route == events.RouteCheckClient && known != nil && c != "" && !slices.Contains(known, c) {
				_ = req.RespondJSON(events.ErrClientNotExists)
				return
			}
			_ = req.RespondJSON(received{Subject: req.Subject(), Params: p})
		}))
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil { // the server has the subscriptions: the routes answer
		t.Fatal(err)
	}
}

// A route with client=NAME is that account's, on <prefix>.api.NAME.<route>; without it (or with
// an empty one, or client=default) the default account's, as before; the Controller's routes go
// to <prefix>.controller.<route>, but stop_client without client= is the default account's own.
func TestClientRouting(t *testing.T) {
	e := startEnv(t, Config{}, false)
	e.subscribe(t, natstest.Connect(t, e.srv), "wx.api.>")
	startController(t, natstest.Connect(t, e.srv), "qq")
	startController(t, natstest.Connect(t, e.srv), "wx")
	const form, jsonCT = "application/x-www-form-urlencoded", "application/json"
	for _, tc := range []struct {
		name         string
		method, path string
		query        string
		ct, body     string
		subject      string
		client       string // the client parameter the responder must get ("": none)
	}{
		{"default account", "GET", "/openqq/get_user_info", "", "", "", "qq.api.get_user_info", ""},
		{"named account", "GET", "/openqq/get_user_info", "client=alice", "", "", "qq.api.alice.get_user_info", "alice"},
		{"client=default", "GET", "/openqq/get_user_info", "client=default", "", "", "qq.api.get_user_info", "default"},
		{"empty client= is none", "GET", "/openqq/get_user_info", "client=", "", "", "qq.api.get_user_info", ""},
		{"client in a JSON body", "POST", "/openqq/send_friend_message", "", jsonCT, `{"client":"bob","id":"1","content":"hi"}`, "qq.api.bob.send_friend_message", "bob"},
		{"client in a form body", "POST", "/openqq/send_friend_message", "", form, "client=bob&id=1&content=hi", "qq.api.bob.send_friend_message", "bob"},
		{"the body wins over the query", "POST", "/openqq/send_friend_message", "client=alice", form, "client=bob", "qq.api.bob.send_friend_message", "bob"},
		{"openwx named account", "GET", "/openwx/get_user_info", "client=alice", "", "", "wx.api.alice.get_user_info", "alice"},
		{"openwx default account", "GET", "/openwx/get_user_info", "", "", "", "wx.api.get_user_info", ""},
		{"start_client", "GET", "/openqq/start_client", "client=alice&driver=sim", "", "", "qq.controller.start_client", "alice"},
		{"start_client without client", "GET", "/openqq/start_client", "", "", "", "qq.controller.start_client", ""},
		{"check_client, all", "GET", "/openqq/check_client", "", "", "", "qq.controller.check_client", ""},
		{"check_client, one", "GET", "/openqq/check_client", "client=alice", "", "", "qq.controller.check_client", "alice"},
		{"stop_client of an account", "GET", "/openqq/stop_client", "client=alice", "", "", "qq.controller.stop_client", "alice"},
		{"stop_client of client=default", "GET", "/openqq/stop_client", "client=default", "", "", "qq.controller.stop_client", "default"},
		{"stop_client without client", "GET", "/openqq/stop_client", "", "", "", "qq.api.stop_client", ""},
		{"POST stop_client without client", "POST", "/openqq/stop_client", "", form, "", "qq.api.stop_client", ""},
		{"openwx start_client", "GET", "/openwx/start_client", "client=w1", "", "", "wx.controller.start_client", "w1"},
		{"openwx stop_client without client", "GET", "/openwx/stop_client", "", "", "", "wx.api.stop_client", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := call{method: tc.method, path: tc.path, query: tc.query, ct: tc.ct}
			if tc.body != "" {
				c.body = []byte(tc.body)
			}
			echo := decodeEcho(t, e.do(t, c))
			if echo.Subject != tc.subject {
				t.Errorf("reached %s, want %s", echo.Subject, tc.subject)
			}
			if got, ok := echo.Params[events.ParamClient]; got != tc.client || ok != (tc.client != "") {
				t.Errorf("client parameter %q (given: %v), want %q", got, ok, tc.client)
			}
		})
	}
}

// A client name that is no safe subject token is refused with -7 before anything crosses NATS;
// the Controller's routes are GET only (a POST gets the catch-all 403, as Openwx's GET-only
// routes do).
func TestClientRefused(t *testing.T) {
	e := startEnv(t, Config{}, false)
	startController(t, natstest.Connect(t, e.srv), "qq")
	startController(t, natstest.Connect(t, e.srv), "wx")
	long := strings.Repeat("a", events.ClientMaxLen+1)
	for _, tc := range []struct {
		name, method, path, query, body, client string
	}{
		{"dot", "GET", "/openqq/get_user_info", "client=a.b", "", "a.b"},
		{"star", "GET", "/openqq/get_user_info", "client=*", "", "*"},
		{"greater", "GET", "/openqq/get_user_info", "client=%3E", "", ">"},
		{"space", "GET", "/openqq/get_user_info", "client=a%20b", "", "a b"},
		{"too long", "GET", "/openqq/get_user_info", "client=" + long, "", long},
		{"not ASCII", "GET", "/openqq/get_user_info", "client=" + url.QueryEscape("小灰"), "", "小灰"},
		{"JSON body", "POST", "/openqq/get_user_info", "", `{"client":"x y"}`, "x y"},
		{"start_client", "GET", "/openqq/start_client", "client=a.b", "", "a.b"},
		{"get_qrcode", "GET", "/openqq/get_qrcode", "client=%2A", "", "*"},
		{"openwx", "GET", "/openwx/get_user_info", "client=a.b", "", "a.b"},
		{"check_event", "GET", "/openqq/check_event", "client=a.>", "", "a.>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rid := "refused-" + tc.name
			c := call{method: tc.method, path: tc.path, query: tc.query + "&rid=" + url.QueryEscape(rid)}
			if tc.body != "" {
				c.body, c.ct = []byte(tc.body), "application/json"
			}
			wantStatus(t, e.do(t, c), events.ErrBadClient(tc.client))
			if _, ok := e.receivedBy(rid); ok {
				t.Error("the call reached a session")
			}
		})
	}
	for _, tc := range []struct{ path, query string }{
		{"/openqq/start_client", "client=alice"},
		{"/openqq/check_client", ""},
		{"/openqq/get_qrcode", "client=alice"},
		{"/openqq/stop_client", "client=alice"},
	} {
		t.Run("POST "+tc.path+"?"+tc.query, func(t *testing.T) {
			wantStatus(t, e.do(t, call{method: http.MethodPost, path: tc.path, query: tc.query, ct: "application/x-www-form-urlencoded"}), events.ErrAPINotFound)
		})
	}
	a := e.doRaw(t, call{method: http.MethodPost, path: "/openwx/start_client", query: "client=alice"})
	if a.status != http.StatusForbidden || string(a.body) != "api not found" {
		t.Errorf("POST /openwx/start_client: %d %q, want Openwx's 403 text", a.status, a.body)
	}
}

// A named account nobody answers for: Mojo's code 1 "client not exists" when the Controller
// has no such account, the default -3 when it has one (started, not running now) or when no
// Controller answers. The metrics count the calls by account, with names of no account as
// "unknown".
func TestClientNotExists(t *testing.T) {
	e := startEnv(t, Config{}, true)
	get := func(path, query string) answer { return e.do(t, call{path: path, query: query}) }
	// No Controller: nobody can tell.
	wantStatus(t, get("/openqq/get_user_info", "client=ghost"), events.ErrUnavailable)

	startController(t, natstest.Connect(t, e.srv), "qq", "sleepy")
	startController(t, natstest.Connect(t, e.srv), "wx", "sleepy")
	unknown := testutil.ToFloat64(apiClientRequests.WithLabelValues(routeUnknown, "200"))
	sleepy := testutil.ToFloat64(apiClientRequests.WithLabelValues("sleepy", "503"))
	wantStatus(t, get("/openqq/get_user_info", "client=ghost"), events.ErrClientNotExists)
	wantStatus(t, get("/openwx/get_user_info", "client=ghost"), events.ErrClientNotExists)
	wantStatus(t, get("/openqq/get_user_info", "client=sleepy"), events.ErrUnavailable)
	wantStatus(t, get("/openwx/get_user_info", "client=sleepy"), events.ErrUnavailable)
	// The default account is never looked up: today's -3.
	wantStatus(t, get("/openqq/get_user_info", ""), events.ErrUnavailable)
	wantStatus(t, get("/openqq/get_user_info", "client=default"), events.ErrUnavailable)
	if got := testutil.ToFloat64(apiClientRequests.WithLabelValues(routeUnknown, "200")); got != unknown+1 {
		t.Errorf("api_client_requests_total{client=unknown}: %v, want %v", got, unknown+1)
	}
	if got := testutil.ToFloat64(apiClientRequests.WithLabelValues("sleepy", "503")); got != sleepy+1 {
		t.Errorf("api_client_requests_total{client=sleepy,code=503}: %v, want %v", got, sleepy+1)
	}
}

// check_event with client= long-polls that account, and releases its ticket on that account's
// release subject.
func TestCheckEventForClient(t *testing.T) {
	e := startEnv(t, Config{CheckEventHold: 200 * time.Millisecond}, false)
	nc := natstest.Connect(t, e.srv)
	releases := make(chan string, 16)
	subj := events.Subjects{Prefix: "qq", Client: "alice"}.CheckEventRelease()
	if subj != "qq.api.alice.check_event.release" {
		t.Fatalf("release subject %s", subj)
	}
	if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
		var r events.CheckEventRelease
		if err := json.Unmarshal(m.Data, &r); err == nil && r.Delivered {
			releases <- r.Ticket
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	echo := decodeEcho(t, e.do(t, call{path: "/openqq/check_event", query: "client=alice"}))
	if echo.Subject != "qq.api.alice.check_event" || echo.Ticket == "" {
		t.Fatalf("session got %+v", echo)
	}
	select {
	case ticket := <-releases:
		if ticket != echo.Ticket {
			t.Errorf("released %q, want %q", ticket, echo.Ticket)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no release on alice's release subject")
	}
}

// Each account's large get_*_info replies are kept apart: two accounts whose sessions name their
// versions alike never get each other's roster.
func TestReplyCacheByClient(t *testing.T) {
	e := startEnv(t, Config{}, true)
	alice := &versionedSession{version: 1, size: 100 << 10, subject: "qq.api.alice.get_group_info"}
	bob := &versionedSession{version: 1, size: 120 << 10, subject: "qq.api.bob.get_group_info"}
	alice.serve(t, natstest.Connect(t, e.srv))
	bob.serve(t, natstest.Connect(t, e.srv))
	for range 2 {
		if got := e.getBody(t, "/openqq/get_group_info?client=alice"); !bytes.Equal(got, alice.body(1)) {
			t.Fatalf("alice got %d bytes, want her %d", len(got), len(alice.body(1)))
		}
		if got := e.getBody(t, "/openqq/get_group_info?client=bob"); !bytes.Equal(got, bob.body(1)) {
			t.Fatalf("bob got %d bytes, want his %d", len(got), len(bob.body(1)))
		}
	}
	// The second round was answered from each account's kept reply.
	if alice.notModified.Load() != 1 || bob.notModified.Load() != 1 {
		t.Errorf("not-modified answers: alice %d, bob %d, want 1 each", alice.notModified.Load(), bob.notModified.Load())
	}
}

// The event streams follow one account with client=; without it, the default account's items
// (every route without client= is the default account's).
func TestStreamForClient(t *testing.T) {
	e := startStream(t, Config{}, false, nil)
	publish := func(subject, data string) stored {
		ack, err := e.js.Publish(context.Background(), subject, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return stored{ack.Sequence, events.EventName(subject), data}
	}
	all := e.open("")
	alice := e.open("client=alice")
	aliceGroups := e.open("client=alice&filter=group_message")
	aliceWS := e.dialWS("client=alice", nil)
	def := publish("qq.events.group_message", `{"n":"default"}`)
	bobs := publish("qq.events.bob.group_message", `{"n":"bob"}`)
	a1 := publish("qq.events.alice.friend_message", `{"n":"alice 1"}`)
	a2 := publish("qq.events.alice.group_message", `{"n":"alice 2"}`)
	_ = bobs
	all.want([]stored{def})
	alice.want([]stored{a1, a2})
	aliceGroups.want([]stored{a2})
	aliceWS.want([]stored{a1, a2})
	// replay=last with client= starts with that account's latest items only.
	replay := e.open("client=alice&replay=last")
	replay.want([]stored{a1, a2})
	last := publish("qq.events.group_message", `{"n":"default 2"}`)
	all.want([]stored{last})

	resp := e.get(pathEvents, "client=a.b")
	wantStatus(t, readAnswer(t, resp), events.ErrBadClient("a.b"))
}

// get_qrcode answers the image's bytes with the Controller's type and Cache-Control, and 404
// with no body when there is none.
func TestGetQRCode(t *testing.T) {
	e := startEnv(t, Config{}, true)
	startController(t, natstest.Connect(t, e.srv), "qq")
	a := e.doRaw(t, call{path: "/openqq/get_qrcode", query: "client=waiting"})
	if a.status != http.StatusOK || !bytes.Equal(a.body, testQRCode) || a.header.Get("Content-Type") != "image/png" ||
		a.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("get_qrcode: %d %q %q %q", a.status, a.header.Get("Content-Type"), a.header.Get("Cache-Control"), a.body)
	}
	a = e.doRaw(t, call{path: "/openqq/get_qrcode", query: "client=running"})
	if a.status != http.StatusNotFound || len(a.body) != 0 {
		t.Errorf("get_qrcode without a QR code: %d %q, want 404 and no body", a.status, a.body)
	}
}

// syncBuffer is a log destination the test reads while the gateway writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start_client's settings reach the Controller as given, a token among them, and the gateway's
// log never shows them.
func TestControllerParamsNotLogged(t *testing.T) {
	srv := natstest.Start(t)
	startController(t, natstest.Connect(t, srv), "qq")
	var logs syncBuffer
	g, err := New(natstest.Connect(t, srv), withDefaults(Config{}), slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- g.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	const secret = "s3cr3t-onebot-token"
	q := url.Values{"client": {"alice"}, "driver": {"onebot"}, "onebot_url": {"ws://127.0.0.1:1"}, "onebot_access_token": {secret}}
	for _, path := range []string{"/openqq/start_client", "/openqq/get_user_info"} {
		resp, err := http.Get("http://" + ln.Addr().String() + path + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var echo received
		err = json.NewDecoder(resp.Body).Decode(&echo)
		resp.Body.Close()
		if path == "/openqq/start_client" && (err != nil || echo.Params["onebot_access_token"] != secret || echo.Params["driver"] != "onebot") {
			t.Errorf("the Controller got %+v (%v), want every setting as given", echo, err)
		}
	}
	if out := logs.String(); strings.Contains(out, secret) || !strings.Contains(out, "start_client") {
		t.Errorf("the log shows the secret, or not the call:\n%s", out)
	}
}

// FuzzClientParam: whatever client= holds, the gateway either names no account, names one whose
// subjects are one token deeper than the default account's, or refuses with -7; never a subject
// with a wildcard or an extra token.
func FuzzClientParam(f *testing.F) {
	for _, s := range []string{"", "alice", "default", "a.b", "*", ">", "a b", "小灰", "a\x00b", "a\nb",
		strings.Repeat("x", events.ClientMaxLen), strings.Repeat("x", events.ClientMaxLen+1), "-_-", "qq.api", "%2A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, st := clientParam(events.Params{events.ParamClient: s})
		switch {
		case st != nil:
			if st.Code != events.CodeBadRequest || s == "" || events.ValidClient(s) {
				t.Fatalf("%q refused with %+v", s, st)
			}
		case s == "":
			if name != "" {
				t.Fatalf("empty client= named %q", name)
			}
		default:
			if name != s || !events.ValidClient(name) {
				t.Fatalf("%q read as %q", s, name)
			}
			subj := events.Subjects{Prefix: "qq", Client: name}.API("get_user_info")
			if strings.ContainsAny(subj, "*> \t\r\n") || (!events.IsDefaultClient(name) && strings.Count(subj, ".") != 3) {
				t.Fatalf("%q gives the subject %q", s, subj)
			}
		}
	})
}

// An upload for a client= that is no name, or that no session answers, is refused, and the
// media it carried is not kept.
func TestUploadForBadClientStoresNothing(t *testing.T) {
	cfg := Config{}
	cfg.Config.MaxBytes = 10_000
	e := startWx(t, cfg)
	_, js := wxStore(t, e)
	for _, tc := range []struct {
		client string
		want   *events.Status
	}{
		{"a.b", events.ErrBadClient("a.b")},
		{"ghost", events.ErrUnavailable}, // no Controller to ask: -3
	} {
		ct, body := multipartBody(t, part{name: "media", value: "hello " + tc.client, file: true})
		a := e.do(t, call{method: http.MethodPost, path: "/openwx/upload_media", query: "client=" + url.QueryEscape(tc.client), ct: ct, body: body})
		wantStatus(t, a, tc.want)
	}
	if n := storedCount(t, js); n != 0 {
		t.Errorf("%d media kept for refused calls", n)
	}
}
