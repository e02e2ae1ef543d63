package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// versionedSession answers get_group_info as the session does: a large body named by a
// version, or no body when the caller holds that version.
type versionedSession struct {
	mu      sync.Mutex
	version int
	size    int
	gate    chan struct{} // when set, each request waits for a value on it
	subject string        // where it answers: qq.api.get_group_info when empty

	full, notModified atomic.Int64
	inflight, peak    atomic.Int64
	sawParams         chan string
}

func (v *versionedSession) body(version int) []byte {
	head := fmt.Sprintf(`[{"version":%d,"pad":"`, version)
	return append(append([]byte(head), bytes.Repeat([]byte("x"), v.size-len(head)-3)...), `"}]`...)
}

func (v *versionedSession) setVersion(n int) {
	v.mu.Lock()
	v.version = n
	v.mu.Unlock()
}

func (v *versionedSession) serve(t *testing.T, nc *nats.Conn) {
	t.Helper()
	subject := v.subject
	if subject == "" {
		subject = "qq.api.get_group_info"
	}
	_, err := nc.Subscribe(subject, func(m *nats.Msg) {
		go func() {
			if n := v.inflight.Add(1); n > v.peak.Load() {
				v.peak.Store(n)
			}
			defer v.inflight.Add(-1)
			v.mu.Lock()
			version := v.version
			v.mu.Unlock()
			if v.sawParams != nil {
				v.sawParams <- string(m.Data)
			}
			if v.gate != nil {
				<-v.gate
			}
			etag := fmt.Sprintf("boot.%d", version)
			reply := nats.NewMsg(m.Reply)
			reply.Header.Set(events.HeaderETag, etag)
			if m.Header.Get(events.HeaderIfNoneMatch) == etag {
				reply.Header.Set(events.HeaderNotModified, "1")
				v.notModified.Add(1)
			} else {
				reply.Data = v.body(version)
				v.full.Add(1)
			}
			_ = m.RespondMsg(reply)
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) getBody(t *testing.T, path string) []byte {
	t.Helper()
	resp, err := e.client.Get(e.base + path)
	if err != nil {
		t.Error(err)
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: HTTP %d: %.200s", path, resp.StatusCode, b)
	}
	return b
}

func TestReplyCacheRevalidates(t *testing.T) {
	e := startEnv(t, Config{}, true)
	v := &versionedSession{version: 1, size: 200 << 10}
	v.serve(t, natstest.Connect(t, e.srv))

	for i := range 3 {
		if got := e.getBody(t, "/openqq/get_group_info"); !bytes.Equal(got, v.body(1)) {
			t.Fatalf("call %d: got %.40s…, want version 1", i, got)
		}
	}
	if full, nm := v.full.Load(), v.notModified.Load(); full != 1 || nm != 2 {
		t.Errorf("session sent %d full replies and %d not-modified, want 1 and 2", full, nm)
	}
	v.setVersion(2)
	if got := e.getBody(t, "/openqq/get_group_info"); !bytes.Equal(got, v.body(2)) {
		t.Fatalf("after the roster changed: got %.40s…, want version 2", got)
	}
	// JSONP wraps the kept reply without touching it.
	got := e.getBody(t, "/openqq/get_group_info?datatype=jsonp&callback=cb")
	if want := "cb(" + string(v.body(2)) + ")"; string(got) != want {
		t.Errorf("JSONP: got %.40s…", got)
	}
	if got := e.getBody(t, "/openqq/get_group_info"); !bytes.Equal(got, v.body(2)) {
		t.Errorf("after JSONP: got %.40s…, want version 2 unwrapped", got)
	}
}

func TestReplyCacheSmallRepliesGoDirect(t *testing.T) {
	e := startEnv(t, Config{}, true)
	v := &versionedSession{version: 1, size: 1 << 10}
	v.serve(t, natstest.Connect(t, e.srv))
	for range 3 {
		if got := e.getBody(t, "/openqq/get_group_info"); !bytes.Equal(got, v.body(1)) {
			t.Fatalf("got %.40s…", got)
		}
	}
	if full, nm := v.full.Load(), v.notModified.Load(); full != 3 || nm != 0 {
		t.Errorf("session sent %d full replies and %d not-modified, want 3 and 0 (small replies are not kept)", full, nm)
	}
}

// A crowd of callers with the same parameters has one large reply on its way at a time, and
// each caller gets a reply from an exchange that began after it called.
func TestReplyCacheCrowdSharesExchanges(t *testing.T) {
	e := startEnv(t, Config{}, true)
	v := &versionedSession{version: 1, size: 512 << 10, gate: make(chan struct{}), sawParams: make(chan string, 1000)}
	v.serve(t, natstest.Connect(t, e.srv))

	const callers = 50
	var wg sync.WaitGroup
	bodies := make(chan []byte, 2*callers)
	call := func() {
		defer wg.Done()
		bodies <- e.getBody(t, "/openqq/get_group_info")
	}
	wg.Add(1)
	go call()
	<-v.sawParams // the first exchange is held by the session
	wg.Add(callers)
	for range callers {
		go call()
	}
	// The whole crowd waits for one next exchange.
	waitWaiters(t, e.g.qq.replies, "get_group_info", func(running, next int) bool { return next == callers })
	v.setVersion(2) // before the next exchange begins, after the first one did
	v.gate <- struct{}{}
	<-v.sawParams
	v.gate <- struct{}{}
	wg.Wait()
	close(bodies)
	first := true
	for b := range bodies {
		want := v.body(2)
		if first && bytes.Equal(b, v.body(1)) {
			first = false // the first caller's exchange began before the change
			continue
		}
		if !bytes.Equal(b, want) {
			t.Errorf("caller got %.40s…, want version 2", b)
		}
	}
	if full := v.full.Load(); full != 2 {
		t.Errorf("session sent %d full replies for %d callers, want 2", full, callers+1)
	}
	if peak := v.peak.Load(); peak != 1 {
		t.Errorf("%d exchanges at once, want 1", peak)
	}
}

// Callers with other parameters do not share a reply: each gets the answer to its own call.
func TestReplyCacheParametersNotShared(t *testing.T) {
	e := startEnv(t, Config{}, true)
	v := &versionedSession{version: 1, size: 100 << 10, sawParams: make(chan string, 100)}
	v.serve(t, natstest.Connect(t, e.srv))
	e.getBody(t, "/openqq/get_group_info?uid=a")
	e.getBody(t, "/openqq/get_group_info?uid=b")
	for _, want := range []string{`"uid":"a"`, `"uid":"b"`} {
		if got := <-v.sawParams; !strings.Contains(got, want) {
			t.Errorf("session got params %s, want %s", got, want)
		}
	}
	if full, nm := v.full.Load(), v.notModified.Load(); full != 1 || nm != 1 {
		t.Errorf("session sent %d full replies and %d not-modified, want 1 and 1 (the kept reply serves any parameters)", full, nm)
	}
}

// A caller who hangs up does not cut short the exchange the others wait for.
func TestReplyCacheCallerGoneKeepsExchange(t *testing.T) {
	e := startEnv(t, Config{}, true)
	v := &versionedSession{version: 1, size: 100 << 10, gate: make(chan struct{}), sawParams: make(chan string, 100)}
	v.serve(t, natstest.Connect(t, e.srv))
	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	go func() { _, _ = impatient.Get(e.base + "/openqq/get_group_info") }()
	<-v.sawParams
	done := make(chan []byte)
	go func() { done <- e.getBody(t, "/openqq/get_group_info") }()
	// The impatient caller has left the exchange under way; the patient one waits for the next.
	waitWaiters(t, e.g.qq.replies, "get_group_info", func(running, next int) bool { return running == 0 && next == 1 })
	v.gate <- struct{}{}
	<-v.sawParams
	v.gate <- struct{}{}
	if got := <-done; !bytes.Equal(got, v.body(1)) {
		t.Errorf("patient caller got %.40s…", got)
	}
}

// waitWaiters waits until the calls waiting on route's exchanges (the one under way and the
// next) satisfy cond: the state the test needs, not a guess at how long it takes.
func waitWaiters(t *testing.T, c *replyCache, route string, cond func(running, next int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		running, next := -1, -1
		c.mu.Lock()
		for _, f := range c.flights {
			if f.route.name != route {
				continue
			}
			if f.running != nil {
				running = f.running.waiters
			}
			next = 0
			if f.next != nil {
				next = f.next.waiters
			}
		}
		c.mu.Unlock()
		if running >= 0 && cond(running, next) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d calls wait on the exchange under way and %d on the next, after 10s", route, running, next)
		}
		time.Sleep(time.Millisecond)
	}
}
