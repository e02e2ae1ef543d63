package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Cancelling Serve's context stops the server, Serve returns nil, and a call in flight still
// gets the session's answer.
func TestServeShutdownAnswersCallsInFlight(t *testing.T) {
	e := startEnv(t, Config{}, false)
	type result struct {
		status int
		body   []byte
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := e.client.Get(e.base + "/openqq/get_client_info?mode=" + modeSlow + "&id=9")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: b, err: err}
	}()
	select {
	case <-e.seen: // the call is in flight: the session has it
	case <-time.After(10 * time.Second):
		t.Fatal("the session never got the call")
	}
	cancelled := time.Now()
	e.cancel()
	if err := e.waitServed(t, 10*time.Second); err != nil {
		t.Fatalf("Serve after cancel = %v, want nil", err)
	}
	if d := time.Since(cancelled); d < slowDelay/2 {
		t.Errorf("Serve returned %s after cancel, before the call in flight was answered", d)
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("the call in flight failed: %v", r.err)
	}
	var echo received
	if err := json.Unmarshal(r.body, &echo); r.status != http.StatusOK || err != nil || echo.Params["id"] != "9" {
		t.Fatalf("the call in flight got HTTP %d %s, want 200 and the echo", r.status, r.body)
	}
	// New calls find nobody listening.
	client := &http.Client{Timeout: 2 * time.Second}
	if resp, err := client.Get(e.base + "/openqq/get_client_info"); err == nil {
		resp.Body.Close()
		t.Errorf("a call after shutdown got HTTP %d, want a connection error", resp.StatusCode)
	}
}

func TestServeIdleShutdown(t *testing.T) {
	e := startEnv(t, Config{}, false)
	// An idle keep-alive connection does not hold the shutdown up.
	if echo := decodeEcho(t, e.do(t, call{query: "id=1"})); echo.Params["id"] != "1" {
		t.Fatalf("echo %+v", echo)
	}
	start := time.Now()
	e.cancel()
	if err := e.waitServed(t, 5*time.Second); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle shutdown took %s", d)
	}
}

func TestServeCancelledBeforeStart(t *testing.T) {
	g := newBare(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestServeClosedListener(t *testing.T) {
	g := newBare(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	done := make(chan error, 1)
	go func() { done <- g.Serve(context.Background(), ln) }()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "gateway: ") {
			t.Errorf("Serve on a closed listener = %v, want a gateway error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve on a closed listener did not return")
	}
}

func TestRun(t *testing.T) {
	t.Run("listens and stops", func(t *testing.T) {
		addr := "127.0.0.1:" + strconv.Itoa(proctest.MustFreePort(t))
		g := newBare(t, Config{Addr: addr})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- g.Run(ctx) }()
		// It listens on Addr and answers: Mojo's JSON 403 for a path that is no route.
		var status int
		var body string
		err := proctest.Poll(context.Background(), 5*time.Second, nil, func() bool {
			status, body, _ = proctest.Get("http://"+addr+"/nothing-here", time.Second)
			return status == http.StatusForbidden
		}, func() string { return fmt.Sprintf("%d %s", status, body) })
		if err != nil {
			t.Fatalf("Run does not answer on %s: %v", addr, err)
		}
		if !strings.Contains(body, `"code"`) {
			t.Errorf("GET /nothing-here: %d %s, want the JSON 403", status, body)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		// Stopped: nothing listens there any more.
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run returned", addr)
		}
	})
	t.Run("bad address", func(t *testing.T) {
		g := newBare(t, Config{Addr: "127.0.0.1:notaport"})
		err := g.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "listen") {
			t.Errorf("Run = %v, want a listen error", err)
		}
	})
}

// A panic in a handler is a JSON 500 with CORS, not a dropped connection.
func TestRecoverer(t *testing.T) {
	g := newBare(t, Config{})
	h := g.recoverer(cors(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openqq/get_user_info", nil))
	a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	checkCommon(t, http.MethodGet, a)
	wantStatus(t, a, events.ErrInternal)

	// http.ErrAbortHandler is net/http's own way to abort: passed on.
	abort := g.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler passed on", v)
			}
		}()
		abort.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
}

// The Handler (for embedding) answers as the served gateway does.
func TestHandlerInProcess(t *testing.T) {
	srv := natstest.Start(t)
	g, err := New(natstest.Connect(t, srv), withDefaults(Config{}), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, target string
		want           *events.Status
	}{
		{http.MethodGet, "/openqq/get_user_info", events.ErrUnavailable},
		{http.MethodGet, "/nope", events.ErrAPINotFound},
		{http.MethodGet, "/openqq/get_user_info?x=%zz", events.ErrBadRequest(`query string: invalid URL escape "%%zz"`)},
	} {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, httptest.NewRequest(tc.method, tc.target, nil))
		a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		checkCommon(t, tc.method, a)
		wantStatus(t, a, tc.want)
	}
}

// newBare is a gateway without a NATS connection, for what does not reach NATS.
func newBare(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	g, err := New(nil, withDefaults(cfg), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A connection that was opened and never used (a browser's preconnect, a port probe) does not
// turn a shutdown with nothing in flight into an error, nor stay open after it.
func TestServeShutdownWithUnusedConnection(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := startEnv(t, Config{APITimeout: timeout}, false)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	select {
	case <-e.accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not accept the connection")
	}
	start := time.Now()
	e.cancel()
	if err := e.waitServed(t, 10*time.Second); err != nil {
		t.Fatalf("Serve = %v, want nil", err)
	}
	if took := time.Since(start); took > timeout+3*time.Second {
		t.Errorf("Serve took %s to stop with nothing in flight", took)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the unused connection is still open after Serve returned (read %d, %v)", n, err)
	}
}
