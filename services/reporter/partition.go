package reporter

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// A target's items are split by ordering key into POST_PARTITIONS partitions, each its own
// durable consumer pinned to one replica: the items of one key are always in the same
// partition, so each partition keeps its keys in order exactly as one consumer did, and the
// partitions of a target are spread over the live replicas (see membership).

// partitionOf is the partition of an ordering key, out of n.
func partitionOf(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// partitions is how many partitions a target's items are split into. Unordered, one consumer
// is shared by every replica already; standard output stays whole, in one replica's output.
func (r *Reporter) partitions(t target) int {
	if !r.cfg.ordered() {
		return 1
	}
	if _, ok := t.(*stdoutTarget); ok {
		return 1
	}
	if isAccountTarget(t) {
		return 1 // an account's own target: its pin spreads the accounts over the replicas
	}
	return r.cfg.PostPartitions
}

// consumerNames are the durable consumers that carry a target's items, one per partition: the
// target's own name when there is one partition (as before partitions), else
// <name>_p<i>of<n>, so that a change of POST_PARTITIONS makes new consumers rather than
// reading old ones with another split.
func (r *Reporter) consumerNames(t target) []string {
	n := r.partitions(t)
	if n == 1 {
		return []string{t.consumer()}
	}
	out := make([]string, n)
	for i := range n {
		out[i] = t.consumer() + "_p" + strconv.Itoa(i) + "of" + strconv.Itoa(n)
	}
	return out
}

// orderKey is the ordering key of an item of any account: the platform's (its conversation)
// for the default account, as before accounts, and prefixed by the client for another, so
// that two accounts' conversations never wait on each other.
func (r *Reporter) orderKey(subject, key string) string {
	client, ok := r.subj.ClientOf(subject)
	if !ok || events.IsDefaultClient(client) {
		return key
	}
	return client + "/" + key
}

// ownedBy gives each of n partitions of a target to one member (by id): rendezvous hashing
// (each partition ranks the members by hash(member, target, partition)) with bounded loads (no
// member gets more than its share), so that every member gets a share and a member that
// leaves moves mostly its own partitions. Every replica computes the same answer from the
// same member set; where views differ for a moment, the consumer's pin still lets only one
// replica deliver a partition.
func ownedBy(members []string, salt string, n int) []string {
	owners := make([]string, n)
	if len(members) == 0 {
		return owners
	}
	type pair struct {
		score  uint64
		member string
		part   int
	}
	pairs := make([]pair, 0, len(members)*n)
	for _, m := range members {
		for p := range n {
			sum := sha256.Sum256([]byte(m + "\x00" + salt + "\x00" + strconv.Itoa(p)))
			pairs = append(pairs, pair{binary.BigEndian.Uint64(sum[:8]), m, p})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(b.score, a.score), strings.Compare(a.member, b.member), cmp.Compare(a.part, b.part))
	})
	// Each member gets ⌊n/k⌋, and n mod k of them one more: a replica idles only when there
	// are more replicas than partitions.
	base, extra := n/len(members), n%len(members)
	load := map[string]int{}
	for _, pr := range pairs {
		if owners[pr.part] != "" {
			continue
		}
		switch l := load[pr.member]; {
		case l < base:
		case l == base && extra > 0:
			extra--
		default:
			continue
		}
		owners[pr.part] = pr.member
		load[pr.member]++
	}
	return owners
}

// migrate moves a target's delivery to the consumers of the current configuration from those
// of another one (a single consumer from before partitions, or another POST_PARTITIONS): the
// missing consumers start after the lowest ack floor of the old ones, so nothing is lost
// (items the old consumers acked above their floor come again), then the old ones are
// deleted. Every replica must run with the same POST_ORDER and POST_PARTITIONS, and the
// replicas of the old configuration be stopped first: two splits at once keep no order.
func (r *Reporter) migrate(ctx context.Context, t target, names []string) error {
	s, err := r.js.Stream(ctx, r.subj.Stream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil // nothing stored, nothing to move: the consumers start as new ones
	}
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = false
	}
	var old []*jetstream.ConsumerInfo
	list := s.ListConsumers(ctx)
	for ci := range list.Info() {
		if _, ok := want[ci.Name]; ok {
			want[ci.Name] = true
		} else if ci.Name == t.consumer() || strings.HasPrefix(ci.Name, t.consumer()+"_p") {
			old = append(old, ci)
		}
	}
	if err := list.Err(); err != nil {
		return err
	}
	if len(old) == 0 {
		return nil
	}
	from := old[0].AckFloor.Stream + 1
	for _, ci := range old[1:] {
		from = min(from, ci.AckFloor.Stream+1)
	}
	for name, exists := range want {
		if exists {
			continue
		}
		cfg := r.consumerConfig(t, name)
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
		if _, err := r.js.CreateConsumer(ctx, r.subj.Stream(), cfg); err != nil && !errors.Is(err, jetstream.ErrConsumerExists) {
			return err
		}
	}
	for _, ci := range old {
		if err := s.DeleteConsumer(ctx, ci.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return err
		}
		r.log.Info("delivery moved to this configuration's consumers", "target", t.String(), "from", ci.Name, "to", names, "start_seq", from)
	}
	return nil
}

// serve delivers one target until ctx ends: through its one consumer, which every replica
// pulls and the pin gives to one; or through its partitions, each pulled only by the replica
// that owns it under the current member set, handed over when that changes.
func (r *Reporter) serve(ctx context.Context, t target, members *membership) {
	names := r.consumerNames(t)
	// An account's own target has one consumer, of its own name: nothing to move.
	for ctx.Err() == nil && !isAccountTarget(t) {
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := r.migrate(mctx, t, names)
		cancel()
		if err == nil {
			break
		}
		r.log.Warn("could not move delivery to this configuration's consumers, retrying", "target", t.String(), "err", err)
		_ = wait.Sleep(ctx, time.Second)
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	bg.Go(func() { r.watchPending(ctx, t, names) })
	sh := &shared{slots: make(chan struct{}, r.cfg.PostConcurrency), keys: newKeyCache(4096, r.plat.orderKey)}
	if len(names) == 1 {
		r.deliverAll(ctx, ctx, t, names[0], 0, 1, sh)
		return
	}
	if members == nil {
		return // only when stopped before joining: nothing was delivered
	}
	type loop struct {
		stop context.CancelFunc
		done chan struct{}
	}
	loops := map[int]*loop{}    // delivering
	stopping := map[int]*loop{} // handing over: a partition regained waits for its old loop
	tick := time.NewTicker(max(members.ttl/4, 100*time.Millisecond))
	defer tick.Stop()
	for {
		changed := members.changes()
		if ids, ready := members.alive(t.consumer()); ready {
			owners := ownedBy(ids, t.consumer(), len(names))
			moved := false
			for p, name := range names {
				if l := stopping[p]; l != nil {
					select {
					case <-l.done:
						delete(stopping, p)
					default:
					}
				}
				mine, l := owners[p] == members.id, loops[p]
				switch {
				case mine && l == nil && stopping[p] == nil:
					own, stop := context.WithCancel(ctx)
					l = &loop{stop: stop, done: make(chan struct{})}
					loops[p], moved = l, true
					bg.Go(func() {
						defer close(l.done)
						r.deliverAll(ctx, own, t, name, p, len(names), sh)
					})
				case !mine && l != nil:
					l.stop()
					delete(loops, p)
					stopping[p], moved = l, true
				}
			}
			if moved {
				owned := slices.Sorted(maps.Keys(loops))
				r.log.Info("partitions", "target", t.String(), "owned", owned, "of", len(names), "replicas", len(ids))
			}
		}
		select {
		case <-ctx.Done():
			return // every loop drains, then hands its partition back
		case <-changed:
		case <-tick.C:
		}
	}
}

// shared is what the partitions of a target delivered by this replica share.
type shared struct {
	// slots is the target's budget of POSTs in flight in this replica (POST_CONCURRENCY).
	slots chan struct{}
	// keys spares the partitions' consumers, which all read every item, from each decoding it.
	keys *keyCache
}

// keyCache remembers the ordering key of the latest items, by stream sequence.
type keyCache struct {
	key     func(item []byte) string // the platform's ordering key
	mu      sync.Mutex
	entries []keyEntry
}

type keyEntry struct {
	seq uint64
	key string
}

func newKeyCache(n int, key func(item []byte) string) *keyCache {
	return &keyCache{key: key, entries: make([]keyEntry, n)}
}

// get is the ordering key of the item stored at seq.
func (c *keyCache) get(seq uint64, item []byte) string {
	i := seq % uint64(len(c.entries))
	c.mu.Lock()
	e := c.entries[i]
	c.mu.Unlock()
	if e.seq == seq && seq != 0 {
		return e.key
	}
	key := c.key(item)
	c.mu.Lock()
	c.entries[i] = keyEntry{seq, key}
	c.mu.Unlock()
	return key
}
