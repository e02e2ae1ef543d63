package reporter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/infra/wait"
)

// membership is this replica's view of the live replicas of each target: a replica puts
// <target's consumer>.<its id> in the reporters bucket for each target it serves, every third
// of POST_PIN_TTL, and counts as gone when it has not for POST_PIN_TTL (or deleted its keys on
// stop). Per target, so that replicas serving other URLs on the same NATS get none of its
// partitions. The view only spreads the partitions: a replica that sees it wrong for a moment
// delivers nothing it must not, the pins see to that.
type membership struct {
	id      string
	name    string
	targets []string // the targets this replica serves, by consumer name
	ttl     time.Duration
	kv      jetstream.KeyValue

	mu      sync.Mutex
	seen    map[string]time.Time // key → when its last heartbeat was seen here
	ready   bool                 // the bucket's current content was read
	changed chan struct{}        // closed, and replaced, on every change
}

func newMemberID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// join binds (or creates) the reporters bucket and announces this replica for targets.
func (r *Reporter) join(ctx context.Context, targets []string) (*membership, error) {
	ttl := r.cfg.PostPinTTL
	bucket := r.subj.ReportersBucket()
	kv, err := r.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = r.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: bucket, Description: "openqq reporter replicas alive", TTL: ttl, History: 1,
			Replicas: max(r.cfg.KVReplicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = r.js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, err
	}
	// The bucket's TTL is its creator's: entries vanish after it, so it is the one to heed.
	if st, err := kv.Status(ctx); err == nil && st.TTL() > 0 {
		ttl = st.TTL()
	}
	m := &membership{id: r.id, name: r.name, targets: targets, ttl: ttl, kv: kv, seen: map[string]time.Time{}, changed: make(chan struct{})}
	if err := m.put(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// run renews this replica's entry and follows the others' until ctx ends, then removes its
// entry so that the others take its partitions at once (its pins go when it has drained).
func (m *membership) run(ctx context.Context) {
	var bg sync.WaitGroup
	defer bg.Wait()
	bg.Go(func() {
		for wait.Sleep(ctx, m.ttl/3) == nil {
			ictx, cancel := context.WithTimeout(ctx, m.ttl/3)
			_ = m.put(ictx)
			cancel()
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		for _, t := range m.targets {
			_ = m.kv.Delete(dctx, t+"."+m.id)
		}
	})
	for ctx.Err() == nil {
		m.watch(ctx)
		_ = wait.Sleep(ctx, time.Second)
	}
}

// watch follows the bucket until ctx ends or the watcher breaks (a lost connection).
func (m *membership) watch(ctx context.Context) {
	w, err := m.kv.WatchAll(ctx)
	if err != nil {
		return
	}
	defer func() { _ = w.Stop() }()
	initial := true // reading the bucket's current content
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			m.mu.Lock()
			switch {
			case e == nil: // the current content is read
				initial, m.ready = false, true
			case e.Operation() == jetstream.KeyValuePut:
				// An entry read at start may be a dead replica's last: it counts from when it
				// was put (not later than now, should the clocks differ). A live one, from now.
				at := time.Now()
				if initial && e.Created().Before(at) {
					at = e.Created()
				}
				m.seen[e.Key()] = at
			default:
				delete(m.seen, e.Key())
			}
			m.notifyLocked()
			m.mu.Unlock()
		}
	}
}

// notifyLocked wakes everyone waiting on changes; m.mu is held.
func (m *membership) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// changes is closed at the next change of the member set.
func (m *membership) changes() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// put announces this replica for each of its targets.
func (m *membership) put(ctx context.Context) error {
	var errs []error
	for _, t := range m.targets {
		if _, err := m.kv.PutString(ctx, t+"."+m.id, m.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// alive lists the ids of a target's live replicas, this one always among them, sorted; false
// until the bucket's content was read once.
func (m *membership) alive(target string) ([]string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []string{m.id}
	for key, at := range m.seen {
		id, ok := strings.CutPrefix(key, target+".")
		if ok && id != m.id && time.Since(at) <= m.ttl {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, m.ready
}
