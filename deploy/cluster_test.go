package deploy

// The multi-process topology of scripts/run-cluster.sh (a real nats-server with JetStream on a
// file store, session, gateway, two reporters, poller), with the failures a deployment meets:
// NATS restarting, the session killed, a reporter killed. Nothing accepted may be lost.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// retryEnv are small time-outs and back-offs, so that redeliveries come quickly.
var retryEnv = map[string]string{
	"POST_RETRY_MIN": "100ms",
	"POST_RETRY_MAX": "1s",
	"POST_TIMEOUT":   "2s",
	"API_TIMEOUT":    "2s",
}

const apiTimeout = 2 * time.Second

func withEnv(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestClusterNATSRestart(t *testing.T) {
	needCluster(t)
	start := time.Now()
	s := newSink(t, 0)
	c := newCluster(t, withEnv(retryEnv, "POST_API", s.URL()))
	c.startNATS()
	c.startAll(2, true)
	c.waitAPI(10 * time.Second)
	t.Logf("cluster ready in %s", time.Since(start).Round(time.Millisecond))

	in := &injector{nc: c.connect()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// 300 messages, NATS stopped once half of them are in. The sink holds its answers until
	// NATS is back, so that what was accepted before the stop is in the file store only.
	s.pause()
	phase1 := make(chan error, 1)
	go func() { phase1 <- in.injectRange(ctx, 0, 300, 1) }()
	for in.count() < 150 {
		select {
		case err := <-phase1:
			t.Fatalf("the first 300 were in before NATS could be stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if !c.nats.StopWithin(10 * time.Second) {
		t.Errorf("nats-server did not stop within 10s of SIGTERM")
	}
	atStop := in.count()
	t.Logf("nats-server stopped after %d accepted injections", atStop)

	// While NATS is away: a prompt 503 JSON answer, never a hang, at each stage of the outage:
	// at once, once the gateway has noticed (its /readyz says so), and once every service has;
	// then nothing is ready.
	c.checkUnavailable(apiTimeout + time.Second)
	c.waitNotReady(5*time.Second, "gateway")
	c.checkUnavailable(apiTimeout + time.Second)
	c.waitNotReady(5*time.Second, c.names()...)
	c.checkUnavailable(apiTimeout + time.Second)

	// The same port and store again: every service comes back by itself.
	back := time.Now()
	c.startNATS()
	c.waitReady(30*time.Second, c.names()...)
	c.waitAPI(15 * time.Second)
	t.Logf("every service ready again %s after nats-server restarted", time.Since(back).Round(time.Millisecond))
	if d, _, _, _, _ := s.stats(); d != 0 {
		t.Errorf("%d messages delivered while the sink held its answers", d)
	}
	s.resume()

	if err := <-phase1; err != nil {
		t.Fatalf("first 300: %v", err)
	}
	if err := in.injectRange(ctx, 300, 600, 1); err != nil {
		t.Fatalf("next 300: %v", err)
	}
	ids := in.ids()
	took := s.waitDelivered(t, ids, 60*time.Second)
	distinct, dups, posts, abandoned, maxTry := s.stats()
	t.Logf("injected %d accepted (%d retried attempts), delivered %d distinct, %d duplicates, %d posts, %d abandoned, max attempt %d; all delivered %s after the last injection; test took %s",
		len(ids), in.retries.Load(), distinct, dups, posts, abandoned, maxTry, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if len(ids) != 600 {
		t.Errorf("%d injections accepted, want 600", len(ids))
	}
}

func TestClusterSessionRestart(t *testing.T) {
	needCluster(t)
	start := time.Now()
	s := newSink(t, 0)
	c := newCluster(t, withEnv(retryEnv, "POST_API", s.URL()))
	c.startNATS()
	c.startAll(1, false)
	c.waitAPI(10 * time.Second)

	in := &injector{nc: c.connect()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := in.injectRange(ctx, 0, 50, 1); err != nil {
		t.Fatal(err)
	}
	s.waitDelivered(t, in.ids(), 30*time.Second)

	old := c.service("session")
	if !old.Signal(syscall.SIGKILL, 5*time.Second) {
		t.Fatal("the session did not die of SIGKILL")
	}
	t.Logf("session killed (%v)", exitErr(old))
	c.waitUnavailable(2*apiTimeout + time.Second)
	// From then on nothing changes until a session comes back (no responders is the NATS
	// server's answer at once): every call is a prompt 503, before and after a refused injection.
	for range 3 {
		c.checkUnavailable(apiTimeout + time.Second)
	}
	if _, err := in.injectOnce("while the session is away"); err == nil {
		t.Errorf("an injection was accepted with no session running")
	}
	c.checkUnavailable(apiTimeout + time.Second)

	back := time.Now()
	c.startService("session", "session", nil)
	c.waitReady(30*time.Second, "session")
	c.waitAPI(10 * time.Second)
	t.Logf("new session logged in and answering %s after it started", time.Since(back).Round(time.Millisecond))
	if !c.service("session").Contains("logged in") {
		t.Errorf("the new session did not log \"logged in\"")
	}

	if err := in.injectRange(ctx, 50, 150, 1); err != nil {
		t.Fatal(err)
	}
	ids := in.ids()
	took := s.waitDelivered(t, ids, 30*time.Second)
	c.waitReady(5*time.Second, c.names()...)
	distinct, dups, posts, abandoned, maxTry := s.stats()
	t.Logf("injected %d accepted (%d retried attempts), delivered %d distinct, %d duplicates, %d posts, %d abandoned, max attempt %d; all delivered %s after the last injection; test took %s",
		len(ids), in.retries.Load(), distinct, dups, posts, abandoned, maxTry, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func TestClusterReporterKilled(t *testing.T) {
	needCluster(t)
	start := time.Now()
	s := newSink(t, 5*time.Millisecond)
	// AckWait of a killed reporter's items: POST_TIMEOUT + 2*API_TIMEOUT + 5s = 9s.
	const concurrency = 4
	c := newCluster(t, map[string]string{
		"POST_API":         s.URL(),
		"POST_RETRY_MIN":   "100ms",
		"POST_RETRY_MAX":   "1s",
		"POST_TIMEOUT":     "2s",
		"API_TIMEOUT":      "1s",
		"POST_CONCURRENCY": strconv.Itoa(concurrency),
	})
	c.startNATS()
	c.startAll(2, false)

	in := &injector{nc: c.connect()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- in.injectRange(ctx, 0, 1000, 8) }()

	// Kill reporter-1 while both are delivering: hold the sink's answers until both have
	// POST_CONCURRENCY items in flight, so that the victim surely dies with items in hand.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d, _, _, _, _ := s.stats(); d >= 250 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("delivery did not get going")
		}
		time.Sleep(time.Millisecond)
	}
	s.pause()
	full := time.Now().Add(time.Second)
	for s.inflight() < 2*concurrency && time.Now().Before(full) {
		time.Sleep(time.Millisecond)
	}
	inflight := s.inflight()
	victim := c.service("reporter-1")
	if !victim.Signal(syscall.SIGKILL, 5*time.Second) {
		t.Fatal("reporter-1 did not die of SIGKILL")
	}
	s.resume()
	d, _, _, _, _ := s.stats()
	t.Logf("reporter-1 killed with %d delivered, %d accepted, %d POSTs in flight at the sink (both reporters: %d)", d, in.count(), inflight, 2*concurrency)

	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ids := in.ids()
	took := s.waitDelivered(t, ids, 45*time.Second)
	c.waitReady(5*time.Second, "reporter-2", "session")
	distinct, dups, posts, abandoned, maxTry := s.stats()
	t.Logf("injected %d accepted (%d retried attempts), delivered %d distinct, %d duplicates, %d posts, %d abandoned by the killed reporter, max attempt %d; all delivered %s after the last injection; test took %s",
		len(ids), in.retries.Load(), distinct, dups, posts, abandoned, maxTry, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if len(ids) != 1000 {
		t.Errorf("%d injections accepted, want 1000", len(ids))
	}
	if inflight == 2*concurrency && abandoned == 0 {
		t.Errorf("reporter-1 had %d POSTs in flight when it was killed, yet none was abandoned", concurrency)
	}
}

// TestRunClusterScript runs `make run-cluster`'s script on ports of its own (its defaults are
// the fixed ones of make run-cluster, which may be in use): three nats-server nodes clustered
// with a JetStream meta leader, the services given every node's URL, the event stream and the
// reporters' bucket replicated on the three, the API answering. Under -short it only checks the
// script's syntax.
func TestRunClusterScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if out, err := exec.Command(bash, "-n", "../scripts/run-cluster.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/run-cluster.sh: %v\n%s", err, out)
	}
	needCluster(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl: the script waits with it")
	}
	script, err := filepath.Abs("../scripts/run-cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := newSink(t, 0)
	natsPort, routePort, monPort := proctest.MustFreePorts(t, 3), proctest.MustFreePorts(t, 3), proctest.MustFreePorts(t, 3)
	httpPort, healthPort := proctest.MustFreePort(t), proctest.MustFreePorts(t, 9)
	g, err := proctest.NewGroup(binDir, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.Start("run-cluster", bash, map[string]string{
		"CLUSTER_BIN": binDir, "CLUSTER_DATA": filepath.Join(dir, "data"),
		"CLUSTER_NATS_PORT": strconv.Itoa(natsPort), "CLUSTER_ROUTE_PORT": strconv.Itoa(routePort),
		"CLUSTER_MONITOR_PORT": strconv.Itoa(monPort), "CLUSTER_HEALTH_PORT": strconv.Itoa(healthPort),
		"HTTP_ADDR": fmt.Sprintf("127.0.0.1:%d", httpPort), "SIM_QRCODE_DIR": dir,
		"WX_ENABLED": "false", "POST_API": s.URL(), "POST_PARTITIONS": "2",
	}, script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.StopWithin(30 * time.Second) {
			t.Errorf("run-cluster.sh still running 30s after SIGTERM")
		}
		if t.Failed() {
			g.LogOutputs(t, 300)
		}
	})
	if err := proctest.Poll(context.Background(), 90*time.Second, p, func() bool { return p.Contains("[cluster] ready") },
		func() string { return proctest.TailLines(p.Output(), 20) }); err != nil {
		t.Fatalf("run-cluster.sh not ready: %v", err)
	}

	// Three nodes, named nats-1..3, each routed to the other two, one meta leader they agree on.
	var leaders []string
	for i := range 3 {
		mon := fmt.Sprintf("http://127.0.0.1:%d", monPort+i)
		var varz struct {
			Name    string `json:"server_name"`
			Cluster struct {
				Name string `json:"name"`
			} `json:"cluster"`
		}
		getJSON(t, mon+"/varz", &varz)
		if want := fmt.Sprintf("nats-%d", i+1); varz.Name != want || varz.Cluster.Name != "openqq" {
			t.Errorf("node %d: server_name %q in cluster %q, want %s in openqq", i+1, varz.Name, varz.Cluster.Name, want)
		}
		var routez struct {
			Routes []struct {
				Name string `json:"remote_name"`
			} `json:"routes"`
		}
		getJSON(t, mon+"/routez", &routez)
		peers := map[string]bool{}
		for _, r := range routez.Routes {
			peers[r.Name] = true
		}
		if len(peers) != 2 {
			t.Errorf("node %d routes to %v, want the other two nodes", i+1, peers)
		}
		var jsz struct {
			Meta struct {
				Leader string `json:"leader"`
				Size   int    `json:"cluster_size"`
			} `json:"meta_cluster"`
		}
		getJSON(t, mon+"/jsz", &jsz)
		if jsz.Meta.Size != 3 || jsz.Meta.Leader == "" {
			t.Errorf("node %d: JetStream meta group of %d, leader %q; want 3 and a leader", i+1, jsz.Meta.Size, jsz.Meta.Leader)
		}
		leaders = append(leaders, jsz.Meta.Leader)
	}
	if leaders[0] != leaders[1] || leaders[1] != leaders[2] {
		t.Errorf("the nodes disagree on the meta leader: %v", leaders)
	}

	status, body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/openqq/get_user_info", httpPort), 10*time.Second)
	if status != http.StatusOK {
		t.Errorf("get_user_info: %d %s", status, body)
	}

	// Every service on every node's URL; the stream and the bucket on the three nodes.
	var urls []string
	for i := range 3 {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", natsPort+i))
	}
	for _, name := range []string{"session", "gateway", "reporter-1", "reporter-2", "poller"} {
		if !p.Contains("[" + name + "] ") {
			t.Errorf("%s did not start", name)
		}
	}
	if !p.Contains("NATS cluster " + strings.Join(urls, ",")) {
		t.Errorf("the services were not given every node's URL %v", urls)
	}
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub := events.Subjects{Prefix: events.DefaultPrefix}
	for _, stream := range []string{sub.Stream(), "KV_" + sub.ReportersBucket()} {
		waitReplicas(t, nc, stream, 3, 30*time.Second)
	}
}

// getJSON GETs url and decodes its JSON into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, body, _ := get(url, 5*time.Second)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// waitReplicas waits until stream exists with want replicas, every one of them current.
func waitReplicas(t *testing.T, nc *nats.Conn, stream string, want int, timeout time.Duration) {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	err = proctest.Poll(context.Background(), timeout, nil, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			last = err.Error()
			return false
		}
		info, err := s.Info(ctx)
		if err != nil {
			last = err.Error()
			return false
		}
		ci := info.Cluster
		if info.Config.Replicas != want || ci == nil || ci.Leader == "" || len(ci.Replicas) != want-1 {
			last = fmt.Sprintf("config %d replicas, cluster %+v", info.Config.Replicas, ci)
			return false
		}
		for _, r := range ci.Replicas {
			if !r.Current {
				last = fmt.Sprintf("replica %s not current", r.Name)
				return false
			}
		}
		return true
	}, func() string { return last })
	if err != nil {
		t.Errorf("stream %s: want %d current replicas: %v", stream, want, err)
	}
}
