package reporter

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// job is one item in this replica's hands: received from the consumer, not settled yet.
type job struct {
	seq uint64 // stream sequence: the order of the item within its key
	key string
	// acked is set just before the ack is sent: from then the server may no longer count
	// the item as pending, so the take-over check must not count it as ours either.
	acked atomic.Bool

	mu sync.Mutex
	m  jetstream.Msg // the latest delivery: a redelivery of an item in hand replaces it
}

func (j *job) msg() jetstream.Msg {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.m
}

// orderer hands out the items in its hands so that the items of one key go one at a time, in
// stream order, while different keys go in parallel. It can be paused: while another
// replica's items may still be pending, nothing starts (see consume).
type orderer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	queues  map[string][]*job // by key, in stream order; the head runs or is next
	running map[string]bool
	ready   []string // keys whose head may start, first come first served
	held    map[uint64]*job
	foreign map[uint64]jetstream.Msg // other partitions' items, held while paused (see holdForeign)
	settled recentSeqs
	paused  bool
	closed  bool
}

func newOrderer() *orderer {
	o := &orderer{
		queues: map[string][]*job{}, running: map[string]bool{}, held: map[uint64]*job{},
		settled: newRecentSeqs(8192),
	}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// addResult says what add did with a delivery.
type addResult int

const (
	added       addResult = iota // a new item, queued under its key
	inHand                       // a redelivery of an item in hand: the newer delivery replaces it
	alreadyDone                  // a redelivery of an item settled here: ack it again, post nothing
)

// add queues a delivery under its key, in stream order.
func (o *orderer) add(m jetstream.Msg, seq uint64, key string) addResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	if j, ok := o.held[seq]; ok {
		j.mu.Lock()
		j.m = m
		j.mu.Unlock()
		return inHand
	}
	if o.settled.has(seq) {
		return alreadyDone
	}
	j := &job{seq: seq, key: key, m: m}
	o.held[seq] = j
	q := o.queues[key]
	// Almost always appended; a redelivered older item (a dead replica's) goes before.
	i, _ := slices.BinarySearchFunc(q, seq, func(a *job, s uint64) int { return cmp.Compare(a.seq, s) })
	if i == 0 && len(q) > 0 && o.running[key] {
		// The head already runs: an older item can only come from a replica that lost the
		// consumer without our noticing; run it next rather than never.
		i = 1
	}
	o.queues[key] = slices.Insert(q, i, j)
	if len(q) == 0 {
		o.ready = append(o.ready, key)
		o.cond.Signal()
	}
	return added
}

// next blocks until a key's head may start, and returns it; nil once closed.
func (o *orderer) next() *job {
	o.mu.Lock()
	defer o.mu.Unlock()
	for !o.closed && (o.paused || len(o.ready) == 0) {
		o.cond.Wait()
	}
	if o.closed {
		return nil
	}
	key := o.ready[0]
	o.ready = o.ready[1:]
	o.running[key] = true
	return o.queues[key][0]
}

// done settles a job: its key's next item may start.
func (o *orderer) done(j *job) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.held, j.seq)
	o.settled.add(j.seq)
	q := o.queues[j.key]
	if i := slices.Index(q, j); i >= 0 {
		q = slices.Delete(q, i, i+1)
	}
	delete(o.running, j.key)
	if len(q) == 0 {
		delete(o.queues, j.key)
		return
	}
	o.queues[j.key] = q
	o.ready = append(o.ready, j.key)
	o.cond.Signal()
}

// setPaused holds back (or lets go) every start; jobs running go on.
func (o *orderer) setPaused(p bool) {
	o.mu.Lock()
	o.paused = p
	o.mu.Unlock()
	o.cond.Broadcast()
}

func (o *orderer) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.cond.Broadcast()
}

// holdForeign keeps an item of another partition while paused, and reports whether it did:
// acked at once, it would count as pending until the server has the ack, and the take-over
// could not tell it from an item another replica left pending. Held, it counts as ours.
func (o *orderer) holdForeign(m jetstream.Msg, seq uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.paused {
		return false
	}
	if o.foreign == nil {
		o.foreign = map[uint64]jetstream.Msg{}
	}
	o.foreign[seq] = m // a redelivery replaces, never counts twice
	return true
}

// takeForeign returns the other partitions' items held, for the caller to ack.
func (o *orderer) takeForeign() []jetstream.Msg {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Collect(maps.Values(o.foreign))
	o.foreign = nil
	return out
}

// foreignInHand returns the other partitions' items held, keeping them.
func (o *orderer) foreignInHand() []jetstream.Msg {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Collect(maps.Values(o.foreign))
}

// heldUpTo counts the items in hand up to a stream sequence, other partitions' included.
func (o *orderer) heldUpTo(seq uint64) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for s := range o.foreign {
		if s <= seq {
			n++
		}
	}
	for s, j := range o.held {
		if s <= seq && !j.acked.Load() {
			n++
		}
	}
	return n
}

// inHand returns every delivery in hand, oldest first.
func (o *orderer) inHand() []jetstream.Msg {
	o.mu.Lock()
	js := make([]*job, 0, len(o.held))
	for _, j := range o.held {
		js = append(js, j)
	}
	o.mu.Unlock()
	slices.SortFunc(js, func(a, b *job) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]jetstream.Msg, len(js))
	for i, j := range js {
		out[i] = j.msg()
	}
	return out
}

// idle reports whether nothing is in hand.
func (o *orderer) idle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.held) == 0
}

// recentSeqs remembers the last n settled sequences, so that a redelivery of an item already
// delivered (its ack lost) is acked again instead of posted after its successors.
type recentSeqs struct {
	set  map[uint64]struct{}
	ring []uint64
	next int
}

func newRecentSeqs(n int) recentSeqs {
	return recentSeqs{set: make(map[uint64]struct{}, n), ring: make([]uint64, n)}
}

func (r *recentSeqs) has(seq uint64) bool { _, ok := r.set[seq]; return ok }

func (r *recentSeqs) add(seq uint64) {
	if old := r.ring[r.next]; old != 0 {
		delete(r.set, old)
	}
	r.ring[r.next] = seq
	r.set[seq] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
