package qq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/sim"
	"github.com/openqq/openqq/services/session/engine"
)

// Tests of the publisher against a real NATS server that the test stops and starts again on
// the same port and store.

// Ids of the default roster (driver/sim/default_roster.json).
const (
	pubGroupID  = 2617047292 // PERL学习交流
	pubSenderID = 2372835507 // 老王, a friend and a member of PERL学习交流
)

// logBuf is a log writer that keeps what was logged (to look for lines) and shows it in the
// test's log.
type logBuf struct {
	proctest.SyncBuffer
	t    *testing.T
	mu   sync.Mutex
	done bool // the test ended: t.Log would panic
}

func newLogBuf(t *testing.T) *logBuf {
	l := &logBuf{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *logBuf) Write(p []byte) (int, error) {
	_, _ = l.SyncBuffer.Write(p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (l *logBuf) has(s string) bool { return strings.Contains(l.String(), s) }

// pubEnv is a session on a NATS server that can be stopped and started again.
type pubEnv struct {
	t    *testing.T
	log  *slog.Logger
	logs *logBuf
	ncfg embednats.Config

	mu  sync.Mutex
	srv *embednats.Server // nil while stopped

	nc  *nats.Conn // the session's connection: reconnects forever
	eng *engine.Engine
	s   *Platform
}

func startPubEnv(t *testing.T, mod func(*engine.Config, *Config)) *pubEnv {
	t.Helper()
	logs := newLogBuf(t)
	e := &pubEnv{
		t: t, logs: logs,
		log:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ncfg: embednats.Config{Host: "127.0.0.1", Port: proctest.MustFreePort(t), StoreDir: t.TempDir()},
	}
	e.startNATS()
	t.Cleanup(e.stopNATS)

	nc, err := natsconn.Connect(natsconn.Config{URL: e.url()}, "t", e.log)
	if err != nil {
		t.Fatal(err)
	}
	e.nc = nc
	t.Cleanup(nc.Close)

	ecfg := engine.Config{
		SubjectPrefix: "qq", Account: "default", DriverTimeout: 5 * time.Second, ControlDelay: 100 * time.Millisecond,
	}
	cfg := Config{Driver: "sim", DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}
	if mod != nil {
		mod(&ecfg, &cfg)
	}
	eng, err := engine.New(nc, ecfg, e.log, func(eng *engine.Engine) (engine.Platform, error) {
		p, err := New(eng, cfg)
		e.s = p
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.eng = eng
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("session: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("session did not stop within 30s")
		}
	})

	waitFor(t, 10*time.Second, "client running", func() bool { return eng.State() == events.StateRunning })
	// The login's own reports (state_change running) are stored.
	waitFor(t, 10*time.Second, "login reports stored", func() bool { return eng.Outbox() == 0 })
	return e
}

func (e *pubEnv) url() string { return fmt.Sprintf("nats://%s:%d", e.ncfg.Host, e.ncfg.Port) }

func (e *pubEnv) startNATS() {
	e.t.Helper()
	var srv *embednats.Server
	var err error
	// The port may take a moment to be free again after a stop.
	for range 50 {
		if srv, err = embednats.Start(e.ncfg, e.log); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
}

func (e *pubEnv) stopNATS() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Stop()
	}
}

// awayNATS stops the server and waits until the session's connection has noticed.
func (e *pubEnv) awayNATS() {
	e.t.Helper()
	e.stopNATS()
	waitFor(e.t, 10*time.Second, "connection lost", func() bool { return e.nc.Status() != nats.CONNECTED })
}

// js opens a JetStream context on a connection of the test's own to the running server.
func (e *pubEnv) js() jetstream.JetStream {
	e.t.Helper()
	nc, err := nats.Connect(e.url())
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		e.t.Fatal(err)
	}
	return js
}

// receive makes the simulated account receive a group message.
func (e *pubEnv) receive(content string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.s.Receive(ctx, driver.Incoming{
		Type: events.GroupMessage, GroupID: pubGroupID, SenderID: pubSenderID, Content: content, Time: time.Now(),
	})
}

// stored is one message of the stream.
type stored struct {
	seq     uint64
	subject string
	msgID   string
	data    []byte
}

// readStream reads every message of the stream, in order, with an ordered consumer.
func readStream(t *testing.T, js jetstream.JetStream, stream string) []stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	str, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("read %s after %d messages (last seq %d): %v", stream, len(out), last, err)
		}
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, stored{seq: md.Sequence.Stream, subject: m.Subject(), msgID: m.Headers().Get(events.HeaderMsgID), data: m.Data()})
		if md.Sequence.Stream >= last {
			return out
		}
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// groupMessageIDs returns the Nats-Msg-Id of each group message in msgs, in order, and checks
// that the body's id is the same.
func groupMessageIDs(t *testing.T, msgs []stored) []string {
	t.Helper()
	var ids []string
	for _, m := range msgs {
		if m.subject != "qq.events."+events.GroupMessage {
			continue
		}
		var body struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(m.data, &body); err != nil {
			t.Fatalf("seq %d: %v in %s", m.seq, err, m.data)
		}
		if strconv.FormatInt(body.ID, 10) != m.msgID {
			t.Errorf("seq %d: Nats-Msg-Id %q, body id %d", m.seq, m.msgID, body.ID)
		}
		ids = append(ids, m.msgID)
	}
	return ids
}

// ackWait is how long the engine's publisher waits for a report to be stored while NATS is up
// (engine's ackWait).
const ackWait = 5 * time.Second

func TestPublishOutboxAcrossNATSRestart(t *testing.T) {
	e := startPubEnv(t, nil)
	e.awayNATS()

	const n = 20
	var sent []string
	var slow []string
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		id, err := e.receive(fmt.Sprintf("while away %d", i))
		d := time.Since(t0)
		if err != nil {
			t.Fatalf("message %d while NATS is away: %v", i, err)
		}
		if d > time.Second {
			slow = append(slow, fmt.Sprintf("#%d %s", i, d.Round(time.Millisecond)))
		}
		sent = append(sent, strconv.FormatInt(id, 10))
	}
	took := time.Since(start)
	t.Logf("%d messages received while NATS was away in %s; slow: %v", n, took.Round(time.Millisecond), slow)
	// The first call waits up to the ack wait (5s) before the publisher knows NATS is away;
	// one that started in that very moment may too. No other call waits.
	if len(slow) > 2 || took > 2*(ackWait+3*time.Second) {
		t.Errorf("Receive blocked while NATS was away: %d slow calls %v, %s in all", len(slow), slow, took)
	}
	waitFor(t, 10*time.Second, "log line about reports kept while NATS is away", func() bool {
		return e.logs.has("cannot store reports, keeping them until NATS is back")
	})

	e.startNATS()
	js := e.js()
	var got []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = groupMessageIDs(t, readStream(t, js, events.StreamName))
		if len(got) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Join(got, ",") != strings.Join(sent, ",") {
		t.Fatalf("stream has group messages\n%v\nwant, in this order,\n%v", got, sent)
	}
	waitFor(t, 10*time.Second, "outbox flushed", func() bool { return e.eng.Outbox() == 0 })
	waitFor(t, 10*time.Second, "log line about the flush", func() bool {
		return e.logs.has("NATS is back: buffered reports stored, in order")
	})

	t.Run("flush log counts every buffered report", func(t *testing.T) {
		m := regexp.MustCompile(`NATS is back: buffered reports stored, in order" svc=session reports=(\d+)`).
			FindStringSubmatch(e.logs.String())
		if m == nil || m[1] != strconv.Itoa(n) {
			t.Errorf("flush logged %v, want reports=%d", m, n)
		}
	})

	// No Nats-Msg-Id is stored twice, events included.
	all := readStream(t, js, events.StreamName)
	seen := map[string]uint64{}
	for _, m := range all {
		if m.msgID == "" {
			t.Errorf("seq %d (%s) has no Nats-Msg-Id", m.seq, m.subject)
			continue
		}
		if prev, ok := seen[m.msgID]; ok {
			t.Errorf("Nats-Msg-Id %s stored twice: seq %d and %d", m.msgID, prev, m.seq)
		}
		seen[m.msgID] = m.seq
	}

	// NATS is back: a report waits for its ack again, and gets it quickly.
	t0 := time.Now()
	id, err := e.receive("after")
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Receive after NATS came back took %s", d)
	}
	got = groupMessageIDs(t, readStream(t, js, events.StreamName))
	if len(got) != n+1 || got[n] != strconv.FormatInt(id, 10) {
		t.Errorf("after the restart, stream has %v, want %v then %d", got, sent, id)
	}
}

func TestOutboxFull(t *testing.T) {
	e := startPubEnv(t, func(c *engine.Config, _ *Config) { c.OutboxSize = 3 })
	e.awayNATS()

	var accepted []string
	start := time.Now()
	var full error
	for i := range 6 {
		id, err := e.receive(fmt.Sprintf("m%d", i))
		if err != nil {
			full = err
			if i != 3 {
				t.Errorf("message %d refused (%v), want the 4th refused with an outbox of 3", i, err)
			}
			break
		}
		accepted = append(accepted, strconv.FormatInt(id, 10))
	}
	if full == nil {
		t.Fatalf("6 messages accepted with an outbox of 3 while NATS is away")
	}
	if !errors.Is(full, engine.ErrOutboxFull) {
		t.Errorf("refused with %v, want engine.ErrOutboxFull", full)
	}
	if d := time.Since(start); d > 2*(ackWait+3*time.Second) {
		t.Errorf("filling the outbox took %s", d)
	}
	// Once full, a refusal is immediate.
	t0 := time.Now()
	if _, err := e.receive("again"); !errors.Is(err, engine.ErrOutboxFull) {
		t.Errorf("next message: %v, want engine.ErrOutboxFull", err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("refusal took %s", d)
	}
	if !e.logs.has("report dropped") {
		t.Error("no log line for the dropped report")
	}

	// NATS back: what was accepted is stored, in order, and the outbox takes reports again.
	e.startNATS()
	js := e.js()
	waitFor(t, 30*time.Second, "outbox flushed", func() bool { return e.eng.Outbox() == 0 })
	got := groupMessageIDs(t, readStream(t, js, events.StreamName))
	if strings.Join(got, ",") != strings.Join(accepted, ",") {
		t.Errorf("stream has %v, want %v", got, accepted)
	}
	if _, err := e.receive("after"); err != nil {
		t.Errorf("after NATS came back: %v", err)
	}
}

func TestPublishMsgIDHeader(t *testing.T) {
	e := startPubEnv(t, nil)
	id, err := e.receive("hello")
	if err != nil {
		t.Fatal(err)
	}
	fid, err := e.s.Receive(context.Background(), driver.Incoming{
		Type: events.FriendMessage, SenderID: pubSenderID, Content: "在吗", Time: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.Change(context.Background(), driver.Change{
		Kind: events.EventNewFriend, Friend: events.Friend{ID: 1001, UID: 2002, Name: "新朋友"},
	}); err != nil {
		t.Fatal(err)
	}

	msgs := readStream(t, e.js(), events.StreamName)
	byName := map[string][]stored{}
	seen := map[string]bool{}
	for _, m := range msgs {
		name := events.EventName(m.subject)
		byName[name] = append(byName[name], m)
		if seen[m.msgID] {
			t.Errorf("Nats-Msg-Id %q used twice", m.msgID)
		}
		seen[m.msgID] = true
		if events.IsMessageType(name) {
			var body struct {
				ID int64 `json:"id"`
			}
			if err := json.Unmarshal(m.data, &body); err != nil {
				t.Fatal(err)
			}
			if m.msgID != strconv.FormatInt(body.ID, 10) {
				t.Errorf("%s: Nats-Msg-Id %q, want its id %d", m.subject, m.msgID, body.ID)
			}
			continue
		}
		if !strings.HasPrefix(m.msgID, "ev-") || len(m.msgID) <= len("ev-") {
			t.Errorf("%s: Nats-Msg-Id %q, want ev-<nuid>", m.subject, m.msgID)
		}
	}
	if g := byName[events.GroupMessage]; len(g) != 1 || g[0].msgID != strconv.FormatInt(id, 10) {
		t.Errorf("group messages %v, want one with Nats-Msg-Id %d", g, id)
	}
	if f := byName[events.FriendMessage]; len(f) != 1 || f[0].msgID != strconv.FormatInt(fid, 10) {
		t.Errorf("friend messages %v, want one with Nats-Msg-Id %d", f, fid)
	}
	for _, name := range []string{events.EventStateChange, events.EventLogin, events.EventInputQRCode, events.EventNewFriend} {
		if len(byName[name]) == 0 {
			t.Errorf("no %s in the stream", name)
		}
	}
}

func TestPublishStreamConfig(t *testing.T) {
	sc := engine.StreamConfig{MaxAge: 36 * time.Hour, MaxBytes: 64 << 20, MaxMsgs: 12345, Replicas: 1, Duplicates: 90 * time.Second}
	e := startPubEnv(t, func(c *engine.Config, _ *Config) { c.Stream = sc })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := e.js().Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := str.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Name != "QQ_EVENTS" || len(c.Subjects) != 1 || c.Subjects[0] != "qq.events.>" {
		t.Errorf("stream %s on %v, want QQ_EVENTS on [qq.events.>]", c.Name, c.Subjects)
	}
	if c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy || c.Discard != jetstream.DiscardOld {
		t.Errorf("storage %v, retention %v, discard %v; want file, limits, old", c.Storage, c.Retention, c.Discard)
	}
	if c.MaxAge != sc.MaxAge || c.MaxBytes != sc.MaxBytes || c.MaxMsgs != sc.MaxMsgs ||
		c.Replicas != sc.Replicas || c.Duplicates != sc.Duplicates {
		t.Errorf("limits max_age %s max_bytes %d max_msgs %d replicas %d duplicates %s; want %+v",
			c.MaxAge, c.MaxBytes, c.MaxMsgs, c.Replicas, c.Duplicates, sc)
	}
}
