package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/engine"
	wxsession "github.com/openqq/openqq/services/session/wx"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The Openwx end-to-end harness: a real NATS server, the session with PLATFORM=wx over the
// simulated WeChat account, the real gateway serving /openwx/ (and, with
// withReporters, reporters posting to a real post_api receiver), all driven over HTTP on
// loopback. It reuses the QQ harness's env (its requests go to /openwx/ instead).

// wxMediaMax is the media limit of the tests (MEDIA_MAX_BYTES), the same in every service.
const wxMediaMax = 256 << 10

// wxSetup is what startWX runs; options change it.
type wxSetup struct {
	sess session.Config // PLATFORM=wx
	sim  *wxsim.Config
	// driver and driverCfg, when set, replace the sim (withDriver).
	driver    string
	driverCfg any
	gw        gateway.Config
	// reporters is how many reporters post to the receiver (0: none); rep configures them.
	reporters int
	rep       wxReporterSetup
	// noWait: startWX returns before the client is running.
	noWait bool
	// log is the services' logger (nil: the test's log).
	log *slog.Logger
}

type wxOption func(*wxSetup)

// wxEnv is one running openwx.
type wxEnv struct {
	*env
	srv      *embednats.Server
	js       jetstream.JetStream
	subj     events.Subjects
	eng      *engine.Engine
	plat     *wxsession.Platform
	sim      *wxsim.Sim
	mediaDir string
	setup    wxSetup
	post     *postAPI // nil without reporters
	stopped  chan struct{}
}

// startWX runs NATS, a WeChat session (sim), the gateway and the reporters asked for, and waits
// until the client is running.
func startWX(t *testing.T, opts ...wxOption) *wxEnv {
	t.Helper()
	srv := natstest.Start(t)
	w := startWXOn(t, srv, opts...)
	return w
}

// startWXOn is startWX on a NATS server already running (a second session after the first
// stopped).
func startWXOn(tb testing.TB, srv *embednats.Server, opts ...wxOption) *wxEnv {
	tb.Helper()
	// A fuzz target starts one for all its inputs: its helpers then take each input's t
	// (with); only a *testing.T is kept.
	t, _ := tb.(*testing.T)
	dir := tb.TempDir()
	mc := media.Config{Dir: dir, MaxBytes: wxMediaMax}
	s := wxSetup{
		sess: session.Config{
			Platform: wx.Prefix, SubjectPrefix: wx.Prefix, Account: "default", Driver: "sim",
			DriverTimeout: 5 * time.Second, ControlDelay: 200 * time.Millisecond, LogLevel: "info", Config: mc,
			// Openwx's post_event defaults to 1 (check_event's events too); in code, false is
			// a choice.
			CheckEventConfig: session.CheckEventConfig{PostEvent: true},
		},
		// Nobody answers unless a test says so: an answer would be an item the stream gains
		// behind a test's back.
		sim: &wxsim.Config{QRCodeDir: tb.TempDir(), ReplyDelay: 20 * time.Millisecond, Answerers: []string{}},
		gw: gateway.Config{SubjectPrefix: "qq", WxSubjectPrefix: wx.Prefix, APITimeout: 3 * time.Second,
			MaxBodyBytes: 64 << 10, Config: mc},
	}
	for _, o := range opts {
		o(&s)
	}
	s.sess.DriverConfig = s.sim
	if s.driver != "" {
		s.sess.Driver, s.sess.DriverConfig = s.driver, s.driverCfg
	}
	nc := natstest.Connect(tb, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	w := &wxEnv{
		env: &env{t: t, srv: srv, nc: nc, http: &http.Client{Timeout: 30 * time.Second}, api: wx.APIPathPrefix},
		srv: srv, js: js, subj: events.Subjects{Prefix: s.sess.SubjectPrefix}, mediaDir: dir, setup: s,
		stopped: make(chan struct{}),
	}
	log := s.log
	if log == nil {
		log = natstest.Logger(tb)
	}
	sess, err := session.New(natstest.Connect(tb, srv), s.sess, log)
	if err != nil {
		tb.Fatal(err)
	}
	w.sess, w.eng = sess, sess.Engine()
	w.plat = sess.Platform().(*wxsession.Platform)
	w.sim, _ = w.plat.Driver().(*wxsim.Sim) // nil with another driver (withDriver)
	gw, err := gateway.New(natstest.Connect(tb, srv), s.gw, log)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	w.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	gwDone := make(chan error, 1)
	done := map[string]chan error{"gateway": gwDone}
	go func() { gwDone <- gw.Serve(ctx, ln) }()
	var sessErr error
	go func() {
		sessErr = sess.Run(ctx)
		close(w.stopped)
	}()
	if s.reporters > 0 {
		w.post = w.startReporters(ctx, s, done)
	}
	tb.Cleanup(func() {
		w.plat.Close()
		cancel()
		for name, c := range done {
			select {
			case err := <-c:
				if err != nil && !errors.Is(err, context.Canceled) {
					tb.Errorf("%s ended with %v", name, err)
				}
			case <-time.After(10 * time.Second):
				tb.Errorf("%s did not stop within 10s", name)
			}
		}
		select {
		case <-w.stopped:
			if sessErr != nil {
				tb.Errorf("session ended with %v", sessErr)
			}
		case <-time.After(10 * time.Second):
			tb.Error("session did not stop within 10s")
		}
	})
	switch {
	case s.noWait:
	case t != nil:
		w.waitRunning()
	default:
		deadline := time.Now().Add(15 * time.Second)
		for sess.Ready() != nil {
			if time.Now().After(deadline) {
				tb.Fatal("the WeChat client not running after 15s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return w
}

// withSim changes the simulated account's configuration.
func withSim(f func(*wxsim.Config)) wxOption { return func(s *wxSetup) { f(s.sim) } }

// withDriver runs the session over another WeChat driver than the sim.
func withDriver(name string, cfg any) wxOption {
	return func(s *wxSetup) { s.driver, s.driverCfg = name, cfg }
}

// withToken sets ACCESS_TOKEN on the gateway.
func withToken(token string) wxOption { return func(s *wxSetup) { s.gw.AccessToken = token } }

// waitRunning polls get_client_info over HTTP until the client is running.
func (w *wxEnv) waitRunning() {
	w.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		req := w.newRequest(http.MethodGet, wx.RouteGetClientInfo, nil, nil)
		if tok := w.setup.gw.AccessToken; tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, body := w.raw(req)
		var ci struct {
			State events.State `json:"state"`
		}
		if resp.StatusCode == 200 && json.Unmarshal(body, &ci) == nil && ci.State == events.StateRunning {
			return
		}
		time.Sleep(10 * time.Millisecond) // nothing to wait on over HTTP: poll, as a bot does
	}
	w.t.Fatal("the WeChat client not running after 15s")
}

// with returns a copy of w whose helpers report to t.
func (w *wxEnv) with(t *testing.T) *wxEnv {
	c := *w
	c.env = w.env.with(t)
	return &c
}

// inject makes the simulated WeChat account receive a message or a change (wx.sim.inject).
func (w *wxEnv) inject(in wx.Injection) wx.InjectReply {
	w.t.Helper()
	m, err := w.nc.Request(w.subj.SimInject(), events.MustMarshal(in), 10*time.Second)
	if err != nil {
		w.t.Fatalf("inject: %v", err)
	}
	var r wx.InjectReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		w.t.Fatalf("inject reply %s: %v", m.Data, err)
	}
	return r
}

// subscribeWX collects every item on wx.events.>.
func (w *wxEnv) subscribeWX() *items {
	w.t.Helper()
	return w.subscribe(w.subj.Events())
}

// roster is the friends, groups and user of get_*_info, read over HTTP.
type wxRoster struct {
	user    map[string]any
	friends []map[string]any
	groups  []map[string]any
}

func (w *wxEnv) roster() wxRoster {
	w.t.Helper()
	var r wxRoster
	for _, c := range []struct {
		route string
		into  func(b []byte)
	}{
		{wx.RouteGetUserInfo, func(b []byte) { r.user = object(w.t, b) }},
		{wx.RouteGetFriendInfo, func(b []byte) { r.friends = array(w.t, b) }},
		{wx.RouteGetGroupInfo, func(b []byte) { r.groups = array(w.t, b) }},
	} {
		code, body := w.get(c.route, nil)
		if code != 200 {
			w.t.Fatalf("%s: %d %.300s", c.route, code, body)
		}
		c.into(body)
	}
	return r
}

// find returns the first object whose key is value.
func find(list []map[string]any, key, value string) map[string]any {
	i := slices.IndexFunc(list, func(m map[string]any) bool { return m[key] == value })
	if i < 0 {
		return nil
	}
	return list[i]
}

// friendBy finds a friend of get_friend_info by key.
func (w *wxEnv) friendBy(key, value string) map[string]any {
	w.t.Helper()
	f := find(w.roster().friends, key, value)
	if f == nil {
		w.t.Fatalf("no friend with %s %q", key, value)
	}
	return f
}

// groupBy finds a group of get_group_info by key.
func (w *wxEnv) groupBy(key, value string) map[string]any {
	w.t.Helper()
	g := find(w.roster().groups, key, value)
	if g == nil {
		w.t.Fatalf("no group with %s %q", key, value)
	}
	return g
}

// str reads a string field.
func str(t *testing.T, m map[string]any, key string) string {
	t.Helper()
	s, ok := m[key].(string)
	if !ok {
		t.Fatalf("%q is %T %v, want a string, in %v", key, m[key], m[key], m)
	}
	return s
}

// serverRoster is the simulated server's roster (its current ids).
func (w *wxEnv) serverRoster() *wxroster.Roster { return w.sim.Roster() }

// storeCounts is what the event stream and the media bucket hold: a refused call must grow
// neither.
type storeCounts struct{ items, media uint64 }

func (w *wxEnv) counts() storeCounts {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := w.js.Stream(ctx, w.subj.Stream())
	if err != nil {
		w.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	var c storeCounts
	c.items = info.State.Msgs
	obs, err := w.js.ObjectStore(ctx, w.subj.MediaBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return c
	}
	if err != nil {
		w.t.Fatal(err)
	}
	lister, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return c
	}
	if err != nil {
		w.t.Fatal(err)
	}
	c.media = uint64(len(lister))
	return c
}

// writeMedia writes a file into MEDIA_DIR and returns its path.
func (w *wxEnv) writeMedia(name string, data []byte) string {
	w.t.Helper()
	p := filepath.Join(w.mediaDir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}
