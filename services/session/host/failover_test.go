package host

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

func TestMain(m *testing.M) { proctest.Main(m) }

// friend is a friend of the simulated account's built-in roster: the peer of every
// conversation the failover test injects.
const friend = 2372835507

// The proof, with real openqq-session processes: 200 simulated accounts on 2 hosts,
// messages injected into every one at a steady rate (an injection that gets no answer or a
// refusal is retried until accepted; only accepted ones count); SIGKILL one host: its accounts
// run on the other within the lease time, their API answers again, no accepted message is
// missing from the stream and each conversation's order is the stream's. Then everything is
// killed and started again: every account is back, with its settings.
func TestFailoverProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("200 accounts on 2 openqq-session processes (skipped with -short)")
	}
	const (
		n      = 200
		ttl    = 5 * time.Second
		period = time.Second // between two messages of one account
	)
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	bin, err := proctest.Binaries(context.Background(), proctest.BinSession)
	if err != nil {
		t.Fatal(err)
	}
	g, err := proctest.NewGroup(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			g.LogOutputs(t, 80)
		}
		g.StopAll()
	})
	start := func(id string) *proctest.Proc {
		p, err := g.Start(id, proctest.BinSession, map[string]string{
			"NATS_URL": srv.ClientURL(), "HOST_ID": id, "LEASE_TTL": ttl.String(), "DEFAULT_CLIENT": "false",
			"HEALTH_ADDR": "", "LOG_LEVEL": "info",
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostA, hostB := start("A"), start("B")
	prefix := events.Subjects{Prefix: "qq"}
	clients := kv(t, nc, prefix.ClientsBucket())
	leases := kv(t, nc, prefix.LeasesBucket())
	names := make([]string, n)
	levels := map[string]string{}
	qrDir := t.TempDir()
	for i := range names {
		c := fmt.Sprintf("acct%03d", i)
		names[i] = c
		// A setting of its own that get_client_info shows: it must survive the restart.
		levels[c] = []string{"debug", "warn", "error"}[i%3]
		putSpec(t, clients, c, map[string]string{"DRIVER": "sim", "SIM_QRCODE_DIR": qrDir, "LOG_LEVEL": levels[c]})
	}
	began := time.Now()
	where := runningOnWithin(t, leases, names, time.Minute, "A", "B")
	t.Logf("%d accounts running on 2 hosts in %s", n, time.Since(began).Round(time.Millisecond))

	// Inject into every account at a steady rate until stop, each message retried until
	// accepted.
	stop, abandon := make(chan struct{}), make(chan struct{})
	acc := make([][]int, n) // per account, the accepted sequence numbers
	var wg sync.WaitGroup
	for i, c := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subj := events.Subjects{Prefix: "qq", Client: c}.SimInject()
			tick := time.NewTicker(period)
			defer tick.Stop()
			for seq := 0; ; seq++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				body, _ := json.Marshal(events.Injection{Type: events.FriendMessage, SenderID: friend, Content: fmt.Sprintf("%s #%d", c, seq)})
				for !injected(nc, subj, body) {
					select {
					case <-abandon:
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
				acc[i] = append(acc[i], seq)
			}
		}()
	}
	time.Sleep(3 * period) // a few messages each before the kill

	var onA []string
	for _, c := range names {
		if where[c] == "A" {
			onA = append(onA, c)
		}
	}
	if len(onA) == 0 {
		t.Fatal("host A runs no account")
	}
	killed := time.Now()
	if !hostA.Signal(syscall.SIGKILL, 10*time.Second) {
		t.Fatal("host A did not die")
	}
	runningOnWithin(t, leases, onA, time.Minute, "B")
	failover := time.Since(killed)
	t.Logf("failover: %d accounts of the killed host running on the other %s after SIGKILL (LEASE_TTL %s)",
		len(onA), failover.Round(time.Millisecond), ttl)
	if failover > 2*ttl {
		t.Errorf("failover took %s, over twice the lease time %s", failover, ttl)
	}
	for _, c := range onA {
		apiAnswers(t, nc, c)
	}
	time.Sleep(2 * period) // messages after the failover too
	close(stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		close(abandon)
		<-done
		t.Error("injections still not accepted a minute after the failover")
	}

	// Every accepted message is in the stream, each account's in the order it was accepted.
	total := 0
	for i := range acc {
		total += len(acc[i])
	}
	stored := streamSeqs(t, nc, prefix)
	for i, c := range names {
		first := firstOccurrences(stored[c])
		for _, seq := range acc[i] {
			if !slices.Contains(first, seq) {
				t.Errorf("%s #%d was accepted and is not in the stream", c, seq)
			}
		}
		if !slices.IsSorted(first) {
			t.Errorf("%s: the stream holds its messages in the order %v", c, first)
		}
	}
	t.Logf("%d accepted messages, every one in the stream in order", total)

	// Restart everything: every account back, with its settings.
	hostB.Signal(syscall.SIGKILL, 10*time.Second)
	began = time.Now()
	newA, newB := start("A"), start("B")
	// Running under the new processes' leases (the killed ones' may still be there).
	pids := []int{newA.Pid(), newB.Pid()}
	waitLeases(t, leases, names, time.Minute, func(l events.ClientLease) bool {
		return l.State == events.StateRunning && slices.Contains(pids, l.PID)
	})
	t.Logf("after a restart of everything, %d accounts running again in %s", n, time.Since(began).Round(time.Millisecond))
	for _, c := range names {
		subj := events.Subjects{Prefix: "qq", Client: c}.API(events.RouteGetClientInfo)
		r, err := nc.Request(subj, []byte("{}"), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subj, err)
		}
		var info events.ClientInfo
		if err := json.Unmarshal(r.Data, &info); err != nil || info.LogLevel != levels[c] {
			t.Errorf("%s after the restart: %s (%v), want log_level %s", c, r.Data, err, levels[c])
		}
	}
}

// injected reports whether the injection was accepted.
func injected(nc *nats.Conn, subj string, body []byte) bool {
	m, err := nc.Request(subj, body, 3*time.Second)
	if err != nil {
		return false
	}
	var r events.InjectReply
	return json.Unmarshal(m.Data, &r) == nil && r.Code == events.CodeOK
}

// streamSeqs reads the friend messages of every account from the stream, in stream order:
// per account, the sequence numbers their content carries.
func streamSeqs(t *testing.T, nc *nats.Conn, prefix events.Subjects) map[string][]int {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, prefix.Stream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: prefix.EventFilters([]string{string(events.FriendMessage)}),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int{}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 {
			return out
		}
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			var msg struct {
				Content string `json:"content"`
			}
			if err := json.Unmarshal(m.Data(), &msg); err != nil {
				t.Fatalf("%s: %s: %v", m.Subject(), m.Data(), err)
			}
			var c string
			var seq int
			if _, err := fmt.Sscanf(msg.Content, "%s #%d", &c, &seq); err != nil {
				t.Fatalf("%s: content %q: %v", m.Subject(), msg.Content, err)
			}
			out[c] = append(out[c], seq)
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
}

// firstOccurrences is seqs without its repeats (a retried injection whose first answer was
// lost may be stored twice), in order of first occurrence.
func firstOccurrences(seqs []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, s := range seqs {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// runningOnWithin is runningOn with its own deadline.
func runningOnWithin(t *testing.T, leases jetstream.KeyValue, clients []string, within time.Duration, hosts ...string) map[string]string {
	t.Helper()
	return waitLeases(t, leases, clients, within, func(l events.ClientLease) bool {
		return l.State == events.StateRunning && slices.Contains(hosts, l.Host)
	})
}

// waitLeases waits until the lease of every client satisfies ok, and returns where each runs.
func waitLeases(t *testing.T, leases jetstream.KeyValue, clients []string, within time.Duration, ok func(events.ClientLease) bool) map[string]string {
	t.Helper()
	where := map[string]string{}
	deadline := time.Now().Add(within)
	for {
		all := true
		for _, c := range clients {
			l, found := leaseOf(t, leases, c)
			if !found || !ok(l) {
				all = false
				break
			}
			where[c] = l.Host
		}
		if all {
			return where
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leases of %d accounts not all as wanted within %s", len(clients), within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
