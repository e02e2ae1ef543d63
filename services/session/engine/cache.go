package engine

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
)

// versioned is the reply of a cacheable route (events.Cacheable): its body, or no body when the
// caller said it holds this version already.
type versioned struct {
	etag string
	body json.RawMessage // nil: not modified
}

func (v versioned) headers() micro.Headers {
	h := micro.Headers{events.HeaderETag: {v.etag}}
	if v.body == nil {
		h[events.HeaderNotModified] = []string{"1"}
	}
	return h
}

// Cached answers a get_*_info route with the reply encode makes from the roster. The gateway
// keeps the last reply and asks again with its version, so a roster that has not changed costs a
// few bytes instead of an encoding and a copy of the whole roster; the engine keeps an encoded
// copy of small replies only, since with 100,000 group members one would be 26 MB more on top
// of the roster. Cached calls encode under the roster's read lock (the reply shares slices with
// the roster), and answers "not ready" while the platform has no roster (before LoggedIn, after
// a login ends). The platform calls Changed whenever the roster changes.
func (e *Engine) Cached(ctx context.Context, route string, encode func(sizeHint int) ([]byte, error)) (any, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.loaded {
		return nil, events.ErrNotReady(e.State())
	}
	etag := e.boot + "." + strconv.FormatUint(e.gen, 10)
	if ifNoneMatch(ctx) == etag {
		return versioned{etag: etag}, nil
	}
	last, _ := e.replies.Load(route)
	prev, _ := last.(lastReply)
	if prev.body != nil && prev.gen == e.gen {
		return versioned{etag: etag, body: prev.body}, nil
	}
	// The last size of the route's reply sizes the buffer, so that a large one is built
	// without regrowing.
	b, err := encode(prev.size)
	if err != nil {
		return nil, err
	}
	next := lastReply{gen: e.gen, size: len(b)}
	if len(b) <= maxKept {
		next.body = b
	}
	e.replies.Store(route, next)
	return versioned{etag: etag, body: b}, nil
}

// The roster lock. The platform keeps its roster under it: it reads under RLock, changes under
// Lock and calls Changed before Unlock, so that no cached reply outlives the roster it shows.
// The client state has a lock of its own: State may be called under the roster lock.

// RLock locks the roster for reading.
func (e *Engine) RLock() { e.mu.RLock() }

// RUnlock undoes RLock.
func (e *Engine) RUnlock() { e.mu.RUnlock() }

// Lock locks the roster for writing.
func (e *Engine) Lock() { e.mu.Lock() }

// Unlock undoes Lock.
func (e *Engine) Unlock() { e.mu.Unlock() }

// Changed says the roster changed: the get_*_info replies get a new version. The caller
// holds Lock.
func (e *Engine) Changed() { e.gen++ }

// maxKept is the size up to which the session keeps a reply it encoded: the gateway asks
// for small replies on every call (a few hundred bytes cost no more to send than to
// revalidate) and keeps the large ones itself.
const maxKept = 64 << 10

// lastReply is what the session remembers of a route's last reply: its size, and the reply
// itself if it is small, with the roster version it shows.
type lastReply struct {
	gen  uint64
	size int
	body json.RawMessage // nil: not kept
}

type ifNoneMatchKey struct{}

// withIfNoneMatch carries the version a caller holds (the Openqq-If-None-Match header).
func withIfNoneMatch(ctx context.Context, etag string) context.Context {
	if etag == "" {
		return ctx
	}
	return context.WithValue(ctx, ifNoneMatchKey{}, etag)
}

func ifNoneMatch(ctx context.Context) string {
	etag, _ := ctx.Value(ifNoneMatchKey{}).(string)
	return etag
}
