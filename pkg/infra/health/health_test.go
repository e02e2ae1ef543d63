package health

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	failing := Check{Name: "client", Ready: func() error { return errors.New("state is loading") }}
	ok := Check{Name: "nats", Ready: func() error { return nil }}
	for _, tc := range []struct {
		name   string
		h      http.Handler
		path   string
		status int
	}{
		{"alive", Handler(failing), "/healthz", http.StatusOK},
		{"ready", Handler(ok), "/readyz", http.StatusOK},
		{"not ready", Handler(ok, failing), "/readyz", http.StatusServiceUnavailable},
		{"metrics", Handler(), "/metrics", http.StatusOK},
		{"other path", Handler(), "/debug/pprof/", http.StatusNotFound},
		{"pprof on", withPprof(Handler()), "/debug/pprof/", http.StatusOK},
		{"pprof keeps the checks", withPprof(Handler(failing)), "/readyz", http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s: HTTP %d, want %d", tc.path, resp.StatusCode, tc.status)
			}
		})
	}
}
