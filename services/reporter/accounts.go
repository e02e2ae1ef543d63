package reporter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
)

// Many accounts (issue 14). The stream of a prefix holds every account's items
// (qq.events.<name> the default account's, qq.events.<client>.<name> another's), and one
// reporter deployment delivers them all, each account by its own settings (events.ClientSpec
// in the clients bucket, else the reporter's):
//
//   - The reporter's own targets (its POST_API URLs, POST_STDOUT) carry, through the same
//     durable consumers as before, the items of every account that has no POST_API of its own:
//     the default account's to the URL as it is, another's with client=NAME merged into the
//     query (events.ClientURL). The URL is resolved per item, from the item's subject.
//   - An account with a POST_API of its own gets one target per URL of it, with one durable
//     consumer filtered to that account's items (reporter_c_<client>_<hash of the URL>); the
//     reporter's targets skip (ack unposted) that account's items.
//
// Why an extra consumer per own URL rather than resolving that URL per item on the reporter's
// consumers: a consumer keeps its items' order by holding each conversation's next items
// behind the head, and it has a bound on the items in hand (MaxAckPending). A receiver that is
// down fills that bound with its account's items within a few thousand of them, and then the
// consumer stalls for every account on it until the dead letters drain them (POST_MAX_DELIVER
// tries each, one at a time per conversation): hours. Receivers that are one URL (the
// reporter's POST_API, client= aside) live and die together, so sharing a consumer costs
// nothing; a distinct URL is a distinct receiver, and its own consumer confines its outage to
// its own items, which go to the dead letters per item as before. Ordering keys include the
// client, so that the conversations of two accounts never wait on each other.
//
// An account's own consumer has one partition (POST_PARTITIONS is for the reporter's targets):
// its pin lets one replica deliver it at a time, and the accounts' pins spread over the
// replicas. It is deleted by the server after accountConsumerIdle without a replica (the
// account stopped for good).

// accountConsumerIdle is how long the server keeps an account's own consumer nobody pulls: a
// stopped account started again within it resumes where it was.
const accountConsumerIdle = 24 * time.Hour

// accountRetireGrace is how long an account's own targets go on after its spec is deleted
// (stop_client): the account's last words (state_change to stop, stop) are stored just after,
// and must go where its other items went.
var accountRetireGrace = 15 * time.Second

// delivery is the part of an account's settings the reporter reads (events.ClientDeliveryKeys
// without the poller's), applied by config.Apply over the reporter's own.
type delivery struct {
	PostAPI       []string `envconfig:"POST_API"`
	PostEvent     bool     `envconfig:"POST_EVENT"`
	PostEventList []string `envconfig:"POST_EVENT_LIST"`
	PostMediaData bool     `envconfig:"POST_MEDIA_DATA"`
}

// account is how one account's items are delivered.
type account struct {
	// own are its own post_api URLs; none: the reporter's.
	own []string
	// err says its settings do not parse: its items go nowhere (not to the reporter's URLs,
	// which are not its receiver) until they are fixed.
	err       error
	postEvent bool
	events    map[string]bool
	mediaData bool
	// since is when the spec that gave it its settings was stored: a new own consumer starts
	// there (or POST_BACKFILL back, whichever is later).
	since time.Time
}

// newAccount is an account with d for its settings.
func newAccount(d delivery) *account {
	a := &account{postEvent: d.PostEvent, mediaData: d.PostMediaData, events: map[string]bool{}}
	for _, e := range d.PostEventList {
		if e = strings.TrimSpace(e); e != "" {
			a.events[e] = true
		}
	}
	for _, u := range d.PostAPI {
		if u = strings.TrimSpace(u); u != "" {
			a.own = append(a.own, u)
		}
	}
	return a
}

// baseDelivery is the reporter's own settings, every account's default.
func (c Config) baseDelivery() delivery {
	return delivery{PostEvent: c.PostEvent, PostEventList: c.PostEventList, PostMediaData: c.PostMediaData}
}

// accountFrom is an account's delivery from its spec: its delivery keys over the reporter's.
func (r *Reporter) accountFrom(spec events.ClientSpec, since time.Time) *account {
	d := r.cfg.baseDelivery()
	vars := map[string]string{}
	for _, k := range events.ClientDeliveryKeys {
		if v, ok := spec.Settings[k]; ok {
			vars[k] = v
		}
	}
	_, err := config.Apply("", &d, vars)
	a := newAccount(d)
	a.since = since
	if err == nil {
		for _, u := range a.own {
			if err = checkURL(u); err != nil {
				err = fmt.Errorf("POST_API: %w", err)
				break
			}
		}
	}
	if err == nil {
		for e := range a.events {
			if !validToken(e) {
				err = fmt.Errorf("POST_EVENT_LIST: %q is not an event name", e)
				break
			}
		}
	}
	a.err = err
	return a
}

// wants reports whether the account's item of this name (a message type or an event) goes.
func (a *account) wants(p platform, name string) bool {
	return p.isMessageType(name) || a.postEvent && a.events[name]
}

// nameOf is an item's name: the last token of its subject.
func nameOf(subject string) string { return subject[strings.LastIndexByte(subject, '.')+1:] }

// accountOf is how the items of client are delivered: its spec's settings, else the
// reporter's. The default account always has the reporter's: its reports are what a
// single-account deployment's were.
func (r *Reporter) accountOf(client string) *account {
	if events.IsDefaultClient(client) {
		return r.base
	}
	r.accMu.RLock()
	a, ok := r.accounts[client]
	r.accMu.RUnlock()
	if ok {
		return a
	}
	return r.base
}

// sharedAccepts reports whether an item goes to the reporter's own targets: an item of this
// prefix, of an account without a POST_API of its own, whose settings want its name.
func (r *Reporter) sharedAccepts(subject string) bool {
	client, ok := r.subj.ClientOf(subject)
	if !ok {
		return false
	}
	a := r.accountOf(client)
	return a.own == nil && a.err == nil && a.wants(r.plat, nameOf(subject))
}

// isAccountTarget reports whether t is a target of an account's own POST_API.
func isAccountTarget(t target) bool {
	ht, ok := t.(*httpTarget)
	return ok && ht.client != ""
}

// ownTarget is one running target of an account's own POST_API.
type ownTarget struct {
	t    *httpTarget
	stop context.CancelFunc
	done chan struct{}
}

// accountManager runs the targets of the accounts' own POST_APIs, as their specs come and go.
type accountManager struct {
	r        *Reporter
	running  map[string]*ownTarget // by consumer name
	prev     map[string]*account   // the accounts of the last reconcile, by client
	retiring map[string]time.Time  // deleted accounts whose own targets still run, until when
	logged   map[string]string     // the last settings error logged, by client
	wg       sync.WaitGroup
}

func newAccountManager(r *Reporter) *accountManager {
	return &accountManager{r: r, running: map[string]*ownTarget{}, prev: map[string]*account{},
		retiring: map[string]time.Time{}, logged: map[string]string{}}
}

// run follows the view until ctx ends, then waits for the accounts' targets to drain.
func (m *accountManager) run(ctx context.Context, view *client.Accounts) {
	defer m.wg.Wait()
	for {
		changed := view.Changes()
		next := m.reconcile(ctx, view.All(), time.Now())
		var timer <-chan time.Time
		if !next.IsZero() {
			timer = time.After(time.Until(next))
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-timer:
		}
	}
}

// reconcile makes the running targets those of the accounts in specs (and of the deleted ones
// still in their grace), and the reporter's view of every account's settings theirs. It
// returns when the next grace ends (zero: none).
func (m *accountManager) reconcile(ctx context.Context, specs map[string]client.Account, now time.Time) time.Time {
	r := m.r
	accts := map[string]*account{}
	for name, s := range specs {
		if events.IsDefaultClient(name) {
			continue
		}
		a := r.accountFrom(s.Spec, s.Updated)
		accts[name] = a
		delete(m.retiring, name)
		if a.err == nil {
			delete(m.logged, name)
		} else if m.logged[name] != a.err.Error() {
			m.logged[name] = a.err.Error()
			r.log.Error("account's delivery settings refused: its items are not delivered until they are fixed", "client", name, "err", a.err)
		}
	}
	var next time.Time
	for name, a := range m.prev {
		if _, ok := accts[name]; ok || a.own == nil {
			continue
		}
		until, ok := m.retiring[name]
		if !ok {
			until = now.Add(accountRetireGrace)
			m.retiring[name] = until
			r.log.Info("account gone: its own targets stop after a grace", "client", name, "grace", accountRetireGrace)
		}
		if now.Before(until) {
			accts[name] = a
			if next.IsZero() || until.Before(next) {
				next = until
			}
		} else {
			delete(m.retiring, name)
		}
	}
	// The shared targets read the new settings from now on; the own targets they defer to are
	// started below, from the time their spec was stored.
	r.accMu.Lock()
	r.accounts = accts
	r.accMu.Unlock()
	want := map[string]*httpTarget{}
	for name, a := range accts {
		if a.err != nil {
			continue
		}
		for _, u := range a.own {
			t := newAccountTarget(r, name, u, a.since)
			want[t.consumer()] = t
		}
	}
	for name, o := range m.running {
		if _, ok := want[name]; !ok {
			o.stop()
			<-o.done
			delete(m.running, name)
			r.log.Info("account target stopped", "target", o.t.String())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := m.running[name]; ok {
			continue
		}
		t := want[name]
		tctx, stop := context.WithCancel(ctx)
		o := &ownTarget{t: t, stop: stop, done: make(chan struct{})}
		m.running[name] = o
		m.wg.Go(func() {
			defer close(o.done)
			r.serve(tctx, t, nil)
		})
		r.log.Info("account target started", "target", t.String())
	}
	m.prev = accts
	return next
}

// accountsSnapshot reads the clients bucket once (for replay): every account's settings.
func (r *Reporter) accountsSnapshot(ctx context.Context) (map[string]*account, error) {
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	view := r.qq.WatchAccounts(vctx, nil)
	select {
	case <-view.Ready():
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		return nil, errors.New("clients bucket: not read within 10s")
	}
	out := map[string]*account{}
	for name, s := range view.All() {
		if !events.IsDefaultClient(name) {
			out[name] = r.accountFrom(s.Spec, s.Updated)
		}
	}
	return out, nil
}
