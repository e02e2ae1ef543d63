package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/controller"
	"github.com/openqq/openqq/services/session/engine"
)

// Host places and runs the accounts of one subject prefix.
type Host struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	base     session.Config
	cfg      Config
	log      *slog.Logger
	subj     events.Subjects
	interval time.Duration // between two renewals of a lease: LeaseTTL/3
	pid      int
	hostname string

	clients, leases, hosts jetstream.KeyValue
	ctl                    *controller.Controller // the Controller routes of the prefix, served beside the accounts

	kick  chan struct{}  // wakes the placement loop
	ended chan *account  // an account's Run returned
	quit  chan error     // the default account stopped on its own: Run returns this
	done  chan struct{}  // closed when Run returns
	sync  sync.WaitGroup // the initial values of the three watchers

	mu       sync.Mutex
	specs    map[string]spec      // the clients bucket
	leased   map[string]lease     // the leases bucket
	live     map[string]Info      // the hosts bucket: this prefix's live hosts, by id
	unleased map[string]time.Time // since when a client of specs has had no lease
	running  map[string]*account  // the accounts this host runs
	stopping map[string]*account  // stopped, not ended yet: not taken again before they end
	failed   map[string]time.Time // failed for good here: not taken again before then
	// unstored are the reports of accounts that stopped here before they could store them
	// (NATS away, the stream without a leader): the account's next run here stores them first
	// (session.Config.Carry), and until then the host keeps storing them itself (keepStoring).
	unstored map[string][]*nats.Msg
	handed   map[string]time.Time // when this host handed an account over to its first-ranked host
	regd     bool                 // the host's key is in the hosts bucket
}

type spec struct {
	events.ClientSpec
	rev uint64
}

type lease struct {
	host  string
	rev   uint64
	state events.State
}

// account is one account this host runs.
type account struct {
	client string
	spec   spec
	sess   *session.Session
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's result, once done

	// under Host.mu
	rev       uint64    // the lease's revision
	renewed   time.Time // when the last successful renewal was sent
	took      time.Time
	prev, cur events.State
	dirty     bool // its state changed since the last renewal
	ran       bool // it has been running
	stopped   bool // the host stopped it: its end is not the account's own
}

// Renewals and placement act at most this many at once.
const parallelism = 32

// handoverBatch is how many accounts a host hands over at least per interval when hosts join
// (a sixteenth of its accounts if that is more): a few at a time, so that the other host's
// logins do not all come at once.
const handoverBatch = 4

// New builds a host for base's prefix (base is the host's own session configuration: its
// platform, prefix, stream, and the default account's settings).
func New(nc *nats.Conn, base session.Config, cfg Config, log *slog.Logger) (*Host, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	base = base.Filled()
	if !events.ValidPrefix(base.SubjectPrefix) {
		return nil, fmt.Errorf("%w: SUBJECT_PREFIX %q", ErrConfig, base.SubjectPrefix)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if cfg.DefaultClient.On() {
		// The default account's configuration is the host's own: a mistake in it stops the
		// start, as it stopped a single-account session's.
		if _, err := session.New(nc, base, log); err != nil {
			return nil, err
		}
	}
	subj := events.Subjects{Prefix: base.SubjectPrefix}
	ctl, err := controller.New(nc, controller.Config{MaxClients: cfg.MaxClients, KVReplicas: cfg.KVReplicas, Session: base, Host: cfg.ID}, log)
	if err != nil {
		return nil, err
	}
	hostname, _ := os.Hostname()
	return &Host{hostname: hostname, ctl: ctl,
		nc: nc, js: js, base: base, cfg: cfg, subj: subj, pid: os.Getpid(),
		log:      log.With("svc", "host", "host", cfg.ID, "prefix", subj.Prefix),
		interval: cfg.LeaseTTL / 3,
		kick:     make(chan struct{}, 1), ended: make(chan *account, 16), quit: make(chan error, 1),
		done:  make(chan struct{}),
		specs: map[string]spec{}, leased: map[string]lease{}, live: map[string]Info{},
		unleased: map[string]time.Time{}, running: map[string]*account{}, stopping: map[string]*account{},
		failed: map[string]time.Time{}, unstored: map[string][]*nats.Msg{}, handed: map[string]time.Time{},
	}, nil
}

// ID is the host's id.
func (h *Host) ID() string { return h.cfg.ID }

// Run places and runs accounts until ctx ends, then stops every account it runs and deletes
// their leases, so that other hosts take them at once. It returns early when the default
// account this host runs from its environment stops on its own (its stop_client, or a
// driver failure logging in again cannot help), as a single-account session did.
func (h *Host) Run(ctx context.Context) error {
	config.Log(h.log, "host", &h.cfg)
	defer close(h.done)
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.setup(setup); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	h.sync.Add(3)
	for _, w := range []struct {
		kv     jetstream.KeyValue
		filter string
		on     func(jetstream.KeyValueEntry) bool
	}{{h.clients, "", h.onSpec}, {h.leases, "", h.onLease}, {h.hosts, h.subj.Prefix + ".>", h.onHost}} {
		if err := h.watch(wctx, w.kv, w.filter, w.on); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	h.sync.Wait()
	h.heartbeat(setup)
	h.log.Info("session host started", "lease_ttl", h.cfg.LeaseTTL, "default_client", h.cfg.DefaultClient.On())

	// Every host serves the Controller of its prefix (one queue group): start_client on any
	// host stores the spec, and the placement above runs it wherever it ranks.
	cctx, stopCtl := context.WithCancel(ctx)
	ctlDone := make(chan error, 1)
	go func() {
		err := h.ctl.Serve(cctx)
		if err != nil && cctx.Err() == nil {
			h.log.Error("the Controller stopped: start_client, stop_client, check_client and get_qrcode are not served by this host", "err", err)
		}
		ctlDone <- err
	}()
	defer func() { stopCtl(); <-ctlDone }()

	fctx, stopFence := context.WithCancel(ctx)
	defer stopFence()
	go h.fence(fctx)
	go h.keepStoring(fctx)
	go h.feedCheckEvents(fctx)

	tick := time.NewTicker(h.interval / 2)
	defer tick.Stop()
	lastBeat := time.Now()
	var quitErr error
loop:
	for {
		h.place(ctx)
		select {
		case <-ctx.Done():
			break loop
		case quitErr = <-h.quit:
			break loop
		case <-tick.C:
			if time.Since(lastBeat) >= h.interval {
				h.heartbeat(ctx)
				lastBeat = time.Now()
			}
			h.renew(ctx, false)
		case <-h.kick:
			h.renew(ctx, true)
		case a := <-h.ended:
			h.onEnded(ctx, a)
		}
	}
	h.shutdown()
	return quitErr
}

// setup opens the buckets, creates the stream and declares the default account.
func (h *Host) setup(ctx context.Context) error {
	var err error
	if h.clients, h.leases, h.hosts, err = buckets(ctx, h.js, h.subj, h.cfg); err != nil {
		return fmt.Errorf("session host: %w", err)
	}
	// The bucket's TTL is every host's lease time: the first host set it. A host told another
	// one follows the bucket, or it would renew too late (or too often).
	var st jetstream.KeyValueStatus
	err = natsconn.RetryAPI(ctx, func(ctx context.Context) error {
		var err error
		st, err = h.leases.Status(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("session host: bucket %s: %w", h.subj.LeasesBucket(), err)
	}
	if ttl := st.TTL(); ttl > 0 && ttl != h.cfg.LeaseTTL {
		h.log.Warn("LEASE_TTL differs from the leases bucket's: using the bucket's", "lease_ttl", h.cfg.LeaseTTL, "bucket_ttl", ttl)
		h.cfg.LeaseTTL, h.interval = ttl, ttl/3
	}
	// The stream once for every account (they are told so: StreamManaged).
	if err := natsconn.RetryAPI(ctx, func(ctx context.Context) error {
		_, err := h.js.CreateOrUpdateStream(ctx, engine.StreamSettings(h.subj, h.base.Stream))
		return err
	}); err != nil {
		return fmt.Errorf("session host: stream %s: %w", h.subj.Stream(), err)
	}
	if h.cfg.DefaultClient.On() {
		if err := h.declareDefault(ctx); err != nil {
			return fmt.Errorf("session host: declare the default account: %w", err)
		}
	}
	return nil
}

// Ready is the host's readiness: nil once it is in the hosts bucket and, if it declares the
// default account, once that account is running, here or on another live host (a
// single-account session's readiness, the client running, where it still means something).
func (h *Host) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.regd {
		return errors.New("host not registered yet")
	}
	if !h.cfg.DefaultClient.On() {
		return nil
	}
	if a, ok := h.running[events.DefaultClient]; ok {
		if st := a.sess.ClientState(); st != events.StateRunning {
			return fmt.Errorf("client %s", st)
		}
		return nil
	}
	// Running on another live host. A dead host's lease says running until it expires: the
	// host's key in the hosts bucket goes with it, at the same time.
	l, ok := h.leased[events.DefaultClient]
	if _, live := h.live[l.host]; !ok || !live || h.deadLocal(l.host) || l.state != events.StateRunning {
		return errors.New("the default account runs nowhere yet")
	}
	return nil
}

// Session is the session of client while this host runs it.
func (h *Host) Session(client string) (*session.Session, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.running[client]
	if !ok {
		return nil, false
	}
	return a.sess, true
}

// Accounts are the clients this host runs, sorted.
func (h *Host) Accounts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.running))
}

// declareDefault puts the default account's spec from the host's environment into the clients
// bucket, unless it is there already as it would put it.
func (h *Host) declareDefault(ctx context.Context) error {
	want := events.ClientSpec{
		Client: events.DefaultClient, Source: events.SourceEnv, StartTime: time.Now().Unix(),
		Settings: map[string]string{"DRIVER": h.base.Driver},
	}
	if e, err := h.clients.Get(ctx, events.DefaultClient); err == nil {
		var have events.ClientSpec
		if json.Unmarshal(e.Value(), &have) == nil && have.Source == want.Source && maps.Equal(have.Settings, want.Settings) {
			return nil
		}
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	_, err := h.clients.Put(ctx, events.DefaultClient, events.MustMarshal(want))
	return err
}

// watch follows kv's keys (filter, or all) into on, from their current values on; the host's
// sync is done once the current values are in. on says whether the placement must look again.
func (h *Host) watch(ctx context.Context, kv jetstream.KeyValue, filter string, on func(jetstream.KeyValueEntry) bool) error {
	var (
		w   jetstream.KeyWatcher
		err error
	)
	if filter == "" {
		w, err = kv.WatchAll(ctx)
	} else {
		w, err = kv.Watch(ctx, filter)
	}
	if err != nil {
		h.sync.Done()
		return fmt.Errorf("session host: watch %s: %w", kv.Bucket(), err)
	}
	go func() {
		defer func() { _ = w.Stop() }()
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					h.sync.Done()
				}
				continue
			}
			if on(e) {
				h.wake()
			}
		}
		if initial {
			h.sync.Done()
		}
	}()
	return nil
}

func (h *Host) wake() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func gone(e jetstream.KeyValueEntry) bool {
	op := e.Operation()
	return op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge
}

func (h *Host) onSpec(e jetstream.KeyValueEntry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gone(e) {
		delete(h.specs, e.Key())
		delete(h.unleased, e.Key())
		delete(h.failed, e.Key())
		return true
	}
	var s events.ClientSpec
	if err := json.Unmarshal(e.Value(), &s); err != nil || s.Client != e.Key() || !events.ValidClient(s.Client) {
		h.log.Warn("clients bucket: bad spec ignored", "client", e.Key(), "err", err)
		delete(h.specs, e.Key())
		return true
	}
	h.specs[e.Key()] = spec{s, e.Revision()}
	return true
}

func (h *Host) onLease(e jetstream.KeyValueEntry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gone(e) {
		delete(h.leased, e.Key())
		return true
	}
	var l events.ClientLease
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		l.Host = "?"
	}
	old, had := h.leased[e.Key()]
	h.leased[e.Key()] = lease{l.Host, e.Revision(), l.State}
	delete(h.unleased, e.Key())
	// A renewal by the same host changes nothing the placement looks at.
	return !had || old.host != l.Host
}

func (h *Host) onHost(e jetstream.KeyValueEntry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if gone(e) {
		for id := range h.live {
			if h.subj.Prefix+"."+id == e.Key() {
				delete(h.live, id)
				h.log.Info("host left", "peer", id)
			}
		}
		return true
	}
	var in Info
	if err := json.Unmarshal(e.Value(), &in); err != nil || in.ID == "" {
		return false
	}
	_, known := h.live[in.ID]
	if !known && in.ID != h.cfg.ID {
		h.log.Info("host joined", "peer", in.ID)
	}
	h.live[in.ID] = in
	return !known
}

// heartbeat puts the host's key in the hosts bucket.
func (h *Host) heartbeat(ctx context.Context) {
	h.mu.Lock()
	in := Info{ID: h.cfg.ID, PID: h.pid, Hostname: h.hostname, Prefixes: []string{h.subj.Prefix}, Accounts: len(h.running), Default: h.cfg.DefaultClient.On()}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, h.interval)
	defer cancel()
	if _, err := h.hosts.Put(ctx, h.hostKey(), events.MustMarshal(in)); err != nil {
		h.log.Warn("host heartbeat failed", "err", err)
		return
	}
	h.mu.Lock()
	h.regd = true
	h.live[h.cfg.ID] = in
	h.mu.Unlock()
	hostAccounts.WithLabelValues(h.subj.Prefix).Set(float64(in.Accounts))
}

// deadLocal reports (under h.mu) whether host id is a process of this machine that is gone:
// a predecessor SIGKILLed and restarted, whose leases need not wait for their TTL.
func (h *Host) deadLocal(id string) bool {
	in, ok := h.live[id]
	return ok && id != h.cfg.ID && h.hostname != "" && in.Hostname == h.hostname && in.PID != h.pid && !pidAlive(in.PID)
}

func (h *Host) hostKey() string { return h.subj.Prefix + "." + h.cfg.ID }

// score is client's rendezvous weight on host id.
func score(id, client string) uint64 {
	f := fnv.New64a()
	_, _ = f.Write([]byte(id))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(client))
	// FNV alone barely tells apart ids that differ in one character (h1, h2): every client
	// would rank them alike. Murmur3's finalizer mixes every bit into every other.
	x := f.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// top is the live host that ranks first for s (under h.mu), "" if none may run it.
func (h *Host) top(s spec) string {
	best, bestScore := "", uint64(0)
	for id, in := range h.live {
		if !h.eligible(s, in) || h.deadLocal(id) {
			continue
		}
		if sc := score(id, s.Client); best == "" || sc > bestScore || sc == bestScore && id < best {
			best, bestScore = id, sc
		}
	}
	return best
}

// eligible says whether host in may run s: the default account declared from an environment
// runs only on a host that declares it.
func (h *Host) eligible(s spec, in Info) bool {
	return !(events.IsDefaultClient(s.Client) && s.Source == events.SourceEnv) || in.Default
}

func (h *Host) self() Info {
	return Info{ID: h.cfg.ID, Default: h.cfg.DefaultClient.On()}
}

// place starts, stops and restarts accounts to match the buckets.
func (h *Host) place(ctx context.Context) {
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	var take []spec
	var release []*account // spec gone
	var restart []*account // spec changed
	var handover []*account
	h.mu.Lock()
	for c, a := range h.running {
		s, ok := h.specs[c]
		switch {
		case !ok:
			release = append(release, a)
		case s.rev != a.spec.rev && !sameSpec(s.ClientSpec, a.spec.ClientSpec):
			restart = append(restart, a)
		case s.rev != a.spec.rev:
			a.spec = s
		}
	}
	for _, c := range slices.Sorted(maps.Keys(h.specs)) {
		s := h.specs[c]
		if _, ok := h.running[c]; ok {
			continue
		}
		if _, ok := h.stopping[c]; ok {
			continue
		}
		if until, ok := h.failed[c]; ok {
			if now.Before(until) {
				continue
			}
			delete(h.failed, c)
		}
		if !h.eligible(s, h.self()) {
			continue
		}
		recentlyHanded := now.Sub(h.handed[c]) < h.cfg.LeaseTTL
		if !recentlyHanded {
			delete(h.handed, c)
		}
		if l, ok := h.leased[c]; ok {
			// Ours from before (a restart with the same HOST_ID), or a dead process's of
			// this machine: taken over at once; not one this host just handed over, whose
			// lease is on its way out.
			if l.host == h.cfg.ID && !recentlyHanded || h.deadLocal(l.host) {
				take = append(take, s)
			}
			continue
		}
		since, ok := h.unleased[c]
		if !ok {
			since = now
			h.unleased[c] = now
		}
		// The fallback (an orphan any host takes) spares an account this host just handed
		// over: taking it back before its first-ranked host does would bounce it between them.
		if h.top(s) == h.cfg.ID || now.Sub(since) > h.interval && !recentlyHanded {
			take = append(take, s)
		}
	}
	// Hand over, gently, the accounts another live host ranks first for, held long enough
	// not to bounce.
	batch := max(handoverBatch, len(h.running)/16)
	for _, c := range slices.Sorted(maps.Keys(h.running)) {
		if len(handover) >= batch {
			break
		}
		a := h.running[c]
		if s, ok := h.specs[c]; ok && !slices.Contains(restart, a) {
			if t := h.top(s); t != "" && t != h.cfg.ID && now.Sub(a.took) >= h.cfg.LeaseTTL {
				handover = append(handover, a)
			}
		}
	}
	h.mu.Unlock()

	for _, a := range release {
		h.stop(a, "spec deleted", true)
	}
	for _, a := range handover {
		h.mu.Lock()
		h.handed[a.client] = now
		h.mu.Unlock()
		h.stop(a, "handed over", true)
	}
	for _, a := range restart {
		h.stop(a, "spec changed", false)
	}
	parallel(take, func(s spec) { h.take(ctx, s) })
	// A restarted account is taken again once its old run has ended (onEnded).
}

func sameSpec(a, b events.ClientSpec) bool {
	return a.Source == b.Source && maps.Equal(a.Settings, b.Settings)
}

// take acquires s's lease and starts its account.
func (h *Host) take(ctx context.Context, s spec) {
	cfg, err := accountConfig(h.base, s.ClientSpec, h.cfg.DefaultClient.On())
	if err != nil {
		h.log.Error("account cannot run", "client", s.Client, "err", err)
		h.markFailed(s.Client)
		return
	}
	now := time.Now()
	l := events.ClientLease{Client: s.Client, Host: h.cfg.ID, PID: h.pid, State: events.StateInit, Since: now.Unix()}
	rctx, cancel := context.WithTimeout(ctx, h.interval)
	defer cancel()
	h.mu.Lock()
	held, mine := h.leased[s.Client]
	mine = mine && (held.host == h.cfg.ID || h.deadLocal(held.host))
	h.mu.Unlock()
	var rev uint64
	if mine {
		if held.host != h.cfg.ID {
			h.log.Info("taking over the lease of a dead process of this machine", "client", s.Client, "from", held.host)
		}
		rev, err = h.leases.Update(rctx, s.Client, events.MustMarshal(l), held.rev)
	} else {
		rev, err = h.leases.Create(rctx, s.Client, events.MustMarshal(l))
	}
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			h.log.Warn("lease not taken", "client", s.Client, "err", err)
		}
		return
	}
	a := &account{client: s.Client, spec: s, done: make(chan struct{}), rev: rev, renewed: now, took: now, cur: events.StateInit}
	cfg.StreamManaged, cfg.SharedFeed = true, true
	h.mu.Lock()
	cfg.Carry = h.unstored[s.Client]
	delete(h.unstored, s.Client)
	h.mu.Unlock()
	if len(cfg.Carry) > 0 {
		h.log.Info("the account's unstored reports go first", "client", s.Client, "reports", len(cfg.Carry))
	}
	cfg.OnState = func(prev, cur events.State) {
		h.mu.Lock()
		a.prev, a.cur, a.dirty = prev, cur, true
		first := cur == events.StateRunning && !a.ran
		a.ran = a.ran || first
		h.mu.Unlock()
		if first {
			took := time.Since(now)
			accountStart.WithLabelValues(h.subj.Prefix).Observe(took.Seconds())
			h.log.Info("account running", "client", s.Client, "took", took.Round(time.Millisecond))
		}
		h.wake()
	}
	sess, err := session.New(h.nc, cfg, h.log.With("client", s.Client))
	if err != nil {
		h.keepUnstored(s.Client, cfg.Carry)
		h.log.Error("account cannot run", "client", s.Client, "err", err)
		h.markFailed(s.Client)
		h.deleteLease(s.Client, rev)
		return
	}
	actx, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.sess, a.cancel = sess, stop
	h.mu.Lock()
	h.running[s.Client] = a
	delete(h.unleased, s.Client)
	n := len(h.running)
	h.mu.Unlock()
	hostAccounts.WithLabelValues(h.subj.Prefix).Set(float64(n))
	h.log.Info("account taken", "client", s.Client, "rev", rev)
	go func() {
		a.err = sess.Run(actx)
		h.keepUnstored(a.client, sess.Engine().Unstored())
		close(a.done)
		select {
		case h.ended <- a:
		case <-h.done:
		}
	}()
}

// unstoredGrace bounds how long a stopping host keeps trying to store its accounts'
// unstored reports.
const unstoredGrace = 10 * time.Second

// keepUnstored keeps the reports an account could not store before it stopped, after any it
// left before: nothing it accepted is lost because it stopped (self-fenced in an outage, moved,
// restarted with new settings).
func (h *Host) keepUnstored(client string, msgs []*nats.Msg) {
	if len(msgs) == 0 {
		return
	}
	h.mu.Lock()
	h.unstored[client] = append(h.unstored[client], msgs...)
	n := len(h.unstored[client])
	h.mu.Unlock()
	h.log.Warn("account stopped with reports not stored yet: the host keeps storing them", "client", client, "reports", n)
}

// feedCheckEvents feeds the check_event of every account the host runs from one ordered
// consumer of the stream, from the host's start: a stream takes a bounded number of consumers
// (nats-server 2.15: 1,000 by default), and one per account would leave none for the reporters
// of a host with many accounts.
func (h *Host) feedCheckEvents(ctx context.Context) {
	engine.Follow(ctx, h.js, h.subj.Stream(), []string{h.subj.Events()}, time.Now(), h.log, func(m jetstream.Msg) {
		client, ok := h.subj.ClientOf(m.Subject())
		if !ok {
			return
		}
		h.mu.Lock()
		a := h.running[client]
		h.mu.Unlock()
		md, err := m.Metadata()
		if a == nil || err != nil {
			return
		}
		a.sess.Engine().FeedCheckEvent(m.Subject(), m.Data(), md.Sequence.Stream, md.Timestamp)
	})
}

// keepStoring stores the unstored reports of the accounts that do not run here (again), in
// their order, until ctx ends: a report keeps its Nats-Msg-Id, so one the stream had after all
// is stored once. An account that starts here again takes its own (take) and stores them first.
func (h *Host) keepStoring(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.storeUnstored(ctx)
	}
}

// storeUnstored stores what it can of the unstored reports; it reports how many are left.
func (h *Host) storeUnstored(ctx context.Context) int {
	h.mu.Lock()
	var clients []string
	for c := range h.unstored {
		if _, here := h.running[c]; !here {
			clients = append(clients, c)
		}
	}
	h.mu.Unlock()
	left := 0
	for _, c := range clients {
		h.mu.Lock()
		msgs := h.unstored[c]
		delete(h.unstored, c)
		h.mu.Unlock()
		done := 0
		for _, m := range msgs {
			pctx, cancel := context.WithTimeout(ctx, natsconn.APIAttempt)
			_, err := h.js.PublishMsg(pctx, m)
			cancel()
			if err != nil {
				break
			}
			done++
		}
		if done == len(msgs) {
			h.log.Info("unstored reports of a stopped account stored", "client", c, "reports", done)
			continue
		}
		h.mu.Lock()
		// Put back what is left, ahead of what the account left since.
		h.unstored[c] = append(msgs[done:len(msgs):len(msgs)], h.unstored[c]...)
		left += len(h.unstored[c])
		h.mu.Unlock()
	}
	return left
}

func (h *Host) markFailed(client string) {
	h.mu.Lock()
	h.failed[client] = time.Now().Add(failedFor)
	h.mu.Unlock()
}

// failedFor is how long a host leaves alone an account that failed on it for good.
const failedFor = 30 * time.Second

// stop stops a, this host's doing; release deletes its lease once it has stopped (another
// host may take it at once), otherwise the lease stays held by this host for a restart.
func (h *Host) stop(a *account, why string, release bool) {
	h.mu.Lock()
	if h.running[a.client] != a {
		h.mu.Unlock()
		return
	}
	delete(h.running, a.client)
	h.stopping[a.client] = a
	a.stopped = true
	rev := a.rev
	h.mu.Unlock()
	h.log.Info("account released", "client", a.client, "why", why)
	a.cancel()
	if release {
		go func() {
			<-a.done
			h.deleteLease(a.client, rev)
		}()
	}
}

// deleteLease deletes client's lease if it is still the revision this host wrote.
// A renewal still under way when the account stopped may have moved the lease past rev: then
// the lease is deleted at its current revision if it is still this host's.
func (h *Host) deleteLease(client string, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), h.interval)
	defer cancel()
	err := h.leases.Delete(ctx, client, jetstream.LastRevision(rev))
	if isWrongSequence(err) {
		if e, gerr := h.leases.Get(ctx, client); gerr == nil {
			var l events.ClientLease
			if json.Unmarshal(e.Value(), &l) == nil && l.Host == h.cfg.ID {
				err = h.leases.Delete(ctx, client, jetstream.LastRevision(e.Revision()))
			}
		}
	}
	if err != nil {
		h.log.Debug("lease not deleted", "client", client, "err", err)
	}
}

// onEnded cleans up after an account whose Run returned.
func (h *Host) onEnded(ctx context.Context, a *account) {
	h.mu.Lock()
	delete(h.stopping, a.client)
	own := h.running[a.client] == a
	if own {
		delete(h.running, a.client)
	}
	rev := a.rev
	h.mu.Unlock()
	if !own {
		return // the host stopped it
	}
	// The account stopped on its own: its stop_client (stopped, as Mojo's client process
	// ended), or a failure logging in again cannot help.
	isDefault := events.IsDefaultClient(a.client)
	if a.err != nil {
		h.log.Error("account failed", "client", a.client, "err", a.err)
		h.markFailed(a.client)
	} else {
		h.log.Info("account stopped by its stop_client", "client", a.client)
		// Forget the spec now, not when the watch brings its deletion: placement runs before
		// that and would start the account again (the lease is still this host's).
		h.mu.Lock()
		if sp, ok := h.specs[a.client]; ok && sp.rev == a.spec.rev {
			delete(h.specs, a.client)
		}
		h.mu.Unlock()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.interval)
		if err := h.clients.Delete(dctx, a.client, jetstream.LastRevision(a.spec.rev)); err != nil {
			h.log.Warn("spec of a stopped account not deleted", "client", a.client, "err", err)
		}
		cancel()
	}
	h.deleteLease(a.client, rev)
	if isDefault && a.spec.Source == events.SourceEnv {
		select {
		case h.quit <- a.err:
		default:
		}
	}
}

// renew renews the leases due (all, or only those whose state changed when dirtyOnly).
func (h *Host) renew(ctx context.Context, dirtyOnly bool) {
	now := time.Now()
	type job struct {
		a   *account
		rev uint64
		val []byte
	}
	var jobs []job
	h.mu.Lock()
	for _, a := range h.running {
		if !a.dirty && (dirtyOnly || now.Sub(a.renewed) < h.interval-h.interval/8) {
			continue
		}
		a.dirty = false
		l := events.ClientLease{
			Client: a.client, Host: h.cfg.ID, PID: h.pid, State: a.cur, PreviousState: a.prev,
			Since: a.took.Unix(), QRCode: a.cur == events.StateScaning,
		}
		jobs = append(jobs, job{a, a.rev, events.MustMarshal(l)})
	}
	h.mu.Unlock()
	parallel(jobs, func(j job) {
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, h.interval/2)
		rev, err := h.leases.Update(rctx, j.a.client, j.val, j.rev)
		cancel()
		switch {
		case err == nil:
			h.mu.Lock()
			if j.a.rev == j.rev {
				j.a.rev, j.a.renewed = rev, sent
			}
			h.mu.Unlock()
		case errors.Is(err, jetstream.ErrKeyExists) || isWrongSequence(err):
			leasesLost.WithLabelValues(h.subj.Prefix).Inc()
			h.log.Error("lease lost: another host holds it, account stopped", "client", j.a.client, "err", err)
			h.stop(j.a, "lease lost", false)
		default:
			if ctx.Err() == nil {
				renewFailures.WithLabelValues(h.subj.Prefix).Inc()
				h.log.Warn("lease renewal failed", "client", j.a.client, "err", err)
			}
		}
	})
}

func isWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// fence stops, at once, every account whose lease has not been renewed for LeaseTTL minus half
// a renewal interval (checked every quarter interval, so at the latest a quarter interval
// before the lease can expire: the server counts LeaseTTL from when it stored the renewal,
// after this host sent it), so that an account never runs on two hosts. The margin is small
// on purpose: a NATS cluster electing a new leader for the leases bucket takes seconds, during
// which no renewal lands and no other host can take the lease either, and fencing then would
// stop every account of the host for nothing.
func (h *Host) fence(ctx context.Context) {
	t := time.NewTicker(h.interval / 4)
	defer t.Stop()
	limit := h.cfg.LeaseTTL - h.interval/2
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		type lateAccount struct {
			a       *account
			renewed time.Time // read under the lock: renewals write it
		}
		var late []lateAccount
		h.mu.Lock()
		for _, a := range h.running {
			if now.Sub(a.renewed) >= limit {
				late = append(late, lateAccount{a, a.renewed})
			}
		}
		h.mu.Unlock()
		for _, l := range late {
			leasesLost.WithLabelValues(h.subj.Prefix).Inc()
			h.log.Error("lease lost: renewals failing, account stopped before its lease expires", "client", l.a.client,
				"last_renewal", l.renewed.Format(time.RFC3339Nano), "nats", h.nc.Status().String())
			h.stop(l.a, "self-fenced", false)
		}
	}
}

// shutdown stops every account, waits for their stop events to be stored, and deletes their
// leases and the host's key, so that the other hosts take them at once.
func (h *Host) shutdown() {
	h.mu.Lock()
	all := slices.Collect(maps.Values(h.running))
	h.mu.Unlock()
	for _, a := range all {
		h.stop(a, "host stopping", false)
	}
	parallel(all, func(a *account) { <-a.done })
	// What the accounts could not store goes before their leases: another host takes them
	// when the leases go, and its reports should come after these.
	sctx, stopStoring := context.WithTimeout(context.Background(), unstoredGrace)
	for h.storeUnstored(sctx) > 0 && wait.Sleep(sctx, 500*time.Millisecond) == nil {
	}
	stopStoring()
	h.mu.Lock()
	lost := 0
	for _, msgs := range h.unstored {
		lost += len(msgs)
	}
	h.mu.Unlock()
	if lost > 0 {
		h.log.Error("stopping with reports not stored: NATS stayed away", "reports", lost, "waited", unstoredGrace)
	}
	parallel(all, func(a *account) {
		h.mu.Lock()
		rev := a.rev
		h.mu.Unlock()
		h.deleteLease(a.client, rev)
	})
	ctx, cancel := context.WithTimeout(context.Background(), h.interval)
	defer cancel()
	if natsUp(h.nc) {
		_ = h.hosts.Delete(ctx, h.hostKey())
	}
	hostAccounts.WithLabelValues(h.subj.Prefix).Set(0)
	h.log.Info("session host stopped", "accounts", len(all))
}

// parallel calls f on every item, up to parallelism at once, and returns when all are done.
func parallel[T any](items []T, f func(T)) {
	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(it)
		}()
	}
	wg.Wait()
}
