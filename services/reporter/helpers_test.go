package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Ids of the simulated account's default roster (services/session/driver/sim/default_roster.json).
const (
	myID          = int64(4072574066) // the account itself
	friendID      = int64(2372835507) // a friend, also a plain member of adminGroupID and in discussID
	friendUID     = int64(456789)
	adminGroupID  = int64(2617047292) // the account is admin ("manage") here
	adminGroupUID = int64(67890)
	plainMemberID = int64(2372985968) // a plain member of adminGroupID
	otherGroupID  = int64(2617063130) // the account is a plain member here
	discussID     = int64(4118239384)
	discussMember = int64(2372843426) // a member of discussID
)

// system is a real NATS server with JetStream and a real session (the openqq-session
// binary) on the simulated account.
type system struct {
	srv  *embednats.Server
	nc   *nats.Conn // the test's own connection
	js   jetstream.JetStream
	sess *proctest.Session
	stop func() // stops the session (it publishes state_change and stop) and waits for it
}

func TestMain(m *testing.M) { proctest.Main(m) }

func startSystem(t testing.TB) *system {
	t.Helper()
	return startSystemEnv(t, nil)
}

// startSystemEnv is startSystem with more of the session's variables (LOG_LEVEL, ...).
func startSystemEnv(t testing.TB, env map[string]string) *system {
	t.Helper()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"SUBJECT_PREFIX": "qq", "CONTROL_DELAY": "100ms"}
	for k, v := range env {
		vars[k] = v
	}
	sess := proctest.StartSession(t, srv.ClientURL(), vars)
	s := &system{srv: srv, nc: nc, js: js, sess: sess, stop: func() { sess.Stop(t) }}
	sess.WaitState(t, string(events.StateRunning), 15*time.Second)
	return s
}

// inject asks the simulated account to receive a message or a roster change; a refusal comes
// back in the reply.
func (s *system) inject(t testing.TB, in events.Injection) events.InjectReply {
	t.Helper()
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := s.nc.Request("qq.sim.inject", data, 5*time.Second)
		if err == nil {
			var rep events.InjectReply
			if err := json.Unmarshal(m.Data, &rep); err != nil {
				t.Fatalf("inject reply %q: %v", m.Data, err)
			}
			if rep.Code != events.CodeNotReady || time.Now().After(deadline) {
				return rep
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("inject %s: %v", data, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mustInject injects and fails the test unless the injection was accepted; it returns the
// message id (0 for a roster change).
func (s *system) mustInject(t testing.TB, in events.Injection) int64 {
	t.Helper()
	rep := s.inject(t, in)
	if rep.Code != events.CodeOK {
		t.Fatalf("injection %+v refused: %+v", in, rep)
	}
	return rep.ID
}

// streamItems reads every item stored on QQ_EVENTS under subject (a filter).
func (s *system) streamItems(t testing.TB, filter string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && seq > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if subjectMatches(filter, m.Subject) {
			out = append(out, m)
		}
	}
	return out
}

func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || tok != "*" && tok != s[i] {
			return false
		}
	}
	return len(f) == len(s)
}

// waitConsumerIdle waits until the durable consumers of a target (its one consumer, or its
// partitions') have handed out and settled everything.
func (s *system) waitConsumerIdle(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	var last string
	waitUntilf(t, timeout, func() string { return "consumer " + name + " idle: " + last }, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var idle bool
		idle, last = targetIdle(ctx, s.js, name)
		return idle
	})
}

// targetIdle reports whether every consumer of a target (named name, or name_p… for its
// partitions) has settled everything, and their states; false while there is none.
func targetIdle(ctx context.Context, js jetstream.JetStream, name string) (bool, string) {
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		return false, err.Error()
	}
	idle, states := false, []string{}
	list := s.ListConsumers(ctx)
	for ci := range list.Info() {
		if ci.Name != name && !strings.HasPrefix(ci.Name, name+"_p") {
			continue
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 {
			return false, ci.Name + " " + consumerState(ci)
		}
		idle = true
		states = append(states, ci.Name+" "+consumerState(ci))
	}
	if err := list.Err(); err != nil {
		return false, err.Error()
	}
	if !idle {
		return false, "(no consumer)"
	}
	return true, strings.Join(states, ", ")
}

func consumerState(ci *jetstream.ConsumerInfo) string {
	if ci == nil {
		return "(no info)"
	}
	b, _ := json.Marshal(map[string]any{"pending": ci.NumPending, "ack_pending": ci.NumAckPending, "redelivered": ci.NumRedelivered, "ack_floor": ci.AckFloor.Stream})
	return string(b)
}

// consumerName is the durable consumer's name for a post_api URL.
func consumerName(url string) string { return newHTTPTarget(nil, url).consumer() }

// runReporter builds a reporter on its own connection and runs it until the test ends (or the
// returned stop is called).
func runReporter(t testing.TB, srv *embednats.Server, cfg Config) (*Reporter, func()) {
	t.Helper()
	return runReporterOn(t, natstest.Connect(t, srv), cfg, natstest.Logger(t))
}

func runReporterOn(t testing.TB, nc *nats.Conn, cfg Config, log *slog.Logger) (*Reporter, func()) {
	t.Helper()
	r, err := New(nc, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return r, startRun(t, r)
}

// startRun runs r until the test ends or the returned stop is called.
func startRun(t testing.TB, r *Reporter) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("reporter: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("reporter did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// fastConfig is a reporter configuration for tests: quick retries and time-outs.
func fastConfig(urls ...string) Config {
	return Config{
		PostAPI: urls, PostEvent: true,
		PostTimeout: 2 * time.Second, PostRetryMin: 50 * time.Millisecond, PostRetryMax: 500 * time.Millisecond,
		PostMaxDeliver: 20, APITimeout: 2 * time.Second, PostConcurrency: 4,
		PostDrainTimeout: 2 * time.Second, PostAckWait: 2 * time.Second, PostPinTTL: 2 * time.Second,
	}
}

// post is one request a receiver got.
type post struct {
	RawQuery      string // the URL's query: client=NAME for a named account
	Header        http.Header
	ContentLength int64
	Chunked       bool
	Body          []byte
	Item          map[string]any // the body decoded with UseNumber; nil if it is not JSON
	Status        int            // what the receiver answered
}

func (p post) str(key string) string {
	s, _ := p.Item[key].(string)
	return s
}

func (p post) num(key string) (int64, bool) {
	n, ok := p.Item[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

func (p post) isEvent(name string) bool {
	return p.str("post_type") == events.PostEvent && p.str("event") == name
}

// answer is what a receiver says back.
type answer struct {
	status int
	ctype  string
	body   string
	delay  time.Duration
	header http.Header
}

// receiver is the harness's post_api receiver (proctest.Receiver), seen through post and
// answer. Its answers come from respond (nil: 200 with an empty body).
type receiver struct {
	r *proctest.Receiver
}

func newReceiver(t testing.TB, respond func(post) answer) *receiver {
	t.Helper()
	return &receiver{r: proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: adapt(respond)})}
}

func (rc *receiver) url() string { return rc.r.URL }

func (rc *receiver) setRespond(f func(post) answer) { rc.r.SetRespond(adapt(f)) }

func adapt(respond func(post) answer) func(*proctest.Request) proctest.Answer {
	if respond == nil {
		return nil
	}
	return func(r *proctest.Request) proctest.Answer {
		a := respond(toPost(*r))
		return proctest.Answer{Status: a.status, ContentType: a.ctype, Body: a.body, Delay: a.delay, Header: a.header}
	}
}

func toPost(r proctest.Request) post {
	return post{
		RawQuery: r.RawQuery, Header: r.Header, ContentLength: r.ContentLength, Chunked: r.Chunked, Body: r.Body,
		Item: r.JSON(), Status: r.Status,
	}
}

func toPosts(rs []proctest.Request) []post {
	out := make([]post, len(rs))
	for i, r := range rs {
		out[i] = toPost(r)
	}
	return out
}

// all returns a copy of every request so far.
func (rc *receiver) all() []post { return toPosts(rc.r.Requests()) }

// accepted returns the requests answered 2xx.
func (rc *receiver) accepted() []post { return acceptedOf(rc.all()) }

func acceptedOf(ps []post) []post {
	var out []post
	for _, p := range ps {
		if p.Status/100 == 2 {
			out = append(out, p)
		}
	}
	return out
}

// waitFor waits until cond holds for the accepted requests, checking at each new request,
// and returns them.
func (rc *receiver) waitFor(t testing.TB, timeout time.Duration, what string, cond func([]post) bool) []post {
	t.Helper()
	var got []post
	if _, ok := rc.r.Wait(timeout, func(rs []proctest.Request) bool {
		got = acceptedOf(toPosts(rs))
		return cond(got)
	}); !ok {
		t.Fatalf("timed out after %v waiting for %s; got:\n%s", timeout, what, describe(got))
	}
	return got
}

func describe(ps []post) string {
	var sb strings.Builder
	for i, p := range ps {
		if i == 40 {
			sb.WriteString("...\n")
			break
		}
		b := p.Body
		if len(b) > 200 {
			b = append(b[:200:200], "..."...)
		}
		sb.WriteString(string(b))
		sb.WriteByte('\n')
	}
	return sb.String()
}

// hasMessage reports whether one of ps is the message report with this id and post_type.
func hasMessage(ps []post, id int64, postType string) bool {
	for _, p := range ps {
		if n, ok := p.num("id"); ok && n == id && p.str("post_type") == postType {
			return true
		}
	}
	return false
}

func hasEvent(ps []post, name string) bool {
	for _, p := range ps {
		if p.isEvent(name) {
			return true
		}
	}
	return false
}

func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitUntilf(t, timeout, func() string { return what }, cond)
}

func waitUntilf(t testing.TB, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watch subscribes to every live report (core NATS) and collects the message reports.
type watcher struct {
	mu   sync.Mutex
	msgs []*events.Message
}

func watch(t testing.TB, nc *nats.Conn) *watcher {
	t.Helper()
	w := &watcher{}
	sub, err := nc.Subscribe("qq.events.>", func(m *nats.Msg) {
		it, err := events.DecodeItem(m.Data)
		if err != nil {
			return
		}
		if msg, ok := it.(*events.Message); ok {
			w.mu.Lock()
			w.msgs = append(w.msgs, msg)
			w.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return w
}

// sent returns the send_message reports so far.
func (w *watcher) sent() []*events.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*events.Message
	for _, m := range w.msgs {
		if m.PostType == events.PostSendMessage {
			out = append(out, m)
		}
	}
	return out
}

// quietLogger logs at level and above into the test's log, and drops lines after the test.
func quietLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &lockedTestWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type lockedTestWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *lockedTestWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
