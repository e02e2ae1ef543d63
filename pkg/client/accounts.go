package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

// Account is one account's desired state as the clients bucket holds it.
type Account struct {
	Spec events.ClientSpec
	// Updated is when the bucket stored this revision of the spec (the server's clock, as the
	// stream's timestamps): items of the account stored from then on are this spec's.
	Updated time.Time
	// Revision is the bucket's revision of the entry.
	Revision uint64
}

// Accounts is a live, in-memory view of a prefix's clients bucket (Subjects.ClientsBucket:
// the accounts' events.ClientSpec), for the services that read an account's settings per item
// or per account: the reporter and the poller. A bucket that does not exist (yet) reads as
// empty, and is looked for again until it does.
type Accounts struct {
	mu      sync.Mutex
	specs   map[string]Account
	ready   bool
	changed chan struct{} // closed, and replaced, at every change
	readyCh chan struct{} // closed once the bucket was read (or found absent)
}

// accountsRetry is how long the view waits before looking for a missing bucket again, or
// watching again after its watcher broke.
var accountsRetry = 2 * time.Second

// WatchAccounts follows the clients bucket of the client's prefix until ctx ends: the view is
// filled in the background (Ready says when it was first read) and kept up to date with
// kv.WatchAll. onError (nil: ignored) hears of what goes wrong on the way: a spec that does not
// decode (that account is then absent from the view), a watcher that broke.
func (c *Client) WatchAccounts(ctx context.Context, onError func(error)) *Accounts {
	a := &Accounts{specs: map[string]Account{}, changed: make(chan struct{}), readyCh: make(chan struct{})}
	if onError == nil {
		onError = func(error) {}
	}
	go a.run(ctx, c, onError)
	return a
}

// Get is one account's entry; false when the bucket has none (or it does not decode).
func (a *Accounts) Get(client string) (Account, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	acc, ok := a.specs[client]
	return acc, ok
}

// All is a copy of every entry, by client name.
func (a *Accounts) All() map[string]Account {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.specs)
}

// Ready is closed once the bucket's content was read, or the bucket found absent.
func (a *Accounts) Ready() <-chan struct{} { return a.readyCh }

// Changes is closed at the next change of the view (the first read included).
func (a *Accounts) Changes() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.changed
}

// replace swaps the whole content in (a first read, or a read again after a broken watcher:
// the deletions missed meanwhile are seen so) and marks the view ready.
func (a *Accounts) replace(specs map[string]Account) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.specs = specs
	if !a.ready {
		a.ready = true
		close(a.readyCh)
	}
	a.notifyLocked()
}

func (a *Accounts) set(client string, acc Account, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ok {
		a.specs[client] = acc
	} else {
		delete(a.specs, client)
	}
	a.notifyLocked()
}

func (a *Accounts) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Accounts) run(ctx context.Context, c *Client, onError func(error)) {
	js, err := jetstream.New(c.nc)
	if err != nil {
		onError(err)
		return
	}
	bucket := c.subj.ClientsBucket()
	for ctx.Err() == nil {
		kv, err := js.KeyValue(ctx, bucket)
		switch {
		case errors.Is(err, jetstream.ErrBucketNotFound):
			a.replace(map[string]Account{}) // no bucket: no account has settings of its own
		case err != nil:
			onError(fmt.Errorf("clients bucket %s: %w", bucket, err))
		default:
			a.watch(ctx, kv, onError)
		}
		select {
		case <-ctx.Done():
		case <-time.After(accountsRetry):
		}
	}
}

// watch follows the bucket until ctx ends or the watcher breaks (the bucket deleted, the
// connection lost).
func (a *Accounts) watch(ctx context.Context, kv jetstream.KeyValue, onError func(error)) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		onError(fmt.Errorf("clients bucket: %w", err))
		return
	}
	defer func() { _ = w.Stop() }()
	initial := map[string]Account{} // the content read before the first nil marker
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil {
				a.replace(initial)
				initial = nil
				continue
			}
			acc, ok := decodeAccount(e, onError)
			if initial != nil {
				if ok {
					initial[e.Key()] = acc
				} else {
					delete(initial, e.Key())
				}
				continue
			}
			a.set(e.Key(), acc, ok)
		}
	}
}

// decodeAccount reads one entry; false for a deletion or an entry that is not a spec.
func decodeAccount(e jetstream.KeyValueEntry, onError func(error)) (Account, bool) {
	if e.Operation() != jetstream.KeyValuePut || !events.ValidClient(e.Key()) {
		return Account{}, false
	}
	var spec events.ClientSpec
	if err := json.Unmarshal(e.Value(), &spec); err != nil {
		onError(fmt.Errorf("clients bucket: %s: not a client spec: %w", e.Key(), err))
		return Account{}, false
	}
	spec.Client = e.Key() // the key names the account, whatever the value says
	return Account{Spec: spec, Updated: e.Created(), Revision: e.Revision()}, true
}
