package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session"
	// Every driver the binaries offer: start_client opens the account's to check its settings.
	_ "github.com/openqq/openqq/services/session/drivers"
)

// rig is a NATS server with the Controllers of the test on it.
type rig struct {
	t    *testing.T
	srv  *embednats.Server
	nc   *nats.Conn
	subj events.Subjects
	base session.Config
}

func newRig(t *testing.T, platform string) *rig {
	t.Helper()
	srv := natstest.Start(t)
	base := session.Config{Platform: platform}.Filled()
	return &rig{t: t, srv: srv, nc: natstest.Connect(t, srv), subj: events.Subjects{Prefix: base.SubjectPrefix}, base: base}
}

// controller starts a Controller on a connection of its own (a session host of its own)
// until the test ends, logging into log if not nil.
func (r *rig) controller(maxClients int, log *slog.Logger) *Controller {
	r.t.Helper()
	if log == nil {
		log = natstest.Logger(r.t)
	}
	c, err := New(natstest.Connect(r.t, r.srv), Config{MaxClients: maxClients, Session: r.base, Host: "test-host"}, log)
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx) }()
	r.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("Serve: %v", err)
		}
	})
	select {
	case <-c.Ready():
	case err := <-done:
		r.t.Fatalf("Serve: %v", err)
	}
	return c
}

// call sends one Controller call and returns the reply.
func (r *rig) call(route string, p events.Params) *nats.Msg {
	r.t.Helper()
	data, err := json.Marshal(p)
	if err != nil {
		r.t.Fatal(err)
	}
	m, err := r.nc.Request(r.subj.Controller(route), data, 20*time.Second)
	if err != nil {
		r.t.Fatalf("%s %v: %v", route, p, err)
	}
	return m
}

// object is a reply decoded as a JSON object.
func object(t *testing.T, m *nats.Msg) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(m.Data, &out); err != nil {
		t.Fatalf("reply %q: %v", m.Data, err)
	}
	return out
}

// code is a reply's code (a JSON number).
func code(t *testing.T, m *nats.Msg) int {
	t.Helper()
	c, ok := object(t, m)["code"].(float64)
	if !ok {
		t.Fatalf("reply without a code: %s", m.Data)
	}
	return int(c)
}

func (r *rig) clients() jetstream.KeyValue {
	r.t.Helper()
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), r.subj.ClientsBucket())
	if err != nil {
		r.t.Fatal(err)
	}
	return kv
}

// keys are the clients in the bucket.
func (r *rig) keys() []string {
	r.t.Helper()
	entries, err := snapshot(context.Background(), r.clients(), jetstream.MetaOnly())
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Key())
	}
	slices.Sort(out)
	return out
}

// spec is client's ClientSpec as stored.
func (r *rig) spec(client string) events.ClientSpec {
	r.t.Helper()
	e, err := r.clients().Get(context.Background(), client)
	if err != nil {
		r.t.Fatalf("spec of %s: %v", client, err)
	}
	var spec events.ClientSpec
	if err := json.Unmarshal(e.Value(), &spec); err != nil {
		r.t.Fatal(err)
	}
	return spec
}

// lease puts a lease in the leases bucket, as the host running client would.
func (r *rig) lease(l events.ClientLease) {
	r.t.Helper()
	js, err := jetstream.New(r.nc)
	if err != nil {
		r.t.Fatal(err)
	}
	kv, err := js.CreateOrUpdateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: r.subj.LeasesBucket(), TTL: time.Hour})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), l.Client, events.MustMarshal(l)); err != nil {
		r.t.Fatal(err)
	}
}

// The routes of both platforms, with Mojo's codes and shapes: start, start again, check
// (without a lease, then with one), stop, stop again.
func TestRoutes(t *testing.T) {
	for _, c := range []struct {
		platform, service, roster string
	}{
		{"qq", "openqq-controller", "sim_roster"},
		{"wx", "openwx-controller", "wx_sim_roster"},
	} {
		t.Run(c.platform, func(t *testing.T) {
			r := newRig(t, c.platform)
			ctl := r.controller(0, nil)
			if got := ctl.ServiceName(); got != c.service {
				t.Errorf("service %q, want %q", got, c.service)
			}

			got := object(t, r.call(events.RouteStartClient, events.Params{"client": "alice", "send_burst": "3", "post_api": "http://127.0.0.1:9/post"}))
			for k, want := range map[string]any{"client": "alice", "account": "alice", "code": 0.0, "status": "success",
				"send_burst": "3", "post_api": "http://127.0.0.1:9/post"} {
				if got[k] != want {
					t.Errorf("start: %s = %v, want %v (reply %v)", k, got[k], want, got)
				}
			}
			if st, ok := got["start_time"].(float64); !ok || st <= 0 {
				t.Errorf("start: start_time %v", got["start_time"])
			}
			spec := r.spec("alice")
			if spec.Source != events.SourceController || spec.Settings["SEND_BURST"] != "3" || spec.Settings["POST_API"] != "http://127.0.0.1:9/post" {
				t.Errorf("stored %+v", spec)
			}

			again := object(t, r.call(events.RouteStartClient, events.Params{"client": "alice", "send_burst": "9"}))
			if again["code"] != 0.0 || again["status"] != events.StatusClientExists || again["send_burst"] != "3" {
				t.Errorf("start again: %v", again)
			}

			list := r.checkList(events.Params{})
			if len(list) != 1 || list[0]["client"] != "alice" || list[0]["state"] != string(StateNoLease) || list[0]["host"] != "" ||
				list[0]["driver"] != "sim" || list[0]["source"] != events.SourceController || list[0]["send_burst"] != "3" {
				t.Errorf("check without a lease: %v", list)
			}
			r.lease(events.ClientLease{Client: "alice", Host: "h1", PID: 4242, State: events.StateRunning, PreviousState: events.StateUpdating, Since: 1700000000})
			one := r.checkList(events.Params{"client": "alice"})
			if len(one) != 1 || one[0]["state"] != "running" || one[0]["previous_state"] != "updating" || one[0]["host"] != "h1" ||
				one[0]["pid"] != 4242.0 || one[0]["since"] != 1700000000.0 || one[0]["version"] != session.Version {
				t.Errorf("check with a lease: %v", one)
			}

			stop := object(t, r.call(events.RouteStopClient, events.Params{"client": "alice"}))
			if stop["code"] != 0.0 || stop["status"] != "success" || stop["client"] != "alice" || stop["send_burst"] != "3" {
				t.Errorf("stop: %v", stop)
			}
			if keys := r.keys(); len(keys) != 0 {
				t.Errorf("after stop the bucket holds %v", keys)
			}
			for _, route := range []string{events.RouteStopClient, events.RouteCheckClient, events.RouteGetQRCode} {
				if m := r.call(route, events.Params{"client": "alice"}); string(m.Data) != `{"code":1,"status":"client not exists"}` {
					t.Errorf("%s of a stopped client: %s", route, m.Data)
				}
			}
			if m := r.call(events.RouteCheckClient, events.Params{}); string(m.Data) != `{"code":0,"client":[]}` {
				t.Errorf("check of none: %s", m.Data)
			}

			// The roster setting of the platform's sim driver is the account's own.
			got = object(t, r.call(events.RouteStartClient, events.Params{"client": "bob", c.roster: "/no/such/roster.json"}))
			if got["code"] != float64(events.CodeBadRequest) || !strings.Contains(fmt.Sprint(got["status"]), "/no/such/roster.json") {
				t.Errorf("a roster that does not read: %v", got)
			}
		})
	}
}

// checkList is check_client's list.
func (r *rig) checkList(p events.Params) []map[string]any {
	r.t.Helper()
	m := r.call(events.RouteCheckClient, p)
	var rep CheckReply
	if err := json.Unmarshal(m.Data, &rep); err != nil || rep.Code != 0 {
		r.t.Fatalf("check_client %v: %s %v", p, m.Data, err)
	}
	return rep.Client
}

// Bad input gets a clear JSON error with a non-zero code, and nothing is stored.
func TestBadInput(t *testing.T) {
	r := newRig(t, "qq")
	r.controller(0, nil)
	wx := newRig(t, "wx")
	wx.controller(0, nil)
	for _, c := range []struct {
		name   string
		rig    *rig
		route  string
		p      events.Params
		code   int
		status string // a part of the status
	}{
		{"start without client", r, events.RouteStartClient, events.Params{"driver": "sim"}, events.CodeClient, "client not found"},
		{"start with client empty", r, events.RouteStartClient, events.Params{"client": ""}, events.CodeClient, "client not found"},
		{"stop without client", r, events.RouteStopClient, events.Params{}, events.CodeClient, "client not found"},
		{"qrcode without client", r, events.RouteGetQRCode, events.Params{}, events.CodeClient, "client not found"},
		{"a dotted name", r, events.RouteStartClient, events.Params{"client": "a.b"}, events.CodeBadRequest, "not a valid name"},
		{"a wildcard", r, events.RouteStopClient, events.Params{"client": "*"}, events.CodeBadRequest, "not a valid name"},
		{"a space", r, events.RouteCheckClient, events.Params{"client": "a b"}, events.CodeBadRequest, "not a valid name"},
		{"too long", r, events.RouteGetQRCode, events.Params{"client": strings.Repeat("x", events.ClientMaxLen+1)}, events.CodeBadRequest, "not a valid name"},
		{"unknown client", r, events.RouteCheckClient, events.Params{"client": "nobody"}, events.CodeClient, "client not exists"},
		{"unknown driver", r, events.RouteStartClient, events.Params{"client": "a", "driver": "nope"}, events.CodeBadRequest, `unknown DRIVER "nope"`},
		{"onebot without its URL", r, events.RouteStartClient, events.Params{"client": "a", "driver": "onebot"}, events.CodeBadRequest, "ONEBOT_URL"},
		{"onebot URL not ws", r, events.RouteStartClient, events.Params{"client": "a", "driver": "onebot", "onebot_url": "ftp://x"}, events.CodeBadRequest, "ONEBOT_URL"},
		{"wechaty without its endpoint", wx, events.RouteStartClient, events.Params{"client": "a", "driver": "wechaty"}, events.CodeBadRequest, "WECHATY_ENDPOINT"},
		{"wechaty without its token", wx, events.RouteStartClient, events.Params{"client": "a", "driver": "wechaty", "wechaty_endpoint": "127.0.0.1:1"}, events.CodeBadRequest, "WECHATY_TOKEN"},
		{"a QQ driver on WeChat", wx, events.RouteStartClient, events.Params{"client": "a", "driver": "onebot"}, events.CodeBadRequest, `unknown DRIVER "onebot"`},
		{"a value that does not parse", r, events.RouteStartClient, events.Params{"client": "a", "send_interval": "soon"}, events.CodeBadRequest, "SEND_INTERVAL"},
		{"a driver value that does not parse", r, events.RouteStartClient, events.Params{"client": "a", "sim_login_delay": "soon"}, events.CodeBadRequest, "SIM_LOGIN_DELAY"},
		{"a host setting", r, events.RouteStartClient, events.Params{"client": "a", "subject_prefix": "zz"}, events.CodeBadRequest, "SUBJECT_PREFIX is the host's"},
		{"a host stream setting", r, events.RouteStartClient, events.Params{"client": "a", "stream_max_age": "1h"}, events.CodeBadRequest, "host's"},
		{"one setting twice", r, events.RouteStartClient, events.Params{"client": "a", "post_api": "http://x/1", "POST_API": "http://x/2"}, events.CodeBadRequest, "same setting POST_API"},
		{"another account", r, events.RouteStartClient, events.Params{"client": "a", "account": "b"}, events.CodeBadRequest, "named by its client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := c.rig.call(c.route, c.p)
			got := object(t, m)
			if got["code"] != float64(c.code) || !strings.Contains(fmt.Sprint(got["status"]), c.status) {
				t.Errorf("reply %s, want code %d and %q", m.Data, c.code, c.status)
			}
			if want := fmt.Sprint(events.HTTPStatus(c.code)); want != "200" && m.Header.Get(micro.ErrorCodeHeader) != want {
				t.Errorf("HTTP status %q, want %s", m.Header.Get(micro.ErrorCodeHeader), want)
			}
		})
	}
	if keys := r.keys(); len(keys) != 0 {
		t.Errorf("refused starts stored %v", keys)
	}
	if keys := wx.keys(); len(keys) != 0 {
		t.Errorf("refused starts stored %v", keys)
	}
	// A body that is not parameters at all.
	m, err := r.nc.Request(r.subj.Controller(events.RouteStartClient), []byte("not json"), 10*time.Second)
	if err != nil || code(t, m) != events.CodeBadRequest {
		t.Errorf("a body that is not JSON: %v %v", m, err)
	}
}

// Settings that are secrets are stored as given, shown "***" in every reply, and logged
// nowhere; a URL's credentials and query values are masked too. Settings no part of the
// account uses are named in the reply and left out of the bucket; account=<client> is
// Mojo's and accepted.
func TestSecretsAndUnknownSettings(t *testing.T) {
	r := newRig(t, "qq")
	var logs bytes.Buffer
	var mu sync.Mutex
	r.controller(0, slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})))

	const token, inURL = "tok-s3cret", "url-s3cret"
	p := events.Params{
		"client": "bot1", "account": "bot1", "driver": "onebot",
		"onebot_url": "ws://127.0.0.1:1/?access_token=" + inURL, "onebot_access_token": token,
		"login_type": "login", "pwd": "abc", "_": "12345", "datatype": "json",
	}
	m := r.call(events.RouteStartClient, p)
	got := object(t, m)
	if got["code"] != 0.0 || got["onebot_access_token"] != "***" || got["onebot_url"] != "ws://127.0.0.1:1/?access_token=***" {
		t.Errorf("start: %s", m.Data)
	}
	if ign, _ := json.Marshal(got["ignored"]); string(ign) != `["login_type","pwd"]` {
		t.Errorf("ignored %s, want login_type and pwd", ign)
	}
	for _, k := range []string{"login_type", "pwd", "_", "datatype"} {
		if _, ok := got[k]; ok {
			t.Errorf("reply echoes %s: %s", k, m.Data)
		}
	}
	spec := r.spec("bot1")
	if spec.Settings["ONEBOT_ACCESS_TOKEN"] != token || spec.Settings["ONEBOT_URL"] != p["onebot_url"] || len(spec.Settings) != 3 {
		t.Errorf("stored settings %v, want DRIVER, ONEBOT_URL and ONEBOT_ACCESS_TOKEN as given", spec.Settings)
	}
	for _, route := range []string{events.RouteStartClient, events.RouteCheckClient, events.RouteStopClient} {
		m := r.call(route, events.Params{"client": "bot1"})
		if bytes.Contains(m.Data, []byte("s3cret")) || !bytes.Contains(m.Data, []byte(`"onebot_access_token":"***"`)) {
			t.Errorf("%s shows %s", route, m.Data)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Contains(logs.String(), "s3cret") || !strings.Contains(logs.String(), "LOGIN_TYPE") {
		t.Errorf("the log shows a secret, or not the ignored settings:\n%s", logs.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// MAX_CLIENTS accounts exist, not one more (Mojo allowed max+1); the default account does
// not count.
func TestMaxClients(t *testing.T) {
	r := newRig(t, "qq")
	r.controller(2, nil)
	for _, c := range []struct {
		client string
		code   int
		status string
	}{
		{"a", 0, "success"},
		{"b", 0, "success"},
		{"c", events.CodeMaxClients, "max clients exceed"},
		{"a", 0, events.StatusClientExists},
		{events.DefaultClient, 0, "success"},
	} {
		got := object(t, r.call(events.RouteStartClient, events.Params{"client": c.client}))
		if got["code"] != float64(c.code) || got["status"] != c.status {
			t.Errorf("start %s: %v, want %d %q", c.client, got, c.code, c.status)
		}
	}
	if keys := r.keys(); !slices.Equal(keys, []string{"a", "b", "default"}) {
		t.Errorf("bucket %v", keys)
	}
	r.call(events.RouteStopClient, events.Params{"client": "a"})
	if got := object(t, r.call(events.RouteStartClient, events.Params{"client": "c"})); got["code"] != 0.0 {
		t.Errorf("start after a stop: %v", got)
	}
}

// Two hosts taking many start_client calls at once keep exactly MAX_CLIENTS accounts.
func TestMaxClientsAcrossHosts(t *testing.T) {
	const maxClients, starts = 3, 24
	r := newRig(t, "qq")
	r.controller(maxClients, nil)
	r.controller(maxClients, nil)

	codes := make([]int, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Go(func() {
			data := events.MustMarshal(events.Params{"client": fmt.Sprintf("c%02d", i)})
			m, err := r.nc.Request(r.subj.Controller(events.RouteStartClient), data, 20*time.Second)
			if err != nil {
				t.Errorf("start c%02d: %v", i, err)
				return
			}
			var st events.Status
			if err := json.Unmarshal(m.Data, &st); err != nil {
				t.Errorf("start c%02d: %s", i, m.Data)
			}
			codes[i] = st.Code
		})
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, c := range codes {
		switch c {
		case 0:
			ok++
		case events.CodeMaxClients:
			refused++
		}
	}
	keys := r.keys()
	if ok != maxClients || refused != starts-maxClients || len(keys) != maxClients {
		t.Errorf("%d started, %d refused, bucket %v; want %d, %d and %d keys", ok, refused, keys, maxClients, starts-maxClients, maxClients)
	}
}

// A spec or a lease that does not parse is said in its element; the others still come.
func TestCheckClientBadEntries(t *testing.T) {
	r := newRig(t, "qq")
	r.controller(0, nil)
	r.call(events.RouteStartClient, events.Params{"client": "good"})
	r.call(events.RouteStartClient, events.Params{"client": "leased"})
	if _, err := r.clients().Put(context.Background(), "broken", []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	r.lease(events.ClientLease{Client: "good", Host: "h", State: events.StateRunning})
	js, _ := jetstream.New(r.nc)
	leases, err := js.KeyValue(context.Background(), r.subj.LeasesBucket())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Put(context.Background(), "leased", []byte("[]")); err != nil {
		t.Fatal(err)
	}
	list := r.checkList(events.Params{})
	if len(list) != 3 {
		t.Fatalf("check_client: %v", list)
	}
	for i, want := range []struct{ client, state, err string }{
		{"broken", "init", "settings do not parse"},
		{"good", "running", ""},
		{"leased", "init", "lease does not parse"},
	} {
		e := list[i]
		if e["client"] != want.client || e["state"] != want.state || !strings.Contains(fmt.Sprint(e["error"]), want.err) ||
			(want.err == "" && e["error"] != nil) {
			t.Errorf("element %d: %v, want %+v", i, e, want)
		}
	}
}

// start_client opens the account's driver to check its settings, and connects to nothing: a
// dial made before the reply would wait in the listener's backlog.
func TestStartDoesNotDial(t *testing.T) {
	for _, c := range []struct {
		platform string
		p        func(addr string) events.Params
	}{
		{"qq", func(addr string) events.Params {
			return events.Params{"client": "ob", "driver": "onebot", "onebot_url": "ws://" + addr, "onebot_access_token": "t"}
		}},
		{"wx", func(addr string) events.Params {
			return events.Params{"client": "wy", "driver": "wechaty", "wechaty_endpoint": addr, "wechaty_token": "insecure_t"}
		}},
	} {
		t.Run(c.platform, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			r := newRig(t, c.platform)
			r.controller(0, nil)
			if got := object(t, r.call(events.RouteStartClient, c.p(ln.Addr().String()))); got["code"] != 0.0 {
				t.Fatalf("start: %v", got)
			}
			if err := ln.(*net.TCPListener).SetDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			if conn, err := ln.Accept(); err == nil {
				conn.Close()
				t.Error("start_client connected to the driver's peer")
			}
		})
	}
}
