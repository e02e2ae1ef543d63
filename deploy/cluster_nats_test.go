package deploy

// The system on a 3-node NATS cluster (docker-compose.yml's and make run-cluster's), under a
// steady load, when the nats-server that leads a stream or a bucket it uses is SIGKILLed and
// then restarted: calls fail only while the services and the cluster recover (the gap is
// measured and logged, never bounded: on 2 shared cores an R3 cluster is slow, NATS.md), and no
// accepted event is lost at the post_api receiver.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

var subj = events.Subjects{Prefix: events.DefaultPrefix}

// The event stream's leader: the session's publishes (injections) need it to be stored.
func TestClusterNATSStreamLeaderKilled(t *testing.T) {
	leaderKill(t, subj.Stream(), nil)
}

// The leader of the reporters bucket (QQ_REPORTERS), which the reporters renew their entries
// in and watch to share a target's partitions: POST_PARTITIONS=2 over two reporters makes them
// use it.
func TestClusterNATSKVLeaderKilled(t *testing.T) {
	leaderKill(t, "KV_"+subj.ReportersBucket(), map[string]string{"POST_PARTITIONS": "2"})
}

// The leader of the leases bucket (QQ_LEASES), where the session host renews the lease of the
// account it runs: while no leader is elected no renewal lands, and none can take the lease
// either.
func TestClusterNATSLeasesLeaderKilled(t *testing.T) {
	leaderKill(t, "KV_"+subj.LeasesBucket(), nil)
}

// leaderKill runs the load on a 3-node cluster, SIGKILLs the leader of stream, restarts it,
// and checks that every probe recovers and every accepted message reaches post_api.
func leaderKill(t *testing.T, stream string, extra map[string]string) {
	needCluster(t)
	start := time.Now()
	s := newSink(t, 0)
	c := newCluster(t, withEnv(retryEnv, "POST_API", s.URL()))
	for k, v := range extra {
		c.env[k] = v
	}
	c.useNATSCluster(3)
	c.startNATSCluster()
	c.startAll(2, false)
	c.waitAPI(60 * time.Second) // an R3 stream on 2 shared cores may take a while to create
	nc := c.connect()
	waitReplicas(t, nc, stream, 3, 60*time.Second)
	t.Logf("3-node cluster and services ready in %s", time.Since(start).Round(time.Millisecond))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := startProbe(ctx, "get_user_info", 50*time.Millisecond, func(ctx context.Context) error {
		status, body, _ := get(c.apiURL("get_user_info"), apiTimeout+time.Second)
		if status != http.StatusOK {
			return fmt.Errorf("HTTP %d %.100s", status, body)
		}
		return nil
	})
	probes := []*probe{api}
	if kv := bucketOf(stream); kv != "" {
		// A write to the bucket, as the reporters' renewals are (a key of no target's).
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		probes = append(probes, startProbe(ctx, "kv put", 50*time.Millisecond, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, apiTimeout)
			defer cancel()
			b, err := js.KeyValue(ctx, kv)
			if err == nil {
				_, err = b.PutString(ctx, "cluster-test.probe", time.Now().String())
			}
			return err
		}))
	}
	// Messages at a steady rate, each retried until the session accepts it (stores it on the
	// stream); every attempt is a probe result.
	in := &injector{nc: nc}
	inj := newProbe("inject")
	probes = append(probes, inj)
	load := paced(ctx, in, inj, 25*time.Millisecond)

	waitFor(t, "the first 100 accepted injections", 60*time.Second, func() bool { return in.count() >= 100 })
	for _, p := range probes {
		if n, _, _, err := p.failures(time.Time{}, time.Now()); n > 0 {
			t.Errorf("%s: %d failures before anything was killed (%v)", p.name, n, err)
		}
	}

	// Kill the leader, on the node the session is connected to: the stream (or bucket) loses
	// its leader and the session its server at once, the worst case.
	conns := c.connections()
	leader := ""
	for node, names := range conns {
		if slices.Contains(names, "openqq-session") {
			leader = node
		}
	}
	if leader == "" {
		t.Fatalf("the session is connected to no node: %v", conns)
	}
	moveLeader(t, nc, stream, leader)
	t.Logf("connections: %v; %s leads %s", conns, leader, stream)
	victim := c.node(leader)
	killed := time.Now()
	if !victim.proc.Signal(syscall.SIGKILL, 5*time.Second) {
		t.Fatalf("%s did not die of SIGKILL", leader)
	}
	atKill := in.count()
	newLeader := streamLeader(t, nc, stream, leader)
	t.Logf("%s, leader of %s, killed after %d accepted injections; %s leads it %s later",
		leader, stream, atKill, newLeader, time.Since(killed).Round(time.Millisecond))
	for _, p := range probes {
		p.waitRecovered(t, killed, 90*time.Second)
	}
	logGaps(t, "after the kill", killed, probes)

	// Restart it, on the same ports and store: it catches up and the load goes on.
	restarted := time.Now()
	c.startNode(victim)
	waitReplicas(t, nc, stream, 3, 90*time.Second)
	t.Logf("%s restarted: %s has 3 current replicas again %s later", leader, stream, time.Since(restarted).Round(time.Millisecond))
	target := in.count() + 100
	waitFor(t, "100 more accepted injections", 60*time.Second, func() bool { return in.count() >= target })
	for _, p := range probes {
		p.waitRecovered(t, restarted, 90*time.Second)
	}
	logGaps(t, "after the restart", restarted, probes)

	cancel()
	load.Wait()
	ids := in.ids()
	took := s.waitDelivered(t, ids, 90*time.Second)
	distinct, dups, posts, abandoned, maxTry := s.stats()
	t.Logf("injected %d accepted (%d retried attempts), delivered %d distinct, %d duplicates, %d posts, %d abandoned, max attempt %d; all delivered %s after the last injection; test took %s",
		len(ids), in.retries.Load(), distinct, dups, posts, abandoned, maxTry, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for _, n := range c.names() {
		if err := c.service(n).Crashed(); err != nil {
			t.Error(err)
		}
	}
}

// bucketOf is the KV bucket whose stream is stream, or "".
func bucketOf(stream string) string {
	b, _ := strings.CutPrefix(stream, "KV_")
	if b == stream {
		return ""
	}
	return b
}

// streamLeader waits until stream has a leader other than not, and returns its server name.
func streamLeader(t *testing.T, nc *nats.Conn, stream, not string) string {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	waitFor(t, "a leader of "+stream, 90*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		info, err := st.Info(ctx)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != "" && leader != not
	})
	return leader
}

// moveLeader makes node the leader of stream (a leader step-down with node preferred).
func moveLeader(t *testing.T, nc *nats.Conn, stream, node string) {
	t.Helper()
	waitFor(t, node+" leading "+stream, 90*time.Second, func() bool {
		if streamLeader(t, nc, stream, "") == node {
			return true
		}
		req, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": node}})
		_, _ = nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+stream, req, 5*time.Second)
		waitFor(t, "a leader of "+stream, 30*time.Second, func() bool { return streamLeader(t, nc, stream, "") != "" })
		return streamLeader(t, nc, stream, "") == node
	})
}

// connections are the names of the clients connected to each node.
func (c *cluster) connections() map[string][]string {
	c.t.Helper()
	out := map[string][]string{}
	for _, n := range c.nodes {
		var connz struct {
			Conns []struct {
				Name string `json:"name"`
			} `json:"connections"`
		}
		getJSON(c.t, fmt.Sprintf("http://127.0.0.1:%d/connz", n.http), &connz)
		for _, cn := range connz.Conns {
			out[n.name] = append(out[n.name], cn.Name)
		}
		slices.Sort(out[n.name])
	}
	return out
}

// waitFor waits until ok holds (checked every 20 ms), failing the test after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// paced starts an injection every interval until ctx ends, each retried until accepted (or ctx
// ends), every attempt recorded in p. Wait on the result for the injections in flight.
func paced(ctx context.Context, in *injector, p *probe, interval time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			content := "p" + strconv.Itoa(i)
			wg.Go(func() {
				for {
					began := time.Now()
					id, err := in.injectOnce(content)
					p.record(began, err)
					if err == nil {
						in.mu.Lock()
						in.accepted = append(in.accepted, id)
						in.mu.Unlock()
						return
					}
					in.retries.Add(1)
					select {
					case <-ctx.Done():
						return
					case <-time.After(100 * time.Millisecond):
					}
				}
			})
		}
	})
	return &wg
}

// ---- probes ----

// probe records the outcome of calls of one kind over time.
type probe struct {
	name    string
	mu      sync.Mutex
	results []probeResult
	changed chan struct{}
}

type probeResult struct {
	at   time.Time // when the call ended
	took time.Duration
	err  error
}

func newProbe(name string) *probe { return &probe{name: name, changed: make(chan struct{})} }

// startProbe calls call every interval until ctx ends.
func startProbe(ctx context.Context, name string, interval time.Duration, call func(context.Context) error) *probe {
	p := newProbe(name)
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			began := time.Now()
			err := call(ctx)
			if ctx.Err() != nil {
				return
			}
			p.record(began, err)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *probe) record(began time.Time, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results = append(p.results, probeResult{time.Now(), time.Since(began), err})
	close(p.changed)
	p.changed = make(chan struct{})
}

// failures are the failed calls that ended in [from, to): how many, the first and the last
// one's time, and the last error.
func (p *probe) failures(from, to time.Time) (n int, first, last time.Time, lastErr error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.results {
		if r.err == nil || r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		if n == 0 {
			first = r.at
		}
		n++
		last, lastErr = r.at, r.err
	}
	return n, first, last, lastErr
}

// calls are how many calls ended in [from, to), and the longest one.
func (p *probe) calls(from, to time.Time) (n int, longest time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.results {
		if !r.at.Before(from) && r.at.Before(to) {
			n++
			longest = max(longest, r.took)
		}
	}
	return n, longest
}

// recovered reports whether the calls since from end with a run of successes: at least 20,
// over at least a second.
func (p *probe) recovered(from time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	var oldest time.Time
	for i := len(p.results) - 1; i >= 0 && !p.results[i].at.Before(from); i-- {
		if p.results[i].err != nil {
			break
		}
		n++
		oldest = p.results[i].at
	}
	return n >= 20 && len(p.results) > 0 && p.results[len(p.results)-1].at.Sub(oldest) >= time.Second
}

// waitRecovered waits until the probe recovered since from (checked at each call); the gap
// must end, however long it takes, within timeout.
func (p *probe) waitRecovered(t *testing.T, from time.Time, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		if p.recovered(from) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			n, _, _, err := p.failures(from, time.Now())
			t.Fatalf("%s: no run of successes within %s (%d failures since, last: %v)", p.name, timeout, n, err)
		}
	}
}

// logGaps logs, for each probe, its calls since from: the failures (the gap is from the event
// to the last failure) and the longest call (a call that waited out the recovery instead of
// failing).
func logGaps(t *testing.T, when string, from time.Time, probes []*probe) {
	t.Helper()
	now := time.Now()
	for _, p := range probes {
		calls, longest := p.calls(from, now)
		n, first, last, err := p.failures(from, now)
		if n == 0 {
			t.Logf("%s: %s: %d calls, no failure, the longest took %s", when, p.name, calls, longest.Round(time.Millisecond))
			continue
		}
		t.Logf("%s: %s: %d calls, %d failed from %s to %s after it (gap %s), the longest took %s; last error: %v", when, p.name,
			calls, n, first.Sub(from).Round(time.Millisecond), last.Sub(from).Round(time.Millisecond),
			last.Sub(from).Round(time.Millisecond), longest.Round(time.Millisecond), err)
	}
}
