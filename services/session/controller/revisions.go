package controller

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

// revisions is a live view of the clients bucket's keys and their revisions, from one watch:
// start_client counts the accounts against MAX_CLIENTS from it rather than reading the whole
// bucket twice a call (with 1,000 accounts, two consumers reading 1,000 entries each, per start).
type revisions struct {
	mu      sync.Mutex
	revs    map[string]uint64
	seen    uint64        // the highest revision applied
	changed chan struct{} // closed and replaced at each update
	err     error         // why the watch ended, if it did
}

func newRevisions() *revisions {
	return &revisions{revs: map[string]uint64{}, changed: make(chan struct{})}
}

// follow applies the bucket's updates until ctx ends; it returns once the bucket's current
// content has been applied (or the watch failed), and keeps following in the background.
func (r *revisions) follow(ctx context.Context, kv jetstream.KeyValue) error {
	w, err := kv.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return fmt.Errorf("watch %s: %w", kv.Bucket(), err)
	}
	initial := make(chan struct{})
	go func() {
		defer func() { _ = w.Stop() }()
		once := sync.OnceFunc(func() { close(initial) })
		defer once()
		for {
			select {
			case <-ctx.Done():
				r.fail(ctx.Err())
				return
			case e, ok := <-w.Updates():
				if !ok {
					r.fail(fmt.Errorf("watch of %s ended", kv.Bucket()))
					return
				}
				if e == nil {
					once()
					continue
				}
				r.apply(e)
			}
		}
	}()
	select {
	case <-initial:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *revisions) apply(e jetstream.KeyValueEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Operation() == jetstream.KeyValuePut {
		r.revs[e.Key()] = e.Revision()
	} else {
		delete(r.revs, e.Key())
	}
	r.seen = max(r.seen, e.Revision())
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *revisions) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	close(r.changed)
	r.changed = make(chan struct{})
}

// countBefore counts the accounts that count against MaxClients (every one but the default
// account) whose key's revision is below rev, every one for rev 0. For rev > 0 it first waits
// until the view has applied rev: the watch delivers in the stream's order, so every key
// created before it is in the view then.
func (r *revisions) countBefore(ctx context.Context, rev uint64) (int, error) {
	r.mu.Lock()
	for rev > 0 && r.seen < rev && r.err == nil {
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, fmt.Errorf("count clients: %w", ctx.Err())
		}
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	if r.err != nil && (rev == 0 || r.seen < rev) {
		return 0, fmt.Errorf("count clients: %w", r.err)
	}
	n := 0
	for k, v := range r.revs {
		if !events.IsDefaultClient(k) && (rev == 0 || v < rev) {
			n++
		}
	}
	return n, nil
}
