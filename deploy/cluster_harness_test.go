package deploy

// The harness of the cluster tests (cluster_test.go): the multi-process topology of
// scripts/run-cluster.sh, built from source once in TestMain, on ports picked at random so that
// the tests run next to `make run` or `make run-cluster`.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

// binDir holds the binaries TestMain built; buildErr says why they are missing.
var (
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		binDir, buildErr = proctest.Binaries(context.Background(),
			proctest.BinSession, proctest.BinGateway, proctest.BinReporter, proctest.BinPoller, proctest.BinNATS)
	}
	code := m.Run()
	proctest.RemoveBinaries()
	os.Exit(code)
}

// needCluster skips under -short and fails when the binaries could not be built.
func needCluster(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster test: starts nats-server and the service binaries (skipped with -short)")
	}
	if buildErr != nil {
		t.Fatalf("building the binaries: %v", buildErr)
	}
}

// proc is one started process.
type proc = proctest.Proc

// exitErr is how p ended (nil while it runs).
func exitErr(p *proc) error {
	_, err := p.Exited()
	return err
}

// ---- the cluster ----

// cluster is one test's topology: a nats-server with JetStream on a file store, and the
// services around it.
type cluster struct {
	t        *testing.T
	dir      string
	natsPort int
	natsHTTP int
	natsURL  string
	httpPort int               // the gateway's API
	health   map[string]int    // HEALTH_ADDR port by process name
	env      map[string]string // settings every service gets

	group *proctest.Group // every process started, in order, for logs and clean-up
	mu    sync.Mutex
	nats  *proc
	nodes []*natsNode      // the nodes of a NATS cluster (useNATSCluster), else none
	svc   map[string]*proc // the current process of each service name
}

// natsNode is one nats-server of a cluster: its name (server_name), ports and store, the same
// at every start.
type natsNode struct {
	name                  string
	port, http, routePort int
	proc                  *proc
}

func (n *natsNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

func newCluster(t *testing.T, env map[string]string) *cluster {
	t.Helper()
	needCluster(t)
	c := &cluster{
		t: t, dir: t.TempDir(),
		natsPort: proctest.MustFreePort(t), natsHTTP: proctest.MustFreePort(t), httpPort: proctest.MustFreePort(t),
		health: map[string]int{}, svc: map[string]*proc{},
	}
	c.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", c.natsPort)
	c.env = map[string]string{
		"NATS_URL":       c.natsURL,
		"HTTP_ADDR":      fmt.Sprintf("127.0.0.1:%d", c.httpPort),
		"SIM_QRCODE_DIR": filepath.Join(c.dir, "qrcode"),
		"LOG_LEVEL":      "info",
	}
	if err := os.MkdirAll(c.env["SIM_QRCODE_DIR"], 0o755); err != nil {
		t.Fatal(err)
	}
	g, err := proctest.NewGroup(binDir, c.dir)
	if err != nil {
		t.Fatal(err)
	}
	c.group = g
	for k, v := range env {
		c.env[k] = v
	}
	t.Cleanup(c.cleanup)
	return c
}

// cleanup kills what is left and, when the test failed, logs every process's output.
func (c *cluster) cleanup() {
	procs := c.group.Procs()
	// services first, NATS last, as run-cluster.sh does, so that they drain into it
	var order []*proc
	isNATS := func(p *proc) bool { return p.Name == "nats" || strings.HasPrefix(p.Name, "nats-") }
	for i := len(procs) - 1; i >= 0; i-- {
		if !isNATS(procs[i]) {
			order = append(order, procs[i])
		}
	}
	for _, p := range procs {
		if isNATS(p) {
			order = append(order, p)
		}
	}
	for _, p := range order {
		if ended, _ := p.Exited(); !ended {
			start := time.Now()
			if !p.StopWithin(5 * time.Second) {
				c.t.Logf("%s: still running 5s after SIGTERM, killed", p.Name)
			} else if took := time.Since(start); took > time.Second {
				c.t.Logf("%s: took %s to stop on SIGTERM", p.Name, took.Round(time.Millisecond))
			}
		}
	}
	if c.t.Failed() {
		c.group.LogOutputs(c.t, 400)
	}
}

// start runs binary as name with the cluster's settings plus extra.
func (c *cluster) start(name, binary string, args []string, extra map[string]string) *proc {
	c.t.Helper()
	env := map[string]string{}
	for k, v := range c.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	p, err := c.group.Start(name, binary, env, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

// startNATS starts nats-server on the cluster's port and store, the same every time.
func (c *cluster) startNATS() *proc {
	c.t.Helper()
	p := c.start("nats", "nats-server", []string{
		"--jetstream", "--store_dir", filepath.Join(c.dir, "nats"),
		"--addr", "127.0.0.1", "--port", strconv.Itoa(c.natsPort), "--http_port", strconv.Itoa(c.natsHTTP),
	}, nil)
	c.nats = p
	c.waitHTTP(p, fmt.Sprintf("http://127.0.0.1:%d/healthz", c.natsHTTP), 20*time.Second)
	return p
}

// useNATSCluster makes the cluster's NATS a cluster of n nodes (nats-1..n, routed to each
// other on loopback, JetStream on a store each), as docker-compose.yml and run-cluster.sh run
// it: every service is given every node's URL, and every stream and bucket n replicas. Call it
// before starting anything; then startNATSCluster instead of startNATS.
func (c *cluster) useNATSCluster(n int) {
	c.t.Helper()
	var urls []string
	for i := 1; i <= n; i++ {
		node := &natsNode{name: fmt.Sprintf("nats-%d", i),
			port: proctest.MustFreePort(c.t), http: proctest.MustFreePort(c.t), routePort: proctest.MustFreePort(c.t)}
		c.nodes = append(c.nodes, node)
		urls = append(urls, node.url())
	}
	c.natsURL = strings.Join(urls, ",")
	replicas := strconv.Itoa(n)
	for k, v := range map[string]string{"NATS_URL": c.natsURL, "STREAM_REPLICAS": replicas, "KV_REPLICAS": replicas, "MEDIA_REPLICAS": replicas} {
		c.env[k] = v
	}
}

// node is the cluster's node of that name.
func (c *cluster) node(name string) *natsNode {
	c.t.Helper()
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	c.t.Fatalf("no NATS node %q", name)
	return nil
}

// startNode starts one node of the cluster on its ports and store, and waits until its
// JetStream is up (not for the cluster: a node alone has no quorum).
func (c *cluster) startNode(n *natsNode) {
	c.t.Helper()
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", o.routePort))
	}
	n.proc = c.start(n.name, "nats-server", []string{
		"--name", n.name, "--jetstream", "--store_dir", filepath.Join(c.dir, n.name),
		"--addr", "127.0.0.1", "--port", strconv.Itoa(n.port), "--http_port", strconv.Itoa(n.http),
		"--cluster_name", "openqq", "--cluster", fmt.Sprintf("nats://127.0.0.1:%d", n.routePort),
		"--routes", strings.Join(routes, ","),
	}, nil)
	c.waitHTTP(n.proc, fmt.Sprintf("http://127.0.0.1:%d/healthz?js-enabled-only=true", n.http), 20*time.Second)
}

// startNATSCluster starts every node and waits until all of them know the same JetStream meta
// leader, as run-cluster.sh does before it starts the services.
func (c *cluster) startNATSCluster() {
	c.t.Helper()
	for _, n := range c.nodes {
		c.startNode(n)
	}
	var last string
	if err := proctest.Poll(context.Background(), 60*time.Second, nil, func() bool {
		leader := ""
		for _, n := range c.nodes {
			var jsz struct {
				Meta struct {
					Leader string `json:"leader"`
				} `json:"meta_cluster"`
			}
			status, body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/jsz", n.http), time.Second)
			if status != http.StatusOK || json.Unmarshal([]byte(body), &jsz) != nil || jsz.Meta.Leader == "" ||
				leader != "" && jsz.Meta.Leader != leader {
				last = fmt.Sprintf("%s: %d %.200s", n.name, status, body)
				return false
			}
			leader = jsz.Meta.Leader
		}
		return true
	}, func() string { return last }); err != nil {
		c.t.Fatalf("the NATS cluster elected no JetStream meta leader: %v", err)
	}
}

// startService starts openqq-<kind> as name (reporter-1, ...), with its own HEALTH_ADDR.
func (c *cluster) startService(name, kind string, extra map[string]string) *proc {
	c.t.Helper()
	port, ok := c.health[name]
	if !ok {
		port = proctest.MustFreePort(c.t)
		c.health[name] = port
	}
	env := map[string]string{"HEALTH_ADDR": fmt.Sprintf("127.0.0.1:%d", port)}
	for k, v := range extra {
		env[k] = v
	}
	p := c.start(name, "openqq-"+kind, nil, env)
	c.mu.Lock()
	c.svc[name] = p
	c.mu.Unlock()
	return p
}

// startAll starts session, gateway, the reporters (reporter-1..n) and, if poller, the
// poller, and waits until every one is ready.
func (c *cluster) startAll(reporters int, poller bool) {
	c.t.Helper()
	c.startService("session", "session", nil)
	c.startService("gateway", "gateway", nil)
	for i := 1; i <= reporters; i++ {
		c.startService(fmt.Sprintf("reporter-%d", i), "reporter", nil)
	}
	if poller {
		c.startService("poller", "poller", nil)
	}
	c.waitReady(30*time.Second, c.names()...)
}

// names are the services started, sorted.
func (c *cluster) names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n := range c.svc {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (c *cluster) service(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.svc[name]
}

func (c *cluster) readyURL(name string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/readyz", c.health[name])
}

func (c *cluster) apiURL(route string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/openqq/%s", c.httpPort, route)
}

// get returns the status and body of a GET, or status 0 and the error text.
func get(url string, timeout time.Duration) (int, string, http.Header) {
	return proctest.Get(url, timeout)
}

// waitHTTP waits until url answers 200, failing if p exits or timeout passes.
func (c *cluster) waitHTTP(p *proc, url string, timeout time.Duration) {
	c.t.Helper()
	if err := proctest.WaitHTTP(context.Background(), p, url, timeout); err != nil {
		c.t.Fatal(err)
	}
}

// waitReady waits until every named service's /readyz answers 200.
func (c *cluster) waitReady(timeout time.Duration, names ...string) {
	c.t.Helper()
	for _, n := range names {
		c.waitHTTP(c.service(n), c.readyURL(n), timeout)
	}
}

// waitNotReady waits until every named service's /readyz answers 503.
func (c *cluster) waitNotReady(timeout time.Duration, names ...string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, n := range names {
		var status int
		var body string
		if err := proctest.Poll(ctx, timeout, nil, func() bool {
			status, body, _ = get(c.readyURL(n), time.Second)
			return status == http.StatusServiceUnavailable
		}, func() string { return fmt.Sprintf("%d %s", status, body) }); err != nil {
			c.t.Errorf("%s /readyz: want 503 while its dependency is away: %v", n, err)
		}
	}
}

// checkUnavailable calls get_user_info and wants a prompt 503 {"code":-3,...} JSON answer.
func (c *cluster) checkUnavailable(within time.Duration) {
	c.t.Helper()
	start := time.Now()
	status, body, h := get(c.apiURL("get_user_info"), within+5*time.Second)
	took := time.Since(start)
	if took > within {
		c.t.Errorf("get_user_info took %s, want at most %s", took, within)
	}
	if status != http.StatusServiceUnavailable {
		c.t.Errorf("get_user_info: HTTP %d %q, want 503", status, body)
		return
	}
	if ct := h.Get("Content-Type"); !strings.Contains(ct, "json") {
		c.t.Errorf("get_user_info: Content-Type %q, want JSON", ct)
	}
	var st struct {
		Code   *int   `json:"code"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Code == nil || *st.Code != -3 || st.Status == "" {
		c.t.Errorf("get_user_info: body %q (%v), want {\"code\":-3,\"status\":...}", body, err)
	}
}

// waitUnavailable waits until get_user_info answers 503: a call that reached the NATS server
// before it noticed a killed session's connection was gone went to that connection and
// times out (504); the server learns of the death a moment after the process is reaped.
func (c *cluster) waitUnavailable(timeout time.Duration) {
	c.t.Helper()
	var status int
	var body string
	if err := proctest.Poll(context.Background(), timeout, nil, func() bool {
		status, body, _ = get(c.apiURL("get_user_info"), timeout)
		return status == http.StatusServiceUnavailable
	}, func() string { return fmt.Sprintf("HTTP %d %q", status, body) }); err != nil {
		c.t.Errorf("get_user_info: want 503: %v", err)
	}
}

// waitAPI waits until get_user_info answers 200 with a JSON object.
func (c *cluster) waitAPI(timeout time.Duration) {
	c.t.Helper()
	var status int
	var body string
	if err := proctest.Poll(context.Background(), timeout, nil, func() bool {
		status, body, _ = get(c.apiURL("get_user_info"), 3*time.Second)
		var v map[string]any
		return status == http.StatusOK && json.Unmarshal([]byte(body), &v) == nil
	}, func() string { return fmt.Sprintf("%d %s", status, body) }); err != nil {
		c.t.Fatalf("get_user_info: not 200: %v", err)
	}
}

// connect is the test's own NATS connection. It never buffers while disconnected, so that an
// injection fails at once rather than going out late.
func (c *cluster) connect() *nats.Conn {
	c.t.Helper()
	nc, err := nats.Connect(c.natsURL, nats.Name("cluster-test"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.ReconnectBufSize(-1), nats.RetryOnFailedConnect(true))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	return nc
}

// ---- injection ----

// injector makes the simulated account receive group messages and records the ids of those
// the session accepted.
type injector struct {
	nc       *nats.Conn
	mu       sync.Mutex
	accepted []int64
	retries  atomic.Int64
}

// injectOnce makes one attempt.
func (in *injector) injectOnce(content string) (int64, error) {
	// the session waits up to 5 s for the stream to store the message
	r, err := proctest.Inject(in.nc, proctest.GroupMessage(2617047292, 2372835507, content), 7*time.Second)
	if err != nil {
		return 0, err
	}
	if r.Code != 0 || r.ID == 0 {
		return 0, fmt.Errorf("refused: %+v", r)
	}
	return r.ID, nil
}

// inject retries until the session accepts content or ctx ends.
func (in *injector) inject(ctx context.Context, content string) (int64, error) {
	for {
		id, err := in.injectOnce(content)
		if err == nil {
			in.mu.Lock()
			in.accepted = append(in.accepted, id)
			in.mu.Unlock()
			return id, nil
		}
		in.retries.Add(1)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("inject %q: %w (last: %v)", content, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// injectRange injects n<from> .. n<to-1> with workers in parallel.
func (in *injector) injectRange(ctx context.Context, from, to, workers int) error {
	next := atomic.Int64{}
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(to) {
					return
				}
				if _, err := in.inject(ctx, "n"+strconv.FormatInt(i, 10)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(collectErrs(errs)...)
}

func collectErrs(c chan error) []error {
	var out []error
	for err := range c {
		out = append(out, err)
	}
	return out
}

func (in *injector) count() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.accepted)
}

func (in *injector) ids() []int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]int64(nil), in.accepted...)
}

// ---- post_api ----

// sink is a post_api receiver (proctest.Receiver) that counts deliveries. A message report
// counts as delivered when the sink answered it 200 to a reporter that was still there to read
// the answer; one whose reporter hung up (it was killed) is "abandoned" and must come again.
type sink struct {
	r *proctest.Receiver

	mu        sync.Mutex
	delivered map[int64]int // message id → times delivered
	posts     int           // every POST, events included
	abandoned int
	maxTry    int
}

func newSink(t *testing.T, delay time.Duration) *sink {
	s := &sink{delivered: map[int64]int{}}
	s.r = proctest.StartReceiver(t, proctest.ReceiverOptions{
		Discard: true, // the counters below are all the tests read
		Respond: func(r *proctest.Request) proctest.Answer {
			if !json.Valid(r.Body) {
				return proctest.Answer{Status: http.StatusBadRequest, Body: "bad json"}
			}
			return proctest.Answer{Delay: delay}
		},
		Observe: s.observe,
	})
	return s
}

func (s *sink) URL() string { return s.r.URL }

// pause holds every answer until resume.
func (s *sink) pause() { s.r.Hold() }

// resume lets the held answers go.
func (s *sink) resume() { s.r.Release() }

// inflight is how many POSTs the sink is answering.
func (s *sink) inflight() int64 { return s.r.Inflight() }

func (s *sink) observe(r proctest.Request) {
	if r.Status != http.StatusOK {
		return
	}
	var item struct {
		PostType string `json:"post_type"`
		ID       int64  `json:"id"`
	}
	_ = json.Unmarshal(r.Body, &item)
	try, _ := strconv.Atoi(r.Header.Get("X-Openqq-Attempt"))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	s.maxTry = max(s.maxTry, try)
	if item.PostType != "receive_message" {
		return
	}
	if r.Abandoned {
		s.abandoned++
		return
	}
	s.delivered[item.ID]++
}

// stats are distinct message ids delivered, duplicate deliveries, every POST, abandoned POSTs
// and the highest attempt number seen.
func (s *sink) stats() (distinct, dups, posts, abandoned, maxTry int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.delivered {
		dups += n - 1
	}
	return len(s.delivered), dups, s.posts, s.abandoned, s.maxTry
}

// missing are the ids not delivered yet.
func (s *sink) missing(ids []int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, id := range ids {
		if s.delivered[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// waitDelivered waits until every id reached the sink, checking at each POST; it returns how
// long that took.
func (s *sink) waitDelivered(t *testing.T, ids []int64, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := s.r.Changed()
		miss := s.missing(ids)
		if len(miss) == 0 {
			return time.Since(start)
		}
		select {
		case <-changed:
		case <-deadline.C:
			d, dups, posts, ab, try := s.stats()
			t.Fatalf("%d of %d accepted messages never reached post_api within %s (delivered %d distinct, %d duplicates, %d posts, %d abandoned, max attempt %d); first missing: %v",
				len(miss), len(ids), timeout, d, dups, posts, ab, try, miss[:min(len(miss), 10)])
		}
	}
}
