package gateway

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics"
)

var (
	apiRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "api_requests_total",
		Help: `HTTP API calls, by route ("unknown" for paths that are no route) and HTTP status.`,
	}, []string{"route", "code"})
	apiDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Name: "api_request_duration_seconds",
		Help:    "Time to answer an HTTP API call, by route (check_event holds up to CHECK_EVENT_HOLD).",
		Buckets: metrics.DurationBuckets,
	}, []string{"route"})
)

// routeUnknown labels the calls of paths that are no API route.
const routeUnknown = "unknown"

// instrument counts every API call (openqq_api_requests_total, _request_duration_seconds; for
// /openwx/, openqq_wx_api_*). A call is labelled with its route when its path is
// /openqq/<route> (/openwx/<route>) of a known route; any other path that got a 403 (api not
// found, or an Openqq auth failure) counts as "unknown". The rest (paths served by other handlers of the gateway's port) is not an API call
// and is not counted, so a bot probing random paths cannot make the labels grow.
//
// pfs are the platforms served, Openqq first (none: Openqq's defaults).
func instrument(next http.Handler, pfs ...*platform) http.Handler {
	if len(pfs) == 0 {
		pfs = []*platform{{path: events.APIPathPrefix, isRoute: events.IsRoute, requests: apiRequests, duration: apiDuration}}
	}
	platformOf := func(path string) *platform {
		for _, p := range pfs[1:] {
			if strings.HasPrefix(path, p.path) {
				return p
			}
		}
		return pfs[0]
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		status := sw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		p := platformOf(r.URL.Path)
		route, ok := p.route(r.URL.Path)
		if ok && r.Method == http.MethodPost && p.getOnly != nil && p.getOnly(route) {
			ok = false // Openwx's catch-all answered: no call of the route
		}
		if !ok {
			if status != http.StatusForbidden {
				return
			}
			route = routeUnknown
		}
		p.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		p.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusWriter remembers the status of a reply. It passes Flush (with its error) and Hijack on
// (streams and WebSockets need them), and Unwrap for the rest of http.ResponseController
// (write deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls: a stream learns that its client is
// gone or too slow (a write deadline passed) from its error.
func (w *statusWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Mount serves h on path (exactly that path, any method) on the gateway's port, ahead of the
// API: no CORS, not counted as an API call, but behind the access token like the API (what it
// shows, /metrics above all, is the account's business; probes use HEALTH_ADDR). The
// all-in-one binary mounts /metrics, /healthz and /readyz this way. Call it before Serve or
// Run.
func (g *Gateway) Mount(path string, h http.Handler) {
	h = g.auth(h)
	for {
		old := g.mounts.Load()
		next := map[string]http.Handler{path: h}
		if old != nil {
			for p, oh := range *old {
				if p != path {
					next[p] = oh
				}
			}
		}
		if g.mounts.CompareAndSwap(old, &next) {
			return
		}
	}
}

// mounted serves the paths given to Mount, and everything else with api.
func (g *Gateway) mounted(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := g.mounts.Load(); m != nil {
			if h, ok := (*m)[r.URL.Path]; ok {
				h.ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}

// mountTable holds the paths given to Mount.
type mountTable = atomic.Pointer[map[string]http.Handler]
