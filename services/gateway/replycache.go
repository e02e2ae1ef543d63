package gateway

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/metrics"
)

var replyCacheCalls = promauto.NewCounterVec(prometheus.CounterOpts{
	Namespace: metrics.Namespace, Name: "gateway_reply_cache_total",
	Help: `get_*_info calls by how they were answered: "hit" (the session said the kept reply is current), "miss" (a new reply came), "direct" (a small reply, asked for by each call).`,
}, []string{"route", "result"})

// smallReply is the size up to which a cacheable reply is neither kept nor shared: asking the
// session for it costs no more than asking whether it changed.
const smallReply = 64 << 10

// exchangeFunc asks the session once; etag, when not empty, is the version the gateway holds.
type exchangeFunc func(ctx context.Context, etag string) (status int, body []byte, hdr nats.Header)

// replyCache answers the cacheable routes (events.Cacheable), whose replies grow with the roster
// (26 MB for 100,000 group members) and change only with it. It keeps the last large reply of
// each route and asks the session, on every call, whether that version is still current, so
// an unchanged roster crosses NATS as a few bytes. Every call is answered from an exchange with
// the session that began after the call arrived, so a caller never sees a roster older than its
// call; calls with the same parameters that arrive while an exchange runs share the next one,
// so a crowd of callers has one large reply on its way at a time, not one each: many
// concurrent 26 MB replies would overrun NATS's pending limits, and the server would cut the
// gateway off as a slow consumer.
type replyCache struct {
	timeout time.Duration

	mu      sync.Mutex
	routes  map[string]*cachedRoute // by account and route: each account has its roster
	flights map[string]*flight      // by account, route and parameters, while an exchange runs
}

type cachedRoute struct {
	name  string
	etag  string
	body  []byte
	small bool // the last reply was small: calls ask the session directly
}

// flight is the exchanges of the calls of one route with the same parameters.
type flight struct {
	key     string
	route   *cachedRoute
	running *exchange // the exchange under way
	next    *exchange // the one that starts when it ends, shared by the calls that came meanwhile
}

// exchange is one request to the session whose reply answers several calls.
type exchange struct {
	do      exchangeFunc
	waiters int // the calls waiting for it (under replyCache.mu)
	done    chan struct{}
	status  int
	body    []byte
}

func newReplyCache(timeout time.Duration) *replyCache {
	return &replyCache{timeout: timeout, routes: map[string]*cachedRoute{}, flights: map[string]*flight{}}
}

// get answers a call of route for the account client with the parameters params (encoded),
// with do to ask its session.
func (c *replyCache) get(ctx context.Context, client, route string, params []byte, do exchangeFunc) (int, []byte) {
	c.mu.Lock()
	rkey := client + "\x00" + route
	r := c.routes[rkey]
	if r == nil {
		r = &cachedRoute{name: route}
		c.routes[rkey] = r
	}
	if r.small {
		c.mu.Unlock()
		status, body, hdr := do(ctx, "")
		c.mu.Lock()
		r.keep(status, body, hdr)
		c.mu.Unlock()
		replyCacheCalls.WithLabelValues(route, "direct").Inc()
		return status, body
	}
	key := rkey + "\x00" + string(params)
	f := c.flights[key]
	var x *exchange
	switch {
	case f == nil:
		x = &exchange{do: do, done: make(chan struct{})}
		f = &flight{key: key, route: r, running: x}
		c.flights[key] = f
		go c.run(f)
	case f.next == nil:
		x = &exchange{do: do, done: make(chan struct{})}
		f.next = x
	default:
		x = f.next
	}
	x.waiters++
	c.mu.Unlock()
	select {
	case <-x.done:
		return x.status, x.body
	case <-ctx.Done():
		c.mu.Lock()
		x.waiters--
		c.mu.Unlock()
		return statusBody(events.ErrTimeout)
	}
}

// run carries out f's exchanges until none is waiting. An exchange answers several callers, so
// no single caller's context may cut it short: it has a time-out of its own.
func (c *replyCache) run(f *flight) {
	r := f.route
	c.mu.Lock()
	defer c.mu.Unlock()
	defer delete(c.flights, f.key)
	for x := f.running; x != nil; x = f.running {
		etag := r.etag
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		status, body, hdr := x.do(ctx, etag)
		cancel()
		c.mu.Lock()
		result := "miss"
		if status == http.StatusOK && hdr.Get(events.HeaderNotModified) != "" {
			if etag != "" && hdr.Get(events.HeaderETag) == etag && r.etag == etag {
				body, result = r.body, "hit"
			} else {
				// The session answered a version this gateway does not hold: a session
				// of another mind, never ours. Fail this call; the next asks afresh.
				status, body = statusBody(events.NewStatus(events.CodeInternal, "session answered not-modified for a version the gateway does not hold"))
				r.etag, r.body = "", nil
			}
		} else {
			r.keep(status, body, hdr)
		}
		replyCacheCalls.WithLabelValues(r.name, result).Inc()
		x.status, x.body = status, body
		close(x.done)
		f.running, f.next = f.next, nil
	}
}

// keep remembers a reply of the session: a large one with its version, or that it was small.
func (r *cachedRoute) keep(status int, body []byte, hdr nats.Header) {
	etag := hdr.Get(events.HeaderETag)
	if status != http.StatusOK || etag == "" {
		return // an error, or a session that does not version its replies: nothing learnt
	}
	if len(body) <= smallReply {
		r.etag, r.body, r.small = "", nil, true
		return
	}
	r.etag, r.body, r.small = etag, body, false
}
