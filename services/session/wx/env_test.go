package wx

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The tests run the WeChat platform on the real engine, over the real simulated WeChat account,
// with a real embedded NATS server (JetStream: the WX_EVENTS stream, the WX_MEDIA object
// store), and call it as the gateway does: a request on wx.api.<route>.

// env is a running WeChat session.
type env struct {
	t        testing.TB
	nc       *nats.Conn
	js       jetstream.JetStream
	e        *engine.Engine
	p        *Platform
	sim      *sim.Sim
	mediaDir string
}

// mediaMax is the media limit of the tests.
const mediaMax = 64 << 10

func start(t testing.TB, mod func(*Config, *sim.Config)) *env {
	t.Helper()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ec := engine.Config{Account: "default", DriverTimeout: 5 * time.Second, ControlDelay: 100 * time.Millisecond}
	ec.PostEvent = true
	Defaults(&ec)
	sc := &sim.Config{QRCodeDir: t.TempDir(), ReplyDelay: 10 * time.Millisecond}
	dir := t.TempDir()
	cfg := Config{Driver: "sim", DriverConfig: sc, Config: media.Config{Dir: dir, MaxBytes: mediaMax}}
	if mod != nil {
		mod(&cfg, sc)
	}
	var p *Platform
	e, err := engine.New(nc, ec, natstest.Logger(t), func(e *engine.Engine) (engine.Platform, error) {
		var err error
		p, err = New(e, cfg)
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		p.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("engine: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("engine did not stop within 30s")
		}
	})
	waitFor(t, "client running", func() bool { return e.State() == events.StateRunning })
	s, ok := p.Driver().(*sim.Sim)
	if slow, isSlow := p.Driver().(slowAvatars); isSlow {
		s, ok = slow.Sim, true
	}
	if u, isU := p.Driver().(unsupportedDriver); isU {
		s, ok = u.Sim, true
	}
	if !ok {
		t.Fatalf("driver %T", p.Driver())
	}
	return &env{t: t, nc: nc, js: js, e: e, p: p, sim: s, mediaDir: dir}
}

// slowAvatars is the simulated account whose avatars never come (driver "slowavatars").
type slowAvatars struct{ *sim.Sim }

func (slowAvatars) Avatar(ctx context.Context, _, _ string) (string, []byte, error) {
	<-ctx.Done()
	return "", nil, ctx.Err()
}

func init() {
	wxdriver.Register("slowavatars", "WX_SLOW", func(cfg sim.Config, p wxdriver.Params) (wxdriver.Driver, error) {
		s, err := sim.New(cfg, p)
		return slowAvatars{s}, err
	})
}

// waitFor polls a condition the test cannot be told of.
func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// raw calls a route and returns the NATS reply.
func (v *env) raw(route string, p events.Params, hdr ...string) *nats.Msg {
	v.t.Helper()
	m := nats.NewMsg(v.e.Subjects().API(route))
	if p == nil {
		p = events.Params{}
	}
	m.Data = events.MustMarshal(p)
	for i := 0; i+1 < len(hdr); i += 2 {
		m.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := v.nc.RequestMsg(m, 20*time.Second)
	if err != nil {
		v.t.Fatalf("%s %v: %v", route, p, err)
	}
	return r
}

// call calls a route and decodes its JSON reply into a map.
func (v *env) call(route string, p events.Params, hdr ...string) map[string]any {
	v.t.Helper()
	r := v.raw(route, p, hdr...)
	var out map[string]any
	if err := json.Unmarshal(r.Data, &out); err != nil {
		v.t.Fatalf("%s %v: reply %.300q is not an object: %v", route, p, r.Data, err)
	}
	return out
}

// list calls a route that answers a JSON array.
func (v *env) list(route string, p events.Params) []map[string]any {
	v.t.Helper()
	r := v.raw(route, p)
	var out []map[string]any
	if err := json.Unmarshal(r.Data, &out); err != nil {
		v.t.Fatalf("%s %v: reply %.300q is not an array: %v", route, p, r.Data, err)
	}
	return out
}

// code reads a reply's code.
func code(t *testing.T, r map[string]any) int {
	t.Helper()
	c, ok := r["code"].(float64)
	if !ok {
		t.Fatalf("reply without a numeric code: %v", r)
	}
	return int(c)
}

// want checks a reply's code and status.
func want(t *testing.T, what string, r map[string]any, c int, status string) {
	t.Helper()
	if code(t, r) != c || (status != "" && r["status"] != status) {
		t.Errorf("%s: %v, want code %d status %q", what, r, c, status)
	}
}

// ro reads the session's roster (a copy).
func (v *env) ro() *wxroster.Roster {
	v.e.RLock()
	defer v.e.RUnlock()
	return v.p.ro.Clone()
}

// friend finds a friend of the session's roster by account, name or markname.
func (v *env) friend(key string) wx.Friend {
	v.t.Helper()
	for _, f := range v.ro().Friends {
		if f.Account == key || f.Name == key || f.Markname == key {
			return f
		}
	}
	v.t.Fatalf("no friend %q", key)
	return wx.Friend{}
}

// group finds a group by name.
func (v *env) group(name string) wx.Group {
	v.t.Helper()
	for _, g := range v.ro().Groups {
		if g.Name == name {
			return g
		}
	}
	v.t.Fatalf("no group %q", name)
	return wx.Group{}
}

// inject makes the simulated account receive something, and returns the reply.
func (v *env) inject(in wx.Injection) wx.InjectReply {
	v.t.Helper()
	r, err := v.nc.Request(v.e.Subjects().SimInject(), events.MustMarshal(in), 10*time.Second)
	if err != nil {
		v.t.Fatalf("inject %+v: %v", in, err)
	}
	var rep wx.InjectReply
	if err := json.Unmarshal(r.Data, &rep); err != nil {
		v.t.Fatal(err)
	}
	return rep
}

// item finds the first item of the stream on subject name (a message type or an event) that ok
// accepts, reading the stream from its start.
func (v *env) item(name string, ok func(raw map[string]any) bool) map[string]any {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subj := v.e.Subjects()
	cons, err := v.js.OrderedConsumer(ctx, subj.Stream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj.Event(name)}})
	if err != nil {
		v.t.Fatal(err)
	}
	for {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				v.t.Fatalf("no %s item as wanted in %s within 10s", name, subj.Stream())
			}
			v.t.Fatal(err)
		}
		var it map[string]any
		if err := json.Unmarshal(m.Data(), &it); err != nil {
			v.t.Fatal(err)
		}
		if ok(it) {
			return it
		}
	}
}

// sentTo returns what the simulated server got from the account for target, oldest first.
func (v *env) sentTo(target string) []sim.Delivery {
	var out []sim.Delivery
	for _, d := range v.sim.Sent() {
		if d.TargetID == target {
			out = append(out, d)
		}
	}
	return out
}

func has(s, sub string) bool { return strings.Contains(s, sub) }
