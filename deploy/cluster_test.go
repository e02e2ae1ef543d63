package deploy

// The multi-process topology of scripts/run-cluster.sh (a real nats-server with JetStream on a
// file store, session, gateway, two reporters, poller), with the failures a deployment meets:
// NATS restarting, the session killed, a reporter killed. Nothing accepted may be lost.

import (
	"context"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
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

// TestRunClusterScript only checks the script's syntax: it listens on the fixed ports of
// `make run-cluster`, which may be in use.
func TestRunClusterScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if out, err := exec.Command(bash, "-n", "../scripts/run-cluster.sh").CombinedOutput(); err != nil {
		t.Fatalf("bash -n scripts/run-cluster.sh: %v\n%s", err, out)
	}
}
