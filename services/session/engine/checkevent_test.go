package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Unit tests of the check_event buffer: no NATS, add/take/release called directly.

func newTestChecks(max int, hold time.Duration) *checkEvents {
	return newCheckEvents(CheckEventConfig{ListMaxSize: max, Hold: hold}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// replies records what a take's reply func is called with.
type replies struct{ ch chan [][]byte }

func newReplies() *replies { return &replies{ch: make(chan [][]byte, 16)} }

func (r *replies) reply(items [][]byte) { r.ch <- items }

// got waits up to d for the next reply.
func (r *replies) got(t *testing.T, d time.Duration) [][]byte {
	t.Helper()
	select {
	case items := <-r.ch:
		return items
	case <-time.After(d):
		t.Fatalf("no reply within %s", d)
		return nil
	}
}

// now returns the reply that must already have been made (add, take and release reply
// synchronously when they hand something out).
func (r *replies) now(t *testing.T) [][]byte {
	t.Helper()
	select {
	case items := <-r.ch:
		return items
	default:
		t.Fatal("no reply yet")
		return nil
	}
}

// none fails if a reply comes within d.
func (r *replies) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case items := <-r.ch:
		t.Fatalf("unexpected reply %s", encodeItems(items))
	case <-time.After(d):
	}
}

func item(s string) []byte { return []byte(strconv.Quote(s)) }

func itemsOf(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = item(s)
	}
	return out
}

func sameItems(t *testing.T, got [][]byte, want ...string) {
	t.Helper()
	if g, w := string(encodeItems(got)), string(encodeItems(itemsOf(want...))); g != w {
		t.Fatalf("items %s, want %s", g, w)
	}
}

// takeNow takes with no hold: what the buffer has now, nothing if it is empty.
func takeNow(t *testing.T, c *checkEvents, ticket string) [][]byte {
	t.Helper()
	r := newReplies()
	c.take(ticket, 0, r.reply)
	return r.now(t)
}

func TestCheckEventDrainAllOldestFirst(t *testing.T) {
	c := newTestChecks(20, time.Second)
	for _, s := range []string{"a", "b", "c"} {
		c.add(item(s))
	}
	r := newReplies()
	start := time.Now()
	c.take("t1", time.Second, r.reply)
	sameItems(t, r.now(t), "a", "b", "c")
	if d := time.Since(start); d > time.Second {
		t.Errorf("a non-empty buffer answered after %s, want at once", d)
	}
	c.release("t1", true)
	if got := takeNow(t, c, "t2"); len(got) != 0 {
		t.Fatalf("buffer not emptied: %s", encodeItems(got))
	}
}

func TestCheckEventBufferCapDropsOldest(t *testing.T) {
	c := newTestChecks(3, time.Second)
	for i := 1; i <= 5; i++ {
		c.add(item(strconv.Itoa(i)))
	}
	sameItems(t, takeNow(t, c, "t1"), "3", "4", "5")

	// 0 means the default, 20.
	c = newTestChecks(0, time.Second)
	var want []string
	for i := 1; i <= 25; i++ {
		c.add(item(strconv.Itoa(i)))
		if i > 5 {
			want = append(want, strconv.Itoa(i))
		}
	}
	sameItems(t, takeNow(t, c, ""), want...)
}

func TestCheckEventWaiterWokenByFirstItem(t *testing.T) {
	c := newTestChecks(20, 5*time.Second)
	r := newReplies()
	c.take("w", 5*time.Second, r.reply)
	r.none(t, 50*time.Millisecond)
	c.add(item("x"))
	sameItems(t, r.now(t), "x")
	r.none(t, 20*time.Millisecond)

	// The next item is for the buffer, not for the caller that was answered.
	c.add(item("y"))
	r.none(t, 20*time.Millisecond)
	c.release("w", true)
	sameItems(t, takeNow(t, c, "t2"), "y")
}

func TestCheckEventHoldExpiry(t *testing.T) {
	c := newTestChecks(20, time.Second)
	r := newReplies()
	start := time.Now()
	c.take("w", 80*time.Millisecond, r.reply)
	got := r.got(t, 2*time.Second)
	if len(got) != 0 {
		t.Fatalf("hold expired with %s, want nothing", encodeItems(got))
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("answered after %s, before the hold of 80ms", d)
	}
	if s := string(encodeItems(got)); s != "[]" {
		t.Errorf("encoded as %s, want []", s)
	}
	// The expired caller is gone: a new item stays in the buffer.
	c.add(item("x"))
	r.none(t, 20*time.Millisecond)
	c.release("w", true) // the gateway's release after an empty answer is harmless
	sameItems(t, takeNow(t, c, "t2"), "x")
}

func TestCheckEventWaitersFIFO(t *testing.T) {
	c := newTestChecks(20, 5*time.Second)
	rs := make([]*replies, 4)
	for i := range rs {
		rs[i] = newReplies()
		c.take(fmt.Sprintf("w%d", i), 5*time.Second, rs[i].reply)
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		c.add(item(s))
	}
	for i, s := range []string{"a", "b", "c", "d"} {
		sameItems(t, rs[i].now(t), s)
	}
	for _, r := range rs {
		r.none(t, 10*time.Millisecond)
	}
	if got := takeNow(t, c, "t"); len(got) != 0 {
		t.Fatalf("buffer has %s, want nothing", encodeItems(got))
	}
}

func TestCheckEventReleaseUndeliveredPutsBackAtFront(t *testing.T) {
	c := newTestChecks(20, 5*time.Second)
	c.add(item("a"))
	c.add(item("b"))
	sameItems(t, takeNow(t, c, "t1"), "a", "b")
	c.add(item("c"))
	c.release("t1", false) // the caller hung up
	sameItems(t, takeNow(t, c, "t2"), "a", "b", "c")

	// A caller already waiting gets the items put back.
	r := newReplies()
	c.take("w", 5*time.Second, r.reply)
	r.none(t, 20*time.Millisecond)
	c.release("t2", false)
	sameItems(t, r.now(t), "a", "b", "c")

	// Released undelivered again: back in the buffer.
	c.release("w", false)
	sameItems(t, takeNow(t, c, "t3"), "a", "b", "c")
	c.release("t3", true)
	if got := takeNow(t, c, "t4"); len(got) != 0 {
		t.Fatalf("buffer has %s after a delivered release, want nothing", encodeItems(got))
	}
}

func TestCheckEventReleasePutBackKeepsLatest(t *testing.T) {
	c := newTestChecks(3, 5*time.Second)
	c.add(item("a"))
	c.add(item("b"))
	sameItems(t, takeNow(t, c, "t1"), "a", "b")
	c.add(item("c"))
	c.add(item("d"))
	c.release("t1", false)
	// a, b, c, d in order; the buffer keeps the latest 3.
	sameItems(t, takeNow(t, c, "t2"), "b", "c", "d")
}

func TestCheckEventReleaseDeliveredForgets(t *testing.T) {
	c := newTestChecks(20, 5*time.Second)
	c.add(item("a"))
	sameItems(t, takeNow(t, c, "t1"), "a")
	c.release("t1", true)
	c.release("t1", false) // too late: the ticket is closed
	c.release("unknown", false)
	if got := takeNow(t, c, "t2"); len(got) != 0 {
		t.Fatalf("buffer has %s, want nothing", encodeItems(got))
	}
	c.mu.Lock()
	n := len(c.inflight)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d tickets still in flight", n)
	}
}

func TestCheckEventReleaseWaitingWithdraws(t *testing.T) {
	c := newTestChecks(20, 5*time.Second)
	r1, r2 := newReplies(), newReplies()
	c.take("w1", 5*time.Second, r1.reply)
	c.take("w2", 5*time.Second, r2.reply)
	c.release("w1", false) // w1's caller hung up while waiting
	// If w1's reply is called at all, it is with nothing.
	select {
	case got := <-r1.ch:
		if len(got) != 0 {
			t.Fatalf("withdrawn waiter got %s", encodeItems(got))
		}
	default:
	}
	c.add(item("x"))
	sameItems(t, r2.now(t), "x")
	select {
	case got := <-r1.ch:
		t.Fatalf("withdrawn waiter got %s", encodeItems(got))
	case <-time.After(20 * time.Millisecond):
	}
	// With no waiter left, the next item is buffered.
	c.add(item("y"))
	sameItems(t, takeNow(t, c, "t"), "y")
}

func TestCheckEventEncodeItems(t *testing.T) {
	for _, in := range [][][]byte{nil, {}} {
		if got := string(encodeItems(in)); got != "[]" {
			t.Errorf("encodeItems(%v) = %q, want []", in, got)
		}
	}
	items := [][]byte{
		[]byte(`{"post_type":"receive_message","id":1,"content":"你好\n"}`),
		[]byte(`{"post_type":"event","event":"new_friend","params":[{"id":2}]}`),
	}
	got := encodeItems(items)
	if !json.Valid(got) {
		t.Fatalf("not JSON: %s", got)
	}
	var list []map[string]any
	if err := json.Unmarshal(got, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0]["content"] != "你好\n" || list[1]["event"] != "new_friend" {
		t.Errorf("decoded %v", list)
	}
	if got := encodeItems(items[:1]); string(got) != "["+string(items[0])+"]" {
		t.Errorf("one item: %s", got)
	}
}

// TestCheckEventConcurrent: 50 callers take while 1000 items are added; some callers hang up
// (release undelivered) and their items must go to another caller. Every item is delivered
// exactly once.
func TestCheckEventConcurrent(t *testing.T) {
	const (
		callers = 50
		total   = 1000
	)
	c := newTestChecks(2*total, time.Second) // big enough that nothing is dropped
	var (
		mu        sync.Mutex
		delivered = map[string]int{}
		count     atomic.Int64
		nullItems atomic.Int64
		tickets   atomic.Int64
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for {
				select {
				case <-done:
					return
				default:
				}
				ticket := "t" + strconv.FormatInt(tickets.Add(1), 10)
				ch := make(chan [][]byte, 1)
				c.take(ticket, time.Duration(1+rng.IntN(20))*time.Millisecond, func(items [][]byte) { ch <- items })
				var items [][]byte
				select {
				case items = <-ch:
				case <-time.After(5 * time.Second):
					t.Errorf("ticket %s: no answer within 5s", ticket)
					return
				}
				for _, it := range items {
					if it == nil {
						nullItems.Add(1)
					}
				}
				if len(items) > 0 && rng.IntN(10) == 0 {
					c.release(ticket, false) // this caller hung up
					continue
				}
				mu.Lock()
				for _, it := range items {
					delivered[string(it)]++
				}
				mu.Unlock()
				count.Add(int64(len(items)))
				c.release(ticket, true)
			}
		}()
	}
	var adders sync.WaitGroup
	for a := range 4 {
		adders.Add(1)
		go func() {
			defer adders.Done()
			for i := a; i < total; i += 4 {
				c.add(item(strconv.Itoa(i)))
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	adders.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for count.Load() < total && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(done)
	wg.Wait()

	if n := nullItems.Load(); n > 0 {
		t.Errorf("%d null items handed out", n)
	}
	mu.Lock()
	defer mu.Unlock()
	var missing, twice []string
	for i := range total {
		switch n := delivered[strconv.Quote(strconv.Itoa(i))]; {
		case n == 0:
			missing = append(missing, strconv.Itoa(i))
		case n > 1:
			twice = append(twice, strconv.Itoa(i))
		}
	}
	if len(delivered) != total-len(missing) {
		t.Errorf("%d distinct items delivered, want %d", len(delivered), total)
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d items never delivered, e.g. %v", len(missing), missing[:min(10, len(missing))])
	}
	if len(twice) > 0 {
		t.Errorf("%d items delivered more than once, e.g. %v", len(twice), twice[:min(10, len(twice))])
	}
	if got := takeNow(t, c, ""); len(got) != 0 {
		t.Errorf("buffer still has %d items", len(got))
	}
}

// TestCheckEventReleaseWaitingRacesAdd: a caller hangs up (its ticket is released while it
// waits) at the same moment as an item arrives. Whichever comes first, the item must end up
// in the buffer at once, for the next caller.
func TestCheckEventReleaseWaitingRacesAdd(t *testing.T) {
	c := newTestChecks(20, time.Minute)
	const rounds = 20000
	stuck, inflight := 0, 0
	for i := range rounds {
		ticket := "w" + strconv.Itoa(i)
		r := newReplies()
		c.take(ticket, time.Minute, r.reply)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); c.add(item("x")) }()
		go func() { defer wg.Done(); c.release(ticket, false) }()
		wg.Wait()
		got := takeNow(t, c, "")
		if len(got) != 1 {
			stuck++
			// Clean up for the next round: end what is in flight.
			c.mu.Lock()
			if _, ok := c.inflight[ticket]; ok {
				inflight++
			}
			for k, f := range c.inflight {
				f.timer.Stop()
				delete(c.inflight, k)
			}
			c.mu.Unlock()
		}
	}
	if stuck > 0 {
		t.Errorf("%d of %d rounds: the item was not in the buffer (%d of them in flight under the released ticket)",
			stuck, rounds, inflight)
	}
}
