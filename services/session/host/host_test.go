package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// ttl is the lease time of the tests' hosts: short, so that failover is quick.
const ttl = 1500 * time.Millisecond

type testHost struct {
	*Host
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
	once   sync.Once
}

// startHost runs a host with id on its own connection to srv until stopped or the test ends.
func startHost(t *testing.T, srv *embednats.Server, id string, defaultClient Toggle) *testHost {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL(), nats.Name(id))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	base := session.Config{DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}
	h, err := New(nc, base, Config{ID: id, LeaseTTL: ttl, DefaultClient: defaultClient}, natstest.Logger(t).With("test_host", id))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	th := &testHost{Host: h, nc: nc, cancel: cancel, done: make(chan struct{})}
	go func() { th.err = h.Run(ctx); close(th.done) }()
	t.Cleanup(func() { th.stop(t) })
	return th
}

// stop stops the host gracefully and waits for its Run to return.
func (th *testHost) stop(t *testing.T) {
	th.cancel()
	select {
	case <-th.done:
		th.once.Do(func() {
			if th.err != nil {
				t.Errorf("host %s: %v", th.ID(), th.err)
			}
		})
	case <-time.After(30 * time.Second):
		t.Errorf("host %s did not stop", th.ID())
	}
}

// kv opens bucket through nc, waiting for a host to have created it.
func kv(t *testing.T, nc *nats.Conn, bucket string) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var b jetstream.KeyValue
	waitFor(t, "bucket "+bucket, func() bool {
		b, err = js.KeyValue(context.Background(), bucket)
		return err == nil
	})
	return b
}

// waitFor polls cond until it holds (the condition is the event waited on: a lease's value
// in KV, an account's state).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func putSpec(t *testing.T, clients jetstream.KeyValue, client string, settings map[string]string) {
	t.Helper()
	s := events.ClientSpec{Client: client, Settings: settings, StartTime: time.Now().Unix(), Source: events.SourceController}
	if _, err := clients.Put(context.Background(), client, events.MustMarshal(s)); err != nil {
		t.Fatal(err)
	}
}

func simSettings(t *testing.T) map[string]string {
	return map[string]string{"DRIVER": "sim", "SIM_QRCODE_DIR": t.TempDir()}
}

// leaseOf reads client's lease; ok is false when it has none.
func leaseOf(t *testing.T, leases jetstream.KeyValue, client string) (events.ClientLease, bool) {
	e, err := leases.Get(context.Background(), client)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return events.ClientLease{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var l events.ClientLease
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		t.Fatalf("lease of %s: %s: %v", client, e.Value(), err)
	}
	return l, true
}

// runningOn waits until every client's lease says it runs on one of hosts and is running, and
// returns where each runs.
func runningOn(t *testing.T, leases jetstream.KeyValue, clients []string, hosts ...string) map[string]string {
	t.Helper()
	where := map[string]string{}
	waitFor(t, fmt.Sprintf("%d accounts running on %v", len(clients), hosts), func() bool {
		for _, c := range clients {
			l, ok := leaseOf(t, leases, c)
			if !ok || l.State != events.StateRunning || !slices.Contains(hosts, l.Host) {
				return false
			}
			where[c] = l.Host
		}
		return true
	})
	return where
}

// apiAnswers checks that client's API answers get_friend_info.
func apiAnswers(t *testing.T, nc *nats.Conn, client string) {
	t.Helper()
	subj := events.Subjects{Prefix: "qq", Client: client}.API(events.RouteGetFriendInfo)
	var last error
	waitFor(t, "an answer on "+subj, func() bool {
		r, err := nc.Request(subj, []byte("{}"), 2*time.Second)
		if err != nil {
			last = err
			return false
		}
		var friends []events.Friend
		last = json.Unmarshal(r.Data, &friends)
		return last == nil && len(friends) > 0
	})
	_ = last
}

// Two hosts spread accounts (each on the host that ranks first for it), a host that stops
// hands its accounts over at once, and they answer on the other.
func TestTwoHostsSpreadAndMove(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h1 := startHost(t, srv, "h1", Off)
	clients := kv(t, nc, events.Subjects{Prefix: "qq"}.ClientsBucket())
	leases := kv(t, nc, events.Subjects{Prefix: "qq"}.LeasesBucket())
	var names []string
	for i := range 12 {
		c := fmt.Sprintf("acct%02d", i)
		names = append(names, c)
		putSpec(t, clients, c, simSettings(t))
	}
	runningOn(t, leases, names, "h1")

	h2 := startHost(t, srv, "h2", Off)
	// Every account ends up on the host that ranks first for it: both hold some.
	waitFor(t, "accounts spread by rank", func() bool {
		for _, c := range names {
			want := "h1"
			if score("h2", c) > score("h1", c) {
				want = "h2"
			}
			l, ok := leaseOf(t, leases, c)
			if !ok || l.Host != want || l.State != events.StateRunning {
				return false
			}
		}
		return true
	})
	if len(h1.Accounts()) == 0 || len(h2.Accounts()) == 0 {
		t.Fatalf("not spread: h1 %v, h2 %v", h1.Accounts(), h2.Accounts())
	}
	for _, c := range names {
		apiAnswers(t, nc, c)
	}

	moved := h1.Accounts()
	h1.stop(t)
	runningOn(t, leases, names, "h2")
	for _, c := range moved {
		apiAnswers(t, nc, c)
	}
	if got := h2.Accounts(); !slices.Equal(got, names) {
		t.Errorf("h2 runs %v, want %v", got, names)
	}
}

// A spec deleted (stop_client) stops its account: its stop is stored, its lease is gone.
// A spec changed restarts it with its new settings.
func TestSpecDeletedStopsAccount(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h := startHost(t, srv, "h1", Off)
	clients := kv(t, nc, events.Subjects{Prefix: "qq"}.ClientsBucket())
	leases := kv(t, nc, events.Subjects{Prefix: "qq"}.LeasesBucket())
	putSpec(t, clients, "alice", simSettings(t))
	putSpec(t, clients, "bob", simSettings(t))
	runningOn(t, leases, []string{"alice", "bob"}, "h1")

	stops, err := nc.SubscribeSync(events.Subjects{Prefix: "qq", Client: "alice"}.Event(events.EventStop))
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.Delete(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := stops.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("no stop event of alice: %v", err)
	}
	waitFor(t, "alice's lease gone", func() bool { _, ok := leaseOf(t, leases, "alice"); return !ok })
	if got := h.Accounts(); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("host runs %v, want [bob]", got)
	}

	// bob's settings change: it runs again with them (a roster of its own).
	s1, _ := h.Session("bob")
	settings := simSettings(t)
	settings["SEND_BURST"] = "9"
	putSpec(t, clients, "bob", settings)
	waitFor(t, "bob restarted", func() bool {
		s2, ok := h.Session("bob")
		return ok && s2 != s1 && s2.ClientState() == events.StateRunning
	})
	apiAnswers(t, nc, "bob")
}

// A host that loses NATS stops its accounts before their leases can expire (self-fencing),
// and the other host takes them once they have.
func TestSelfFencing(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h1 := startHost(t, srv, "h1", Off)
	clients := kv(t, nc, events.Subjects{Prefix: "qq"}.ClientsBucket())
	leases := kv(t, nc, events.Subjects{Prefix: "qq"}.LeasesBucket())
	names := []string{"a", "b", "c"}
	for _, c := range names {
		putSpec(t, clients, c, simSettings(t))
	}
	runningOn(t, leases, names, "h1")
	h2 := startHost(t, srv, "h2", Off)
	_ = h2
	// Wait until h2 is live (its key), then cut h1 off NATS.
	hosts := kv(t, nc, events.HostsBucket)
	waitFor(t, "h2 registered", func() bool { _, err := hosts.Get(context.Background(), "qq.h2"); return err == nil })
	held := h1.Accounts()
	if len(held) == 0 {
		t.Fatal("h1 holds nothing")
	}
	// Watch the leases: the moment h2 holds one of h1's, h1 must run none of them any more.
	w, err := leases.WatchAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	h1.nc.Close()
	taken := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(taken) < len(held) {
		select {
		case e := <-w.Updates():
			if e == nil || gone(e) {
				continue
			}
			var l events.ClientLease
			if json.Unmarshal(e.Value(), &l) != nil || l.Host != "h2" || !slices.Contains(held, e.Key()) {
				continue
			}
			if still := h1.Accounts(); slices.Contains(still, e.Key()) {
				t.Fatalf("h2 took %s while h1 still runs it (h1: %v)", e.Key(), still)
			}
			taken[e.Key()] = true
		case <-deadline:
			t.Fatalf("h2 took only %v of %v", taken, held)
		}
	}
	runningOn(t, leases, names, "h2")
}

// The default account is declared by a host's environment and runs from it; the host is
// ready once it runs, and its own stop_client ends the host as it ended a single-account
// session.
func TestDefaultAccount(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h1 := startHost(t, srv, "h1", On)
	h2 := startHost(t, srv, "h2", Off) // declares no default: never runs it
	clients := kv(t, nc, events.Subjects{Prefix: "qq"}.ClientsBucket())
	leases := kv(t, nc, events.Subjects{Prefix: "qq"}.LeasesBucket())
	var e jetstream.KeyValueEntry
	waitFor(t, "the default spec", func() bool {
		var err error
		e, err = clients.Get(context.Background(), events.DefaultClient)
		return err == nil
	})
	var s events.ClientSpec
	if err := json.Unmarshal(e.Value(), &s); err != nil || s.Source != events.SourceEnv || s.Settings["DRIVER"] != "sim" {
		t.Fatalf("default spec %s (%v)", e.Value(), err)
	}
	runningOn(t, leases, []string{events.DefaultClient}, "h1")
	waitFor(t, "h1 ready", func() bool { return h1.Ready() == nil })
	if err := h2.Ready(); err != nil {
		t.Errorf("h2 not ready: %v", err)
	}
	apiAnswers(t, nc, "")

	if _, err := nc.Request("qq.api.stop_client", []byte("{}"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h1.done:
		if h1.err != nil {
			t.Errorf("h1 ended with %v", h1.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("h1 did not end with its default account")
	}
	if _, err := clients.Get(context.Background(), events.DefaultClient); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("default spec after its stop_client: %v, want gone", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tt := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{ID: "a_b-1"}, true},
		{Config{ID: "a.b"}, false},
		{Config{ID: "a b"}, false},
		{Config{LeaseTTL: time.Millisecond}, false},
		{Config{DefaultClient: "maybe"}, false},
		{Config{DefaultClient: "0"}, true},
	} {
		err := tt.cfg.fill()
		if (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.cfg, err)
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v is not ErrConfig", tt.cfg, err)
		}
	}
	c := Config{}
	if err := c.fill(); err != nil || !c.DefaultClient.On() {
		t.Errorf("a Config built in code declares no default account: %+v", c)
	}
	if id := DefaultID(); id != SafeID(id) || id == "" {
		t.Errorf("DefaultID %q", id)
	}
}

// A renewal refused because another host wrote the lease stops the account at once.
func TestLeaseLostStopsAccount(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h := startHost(t, srv, "h1", Off)
	clients := kv(t, nc, events.Subjects{Prefix: "qq"}.ClientsBucket())
	leases := kv(t, nc, events.Subjects{Prefix: "qq"}.LeasesBucket())
	putSpec(t, clients, "x", simSettings(t))
	runningOn(t, leases, []string{"x"}, "h1")
	intruder := events.ClientLease{Client: "x", Host: "intruder", PID: 1, State: events.StateRunning}
	if _, err := leases.Put(context.Background(), "x", events.MustMarshal(intruder)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "x stopped on h1", func() bool { return !slices.Contains(h.Accounts(), "x") })
	if l, ok := leaseOf(t, leases, "x"); ok && l.Host == "h1" {
		t.Errorf("h1 wrote over the intruder's lease: %+v", l)
	}
}

// The leases of a dead process of this machine (its pid gone) are taken over at once, not after
// LEASE_TTL: a SIGKILLed session restarted on the same machine runs its accounts again at once.
func TestDeadLocalProcessTakenOver(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	// A pid that was this machine's and is gone.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no process to spawn:", err)
	}
	dead := cmd.Process.Pid
	hostname, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Buckets whose keys live a minute: nothing expires during the test.
	subj := events.Subjects{Prefix: "qq"}
	clients, leases, hosts, err := buckets(context.Background(), js, subj, Config{LeaseTTL: time.Minute, KVReplicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	ghost := Info{ID: "ghost", PID: dead, Hostname: hostname, Prefixes: []string{"qq"}}
	if _, err := hosts.Put(context.Background(), "qq.ghost", events.MustMarshal(ghost)); err != nil {
		t.Fatal(err)
	}
	putSpec(t, clients, "g", simSettings(t))
	l := events.ClientLease{Client: "g", Host: "ghost", PID: dead, State: events.StateRunning}
	if _, err := leases.Create(context.Background(), "g", events.MustMarshal(l)); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, srv, "h1", Off)
	runningOn(t, leases, []string{"g"}, "h1")
	if got := h.Accounts(); !slices.Equal(got, []string{"g"}) {
		t.Errorf("h1 runs %v", got)
	}
}

// A host whose LEASE_TTL differs from the leases bucket's follows the bucket: its renewals
// keep its leases alive.
func TestLeaseTTLFromBucket(t *testing.T) {
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	h1 := startHost(t, srv, "h1", Off) // creates the buckets with ttl
	clients := kv(t, nc, events.Subjects{Prefix: "qq"}.ClientsBucket())
	leases := kv(t, nc, events.Subjects{Prefix: "qq"}.LeasesBucket())
	h1.stop(t)
	nc2, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc2.Close)
	base := session.Config{DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}
	h, err := New(nc2, base, Config{ID: "slow", LeaseTTL: time.Minute, DefaultClient: Off}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	putSpec(t, clients, "y", simSettings(t))
	runningOn(t, leases, []string{"y"}, "slow")
	// Renewed every ttl/3, not every 20 s: the lease outlives several bucket TTLs.
	e, err := leases.Get(context.Background(), "y")
	if err != nil {
		t.Fatal(err)
	}
	first := e.Revision()
	waitFor(t, "renewals of y", func() bool {
		e, err := leases.Get(context.Background(), "y")
		return err == nil && e.Revision() > first+3
	})
	if got := h.Accounts(); !slices.Equal(got, []string{"y"}) {
		t.Errorf("slow runs %v", got)
	}
}
