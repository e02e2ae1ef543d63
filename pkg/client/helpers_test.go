package client_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
)

// startNATS starts a NATS server with JetStream on a free loopback port, for the test.
func startNATS(t testing.TB) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10e9) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t testing.TB, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// answer is what the test session answers a route with: a body, sent as a micro error with
// the HTTP status httpStatus and the API code code when httpStatus is not 0, as the real
// session does; never answers when hang is set.
type answer struct {
	body       string
	httpStatus int
	code       int
	hang       bool
	header     micro.Headers
}

// request is what the test session was asked.
type request struct {
	route  string
	params events.Params
	header micro.Headers
}

// testSession answers every route of the API as the real session's micro service would,
// with the replies it is given: a NATS server and a responder, no mock of either.
type testSession struct {
	mu      sync.Mutex
	answers map[string]answer
	got     []request
	release chan events.CheckEventRelease
}

func startSession(t testing.TB, nc *nats.Conn, prefix string) *testSession {
	t.Helper()
	ts := &testSession{answers: map[string]answer{}, release: make(chan events.CheckEventRelease, 16)}
	svc, err := micro.AddService(nc, micro.Config{Name: events.ServiceName, Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	subj := events.Subjects{Prefix: prefix}
	g := svc.AddGroup(subj.APIGroup())
	for _, route := range events.Routes {
		if err := g.AddEndpoint(route, micro.HandlerFunc(func(req micro.Request) { ts.handle(route, req) })); err != nil {
			t.Fatal(err)
		}
	}
	err = g.AddEndpoint(events.EndpointCheckEventRelease, micro.HandlerFunc(func(req micro.Request) {
		var r events.CheckEventRelease
		_ = json.Unmarshal(req.Data(), &r)
		ts.release <- r
	}), micro.WithEndpointSubject(events.CheckEventReleaseSubject))
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *testSession) set(route string, a answer) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.answers[route] = a
}

func (ts *testSession) last(t testing.TB) request {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.got) == 0 {
		t.Fatal("the session was asked nothing")
	}
	return ts.got[len(ts.got)-1]
}

func (ts *testSession) handle(route string, req micro.Request) {
	p, err := events.DecodeParams(req.Data())
	if err != nil {
		_ = req.Error("400", strconv.Itoa(events.CodeBadRequest), events.MustMarshal(events.ErrBadRequest("%v", err)))
		return
	}
	ts.mu.Lock()
	ts.got = append(ts.got, request{route: route, params: p, header: req.Headers()})
	a, ok := ts.answers[route]
	ts.mu.Unlock()
	switch {
	case !ok:
		_ = req.Respond(events.MustMarshal(events.StatusSuccess))
	case a.hang:
	case a.httpStatus != 0:
		_ = req.Error(strconv.Itoa(a.httpStatus), strconv.Itoa(a.code), []byte(a.body))
	default:
		_ = req.Respond([]byte(a.body), micro.WithHeaders(a.header))
	}
}

// publish publishes an item on its subject, as the session does.
func publish(t testing.TB, nc *nats.Conn, subj events.Subjects, it events.Item) {
	t.Helper()
	if err := nc.Publish(subj.Event(it.Name()), events.MustMarshal(it)); err != nil {
		t.Fatal(err)
	}
}

func groupMessage(id int64, content string) *events.Message {
	return &events.Message{
		Class: events.ClassRecv, Content: content, ID: id, PostType: events.PostReceiveMessage, Time: 1700000000,
		Type:     events.GroupMessage,
		Sender:   &events.Sender{Name: "老王", ID: 2372835507, UID: 3072574066},
		Receiver: &events.Receiver{Name: "小灰", ID: 4072574066, UID: 4072574066},
		GroupRef: &events.GroupRef{Name: "PERL学习交流", ID: 2617047292, UID: 67890},
	}
}

func ctxOf(t testing.TB) context.Context { return t.Context() }
