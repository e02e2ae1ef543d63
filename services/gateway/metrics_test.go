package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics/metricstest"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// The metric tests are not parallel: metrics are process-wide, and a sequential test runs
// while no other test does, so a delta is exactly this test's doing.

// Every API call is counted by route and HTTP status; paths that are no route count as
// "unknown" (a bot probing paths cannot grow the labels).
func TestMetricsAPIRequests(t *testing.T) {
	e := startEnv(t, Config{AccessToken: "tok-metrics"}, false)
	before := metricstest.Local(t)
	auth := map[string]string{"Authorization": "Bearer tok-metrics"}
	calls := []struct {
		c      call
		status int
	}{
		{call{header: auth}, http.StatusOK},
		{call{header: auth, path: "/openqq/get_user_info", query: "mode=error&code=500&desc=x&body=%7B%7D"}, http.StatusInternalServerError},
		{call{header: auth, path: "/openqq/send_group_message", method: http.MethodPost, ct: "application/x-www-form-urlencoded", body: []byte("uid=1&content=x")}, http.StatusOK},
		{call{path: "/openqq/get_user_info"}, http.StatusForbidden}, // no token: auth failure
		{call{header: auth, path: "/openqq/no_such_route"}, http.StatusForbidden},
		{call{header: auth, path: "/some/other/path"}, http.StatusForbidden},
		{call{header: auth, path: "/openqq/get_user_info/extra"}, http.StatusForbidden},
		{call{header: auth, path: "/openqq/get_user_info", query: "x=%zz"}, http.StatusBadRequest},
	}
	for _, c := range calls {
		if a := e.do(t, c.c); a.status != c.status {
			t.Fatalf("%s %s: HTTP %d, want %d: %s", c.c.method, c.c.path, a.status, c.status, a.body)
		}
	}
	after := metricstest.Local(t)
	for _, tc := range []struct {
		route, code string
		want        float64
	}{
		{events.RouteGetUserInfo, "200", 1},
		{events.RouteGetUserInfo, "500", 1},
		{events.RouteGetUserInfo, "403", 1},
		{events.RouteGetUserInfo, "400", 1},
		{events.RouteSendGroupMessage, "200", 1},
		{routeUnknown, "403", 3},
	} {
		if got := metricstest.Delta(before, after, "openqq_api_requests_total", "route", tc.route, "code", tc.code); got != tc.want {
			t.Errorf("openqq_api_requests_total{route=%q,code=%q} rose by %v, want %v", tc.route, tc.code, got, tc.want)
		}
	}
	if got := metricstest.Delta(before, after, "openqq_api_request_duration_seconds", "route", events.RouteGetUserInfo); got != 4 {
		t.Errorf("openqq_api_request_duration_seconds{route=get_user_info} count rose by %v, want 4", got)
	}
	if got := metricstest.Delta(before, after, "openqq_api_request_duration_seconds", "route", routeUnknown); got != 3 {
		t.Errorf("openqq_api_request_duration_seconds{route=unknown} count rose by %v, want 3", got)
	}
	for _, route := range after.LabelValues("openqq_api_requests_total", "route") {
		if route != routeUnknown && !events.IsRoute(route) && !events.IsControllerRoute(route) {
			t.Errorf("route label %q is neither a route (the Controller's included) nor unknown", route)
		}
	}
	if typ := after.Type("openqq_api_request_duration_seconds"); typ != "histogram" {
		t.Errorf("openqq_api_request_duration_seconds is a %q", typ)
	}
}

// Mount serves a path ahead of the API, not counted as a call, behind the access token like
// the API: /metrics without it is 403 when a token is set (issue #12).
func TestMount(t *testing.T) {
	srv := natstest.Start(t)
	g, err := New(natstest.Connect(t, srv), withDefaults(Config{AccessToken: "tok-mount"}), natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	g.Mount("/metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "first") }))
	g.Mount("/metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "mounted") }))
	g.Mount("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "healthy") }))
	before := metricstest.Local(t)
	for path, want := range map[string]string{"/metrics": "mounted", "/healthz": "healthy"} {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), want) {
			t.Errorf("GET %s without the token: HTTP %d %q, want 403", path, rec.Code, rec.Body)
		}
		rec = httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer tok-mount")
		g.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s: HTTP %d %q, want 200 %q", path, rec.Code, rec.Body, want)
		}
	}
	// Anything else is still the API, token and all.
	rec := httptest.NewRecorder()
	g.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics/x", nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("GET /metrics/x: HTTP %d, want 403", rec.Code)
	}
	after := metricstest.Local(t)
	if got := metricstest.Delta(before, after, "openqq_api_requests_total"); got != 1 {
		t.Errorf("openqq_api_requests_total rose by %v, want 1 (only /metrics/x)", got)
	}
}

// The status recorder keeps what streams and WebSockets need of the ResponseWriter.
func TestInstrumentKeepsFlushAndHijack(t *testing.T) {
	h := instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flush":
			if _, ok := w.(http.Flusher); !ok {
				t.Error("not a Flusher")
			}
			_, _ = io.WriteString(w, "a")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		case "/hijack":
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("not a Hijacker")
				return
			}
			conn, rw, err := hj.Hijack()
			if err != nil {
				t.Errorf("Hijack: %v", err)
				return
			}
			defer conn.Close()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
			_ = rw.Flush()
		}
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/flush")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "a" {
		t.Errorf("/flush: %q", b)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101") {
		t.Errorf("/hijack: %q, %v", line, err)
	}
}
