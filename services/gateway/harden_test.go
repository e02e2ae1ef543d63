package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// A filter of 10,000 names is refused at once, before any consumer exists, and JetStream
// keeps answering; known names count once.
func TestStreamFilterBounded(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, nil)
	var names []string
	for i := range 10_000 {
		names = append(names, fmt.Sprintf("n%d", i))
	}
	wsHeaders := []string{"Connection", "Upgrade", "Upgrade", "websocket",
		"Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	for _, path := range []string{pathEvents, pathWS} {
		a := readAnswer(t, e.get(path, "filter="+strings.Join(names, ","), wsHeaders...))
		if a.status != http.StatusBadRequest {
			t.Fatalf("%s with 10,000 names: HTTP %d %.300s", path, a.status, a.body)
		}
		var st events.Status
		if err := json.Unmarshal(a.body, &st); err != nil || st.Code != events.CodeBadRequest ||
			!strings.Contains(st.Status, `"n0": unknown`) || !strings.Contains(st.Status, events.GroupMessage) ||
			!strings.Contains(st.Status, events.EventStateChange) || len(a.body) > 2000 {
			t.Errorf("%s: %.400s; want a short 400 naming the first unknown name and the known ones", path, a.body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := e.js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream does not answer: %v", err)
	}
	stream, err := e.js.Stream(ctx, "QQ_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := countConsumers(t, stream); n != 0 {
		t.Errorf("%d consumers after refused filters", n)
	}
	// 10,000 repeats of two known names: one subject each.
	rep := strings.TrimSuffix(strings.Repeat("group_message,new_friend,", 5_000), ",")
	s := e.open("filter=" + rep)
	defer s.close()
	var info *jetstream.ConsumerInfo
	for ci := range stream.ListConsumers(ctx).Info() {
		info = ci
	}
	if info == nil || len(info.Config.FilterSubjects) != 2 {
		t.Fatalf("consumer %+v: want 2 filter subjects", info)
	}
	s.want(e.publishN(1, events.GroupMessage))
}

func countConsumers(t *testing.T, stream jetstream.Stream) int {
	t.Helper()
	n := 0
	for range stream.ListConsumers(context.Background()).Info() {
		n++
	}
	return n
}

// Past STREAM_CLIENTS_MAX, a stream client gets a 503 JSON answer and no consumer: with the
// stream's consumer limit just above the cap, the system's own consumers (a reporter's
// durable, an ordered consumer as check_event and the poller use) can still be created.
func TestStreamClientsCap(t *testing.T) {
	t.Parallel()
	const streamCap, limit = 20, 22
	e := startStream(t, Config{StreamClientsMax: streamCap, StreamClientsPerIP: 1000}, true, nil)
	_, err := e.js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: "QQ_EVENTS", Subjects: []string{"qq.events.>"}, Storage: jetstream.MemoryStorage, MaxConsumers: limit,
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		refused []answer
		wg      sync.WaitGroup
	)
	for range 2 * limit {
		wg.Go(func() {
			resp := e.get(pathEvents, "")
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() { resp.Body.Close() })
				return
			}
			a := readAnswer(t, resp)
			mu.Lock()
			refused = append(refused, a)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(refused) != 2*limit-streamCap {
		t.Errorf("%d refused, want %d", len(refused), 2*limit-streamCap)
	}
	for _, a := range refused {
		wantStatus(t, a, events.NewStatus(events.CodeUnavailable, "too many event stream clients: at most %d (STREAM_CLIENTS_MAX)", streamCap))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.js.CreateOrUpdateConsumer(ctx, "QQ_EVENTS", jetstream.ConsumerConfig{
		Durable: "reporter_new", AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		t.Fatalf("a new reporter durable: %v", err)
	}
	if _, err := e.js.OrderedConsumer(ctx, "QQ_EVENTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"qq.events.state_change"},
	}); err != nil {
		t.Fatalf("an ordered consumer (check_event, poller): %v", err)
	}
}

// One address gets at most STREAM_CLIENTS_PER_IP streams.
func TestStreamClientsPerIP(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{StreamClientsPerIP: 2}, false, nil)
	s1, s2 := e.open(""), e.open("")
	a := readAnswer(t, e.get(pathEvents, ""))
	wantStatus(t, a, events.NewStatus(events.CodeUnavailable, "too many event stream clients from your address: at most 2 (STREAM_CLIENTS_PER_IP)"))
	s1.close()
	// Its place comes back once it is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := e.get(pathEvents, "")
		if resp.StatusCode == http.StatusOK {
			resp.Body.Close()
			break
		}
		readAnswer(t, resp)
		if time.Now().After(deadline) {
			t.Fatal("the place of a closed stream did not come back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s2.close()
}

// silentBody opens a connection that declares a body of 1 MB and sends none of it.
func silentBody(t *testing.T, base, token string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	body := `{"access_token":"` + token + `"`
	_, err = fmt.Fprintf(c, "POST /openqq/get_user_info HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n%s", 1<<20, body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// 200 connections that declare a body and send nothing are closed after the read time-out,
// even with the token in the JSON body (which auth reads).
func TestSilentBodiesClosed(t *testing.T) {
	t.Parallel()
	e := startEnv(t, Config{AccessToken: "tok", ReadTimeout: 300 * time.Millisecond}, false)
	var conns []net.Conn
	for range 200 {
		conns = append(conns, silentBody(t, e.base, "tok"))
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			// Generous: the time-out is what closes it, this only bounds a failing test.
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.Copy(io.Discard, c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Errorf("connection %d still open after 20s", i)
			}
		})
	}
	wg.Wait()
}

// Streams and long polls outlive the read and write time-outs, which bound the others.
func TestStreamsAndLongPollsOutliveTimeouts(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	e := startStream(t, Config{ReadTimeout: timeout, WriteTimeout: timeout}, false, nil)
	s := e.open("")
	w := e.dialWS("", nil)
	// A silent body opened after the streams is closed by its read time-out: the streams'
	// time-outs have passed too.
	c := silentBody(t, e.base, "")
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("silent body: %v", err)
	}
	items := e.publishN(2, events.GroupMessage)
	s.want(items)
	w.want(items)

	// check_event held longer than both time-outs still gets its answer.
	ce := startEnv(t, Config{APITimeout: timeout, CheckEventHold: 3 * timeout, ReadTimeout: timeout, WriteTimeout: timeout}, false)
	a := ce.do(t, call{path: "/openqq/check_event", query: "mode=" + modeSilent})
	wantStatus(t, a, events.ErrTimeout)
}

// One address holds at most HTTP_CONNS_PER_IP connections; the next gets a 503 and is closed.
func TestConnsPerIP(t *testing.T) {
	t.Parallel()
	e := startEnv(t, Config{ConnsPerIP: 3}, false)
	addr := strings.TrimPrefix(e.base, "http://")
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		// A request answered proves the server took the connection.
		fmt.Fprintf(c, "GET /openqq/get_user_info HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		held = append(held, c)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the 4th connection: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(b, []byte("HTTP_CONNS_PER_IP")) ||
		!bytes.Contains(b, []byte(`"code":-3`)) {
		t.Errorf("the 4th connection: HTTP %d %s", resp.StatusCode, b)
	}
	// A place comes back when a connection closes.
	_ = held[0].Close()
	waitFor := time.Now().Add(10 * time.Second)
	for {
		resp, err := e.client.Get(e.base + "/openqq/get_user_info")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				break
			}
		}
		if time.Now().After(waitFor) {
			t.Fatalf("no place after a connection closed: %v", err)
		}
		e.client.CloseIdleConnections()
		time.Sleep(20 * time.Millisecond)
	}
}

// The WebSocket takes same-origin pages, ALLOWED_ORIGINS and non-browsers; a page of another
// site is refused.
func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{AllowedOrigins: []string{"*.example.com", "https://app.example.org"}}, false, nil)
	host := strings.TrimPrefix(e.base, "http://")
	u := "ws://" + host + pathWS
	for _, c := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://console.example.com", true},
		{"https://app.example.org", true},
		{"http://app.example.org", false},
		{"https://evil.example", false},
		{"https://example.com.evil.example", false},
		{"null", false},
	} {
		h := http.Header{}
		if c.origin != "" {
			h.Set("Origin", c.origin)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
		cancel()
		if c.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", c.origin, err)
				continue
			}
			_ = conn.CloseNow()
			continue
		}
		if err == nil {
			_ = conn.CloseNow()
			t.Errorf("origin %q accepted", c.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v, want a 403", c.origin, resp)
		}
	}
}

// A gateway beyond loopback without a token warns at start; on loopback, or with a token, not.
func TestExposedWarning(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	for _, c := range []struct {
		addr, token string
		warn        bool
	}{
		{"127.0.0.1:0", "", false},
		{"0.0.0.0:0", "", true},
		{"0.0.0.0:0", "tok", false},
	} {
		var buf proctest.SyncBuffer
		g, err := New(natstest.Connect(t, srv), withDefaults(Config{AccessToken: c.token}), slog.New(slog.NewTextHandler(&buf, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Serve(ctx, ln) }()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "without ACCESS_TOKEN"); got != c.warn {
			t.Errorf("%s token %q: warned %v, want %v\n%s", c.addr, c.token, got, c.warn, buf.String())
		}
	}
}

// The filter parser: whatever it accepts is known names, each once.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"group_message", "group_message,new_friend,group_message", " state_change ,",
		",", "group.message", "*", ">", "群", "a,b", strings.Repeat("x,", 100)} {
		f.Add(s, "")
	}
	f.Add("group_message", "friend_message,login")
	f.Fuzz(func(t *testing.T, a, b string) {
		names, err := parseFilter([]string{a, b})
		if err != nil {
			if len(err.Error()) > 2000 {
				t.Fatalf("an error of %d bytes", len(err.Error()))
			}
			return
		}
		if len(names) > len(events.ItemNames) {
			t.Fatalf("%d names", len(names))
		}
		seen := map[string]bool{}
		for _, n := range names {
			if !events.IsItemName(n) || seen[n] {
				t.Fatalf("accepted %q (of %v)", n, names)
			}
			seen[n] = true
		}
	})
}

// A live client that falls behind the shared consumer goes on through one of its own from the
// item it had got to: nothing lost, nothing twice. The clients that keep up stay on the hub.
func TestLiveClientLeavesHubExactly(t *testing.T) {
	t.Parallel()
	e := startStream(t, Config{}, false, func(s *streamer) {
		s.pull = 2                       // a queue of 2 on the hub
		s.maxBehind = 1_000              // behind is allowed here
		s.writeTimeout = 2 * time.Minute // and a stalled write too
	})
	slow, fast := e.open(""), e.open("")
	stream, err := e.js.Stream(context.Background(), "QQ_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := countConsumers(t, stream); n != 1 {
		t.Fatalf("%d consumers for 2 live clients", n)
	}
	first := e.publishN(1, events.GroupMessage)
	slow.want(first)
	fast.want(first)
	slow.pause()
	// Far more than the socket buffers hold: the gateway's writes to slow block, its queue
	// on the hub fills.
	items := e.publishBig(48, 256<<10)
	fast.want(items)
	slow.resume()
	slow.want(items)
	if n := countConsumers(t, stream); n != 2 {
		t.Errorf("%d consumers: want the hub's and the slow client's own", n)
	}
	more := e.publishN(2, events.FriendMessage)
	slow.want(more)
	fast.want(more)
}

// A live client that falls behind the hub while its own consumer cannot be created at once
// (the JetStream API too busy to answer within APITimeout, as when a burst makes every client
// fall behind together) is kept: the creation is retried, and the client still gets every item
// in order, from where it was.
func TestLiveClientKeptWhileOwnConsumerFails(t *testing.T) {
	t.Parallel()
	const failures = 2
	var attempts atomic.Int32
	e := startStream(t, Config{}, false, func(s *streamer) {
		s.pull = 2
		s.maxBehind = 1_000
		s.writeTimeout = 2 * time.Minute
		s.fallbackHook = func(attempt int) error {
			attempts.Add(1)
			if attempt <= failures {
				return context.DeadlineExceeded
			}
			return nil
		}
	})
	slow, fast := e.open(""), e.open("")
	first := e.publishN(1, events.GroupMessage)
	slow.want(first)
	fast.want(first)
	slow.pause()
	items := e.publishBig(48, 256<<10)
	fast.want(items)
	slow.resume()
	slow.want(items)
	// Each client that fell behind (the fast one may too, with a queue of 2) took
	// failures+1 attempts.
	if n := attempts.Load(); n == 0 || n%(failures+1) != 0 {
		t.Errorf("%d attempts at own consumers, want a multiple of %d", n, failures+1)
	}
	more := e.publishN(2, events.FriendMessage)
	slow.want(more)
	fast.want(more)
}
