package onebot

import (
	"context"
	"sync"
	"time"
)

// dedup remembers the keys of recent events for a window, so that an event the peer sends
// twice (NapCat#574, #1051, go-cqhttp#32) is reported once. It outlives connections: a peer
// may repeat itself after a reconnect.
type dedup struct {
	window time.Duration
	mu     sync.Mutex
	seen   map[string]time.Time
	order  []string // keys by first sight, to expire in order
}

func newDedup(window time.Duration) *dedup {
	return &dedup{window: window, seen: map[string]time.Time{}}
}

// first reports whether key was not seen within the window, and remembers it.
func (d *dedup) first(key string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.order) > 0 {
		k := d.order[0]
		if now.Sub(d.seen[k]) < d.window {
			break
		}
		delete(d.seen, k)
		d.order = d.order[1:]
	}
	if _, ok := d.seen[key]; ok {
		return false
	}
	d.seen[key] = now
	d.order = append(d.order, key)
	return true
}

// inflight counts our sends that wait for their answer: the peer's report of a message we
// sent may come before the answer that names its id.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 {
		close(f.idle)
	}
}

// wait returns once no send is in flight, or after at most d.
func (f *inflight) wait(ctx context.Context, d time.Duration) {
	f.mu.Lock()
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	idle := f.idle
	f.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}
