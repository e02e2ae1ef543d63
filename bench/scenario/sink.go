package scenario

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Sink is the post_api receiver of the event rows: proctest's receiver, answering 200 (after
// Delay), keeping no request but recording, per round, when each benchmark message first
// arrived, its id, its body and how often it came. A benchmark message's content is
// "bench <seq>".
type Sink struct {
	URL   string
	Delay time.Duration

	rc    *proctest.Receiver
	round atomic.Pointer[sinkRound]
	// others counts posts that are not benchmark messages (login, state_change, ...).
	others  atomic.Int64
	anyPost chan struct{}
	anyOnce sync.Once
}

type sinkRound struct {
	n      int
	recv   []atomic.Int64 // first arrival, Unix ns
	count  []atomic.Int32
	ids    []atomic.Int64
	mu     sync.Mutex
	bodies [][]byte
	unique atomic.Int64
	total  atomic.Int64
	done   chan struct{}
	last   atomic.Int64 // latest first arrival, Unix ns
}

const benchPrefix = "bench "

// NewSink starts a sink on a free loopback port. Close stops it.
func NewSink(delay time.Duration) (*Sink, error) {
	s := &Sink{Delay: delay, anyPost: make(chan struct{})}
	s.Reset(0)
	rc, err := proctest.NewReceiver(proctest.ReceiverOptions{
		Discard: true, // a run posts too many to keep: record counts
		Respond: func(*proctest.Request) proctest.Answer { return proctest.Answer{Delay: delay} },
		Observe: func(r proctest.Request) {
			s.anyOnce.Do(func() { close(s.anyPost) })
			s.record(r.At.UnixNano(), r.Body)
		},
	})
	if err != nil {
		return nil, err
	}
	s.rc, s.URL = rc, rc.URL
	return s, nil
}

// Close stops the sink.
func (s *Sink) Close() { s.rc.Close() }

// Reset starts a new round expecting the benchmark messages 0..n-1.
func (s *Sink) Reset(n int) {
	r := &sinkRound{
		n: n, recv: make([]atomic.Int64, n), count: make([]atomic.Int32, n), ids: make([]atomic.Int64, n),
		bodies: make([][]byte, n), done: make(chan struct{}),
	}
	if n == 0 {
		close(r.done)
	}
	s.round.Store(r)
}

// Done is closed once every message of the round arrived.
func (s *Sink) Done() <-chan struct{} { return s.round.Load().done }

// AnyPost is closed at the first post of any kind.
func (s *Sink) AnyPost() <-chan struct{} { return s.anyPost }

func (s *Sink) record(now int64, body []byte) {
	var m struct {
		ID       int64  `json:"id"`
		PostType string `json:"post_type"`
		Content  string `json:"content"`
	}
	if json.Unmarshal(body, &m) != nil || m.PostType != "receive_message" || len(m.Content) <= len(benchPrefix) ||
		m.Content[:len(benchPrefix)] != benchPrefix {
		s.others.Add(1)
		return
	}
	seq, err := strconv.Atoi(m.Content[len(benchPrefix):])
	rd := s.round.Load()
	if err != nil || seq < 0 || seq >= rd.n {
		s.others.Add(1)
		return
	}
	rd.total.Add(1)
	if rd.count[seq].Add(1) != 1 {
		return
	}
	rd.recv[seq].Store(now)
	rd.ids[seq].Store(m.ID)
	rd.mu.Lock()
	rd.bodies[seq] = body
	rd.mu.Unlock()
	for {
		last := rd.last.Load()
		if now <= last || rd.last.CompareAndSwap(last, now) {
			break
		}
	}
	if rd.unique.Add(1) == int64(rd.n) {
		close(rd.done)
	}
}

// Delivery is what a sink saw of one round.
type Delivery struct {
	Sent       int     `json:"sent"`
	Received   int     `json:"received"` // distinct messages
	Posts      int64   `json:"posts"`    // every post of a benchmark message, repeats included
	Duplicates int64   `json:"duplicates"`
	Missing    int     `json:"missing"`
	WrongID    int     `json:"wrong_id"` // arrived with an id other than the injection's reply
	Seconds    float64 `json:"seconds"`  // first send to last first arrival
	PerSec     float64 `json:"events_per_sec"`
	P50ms      float64 `json:"e2e_p50_ms"`
	P99ms      float64 `json:"e2e_p99_ms"`
	MaxMs      float64 `json:"e2e_max_ms"`
	Others     int64   `json:"other_posts"`
	// SteadyPerSec is the arrival rate between the 10th and the 90th percentile of arrivals:
	// delivery alone, without start-up and tail.
	SteadyPerSec float64 `json:"steady_events_per_sec"`
	// MaxGapMs is the longest pause between two consecutive first arrivals: a stall.
	MaxGapMs float64 `json:"max_gap_ms"`
	// Note says what the sender knows about what is missing.
	Note string `json:"note,omitempty"`
}

// Lossless is whether every message arrived with its id.
func (d Delivery) Lossless() bool { return d.Missing == 0 && d.WrongID == 0 && d.Received == d.Sent }

// Result compares the round with what was sent: t0[i] is when message i was sent (Unix ns, 0 if
// it was not), ids[i] its id (0: not known, not checked).
func (s *Sink) Result(t0, ids []int64) Delivery {
	rd := s.round.Load()
	d := Delivery{Sent: len(t0), Posts: rd.total.Load(), Others: s.others.Load()}
	var lat, arrivals []time.Duration
	first := int64(0)
	for i, t := range t0 {
		if t != 0 && (first == 0 || t < first) {
			first = t
		}
		if i >= rd.n || rd.count[i].Load() == 0 {
			d.Missing++
			continue
		}
		d.Received++
		arrivals = append(arrivals, time.Duration(rd.recv[i].Load()))
		if ids != nil && ids[i] != 0 && rd.ids[i].Load() != ids[i] {
			d.WrongID++
		}
		if t != 0 {
			lat = append(lat, time.Duration(rd.recv[i].Load()-t))
		}
	}
	d.Duplicates = d.Posts - int64(d.Received)
	if last := rd.last.Load(); first != 0 && last > first {
		d.Seconds = time.Duration(last - first).Seconds()
		d.PerSec = float64(d.Received) / d.Seconds
	}
	slices.Sort(arrivals)
	for i := 1; i < len(arrivals); i++ {
		d.MaxGapMs = max(d.MaxGapMs, ms(arrivals[i]-arrivals[i-1]))
	}
	if len(arrivals) >= 10 {
		lo, hi := len(arrivals)/10, len(arrivals)*9/10
		if span := arrivals[hi] - arrivals[lo]; span > 0 {
			d.SteadyPerSec = float64(hi-lo) / span.Seconds()
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		d.P50ms, d.P99ms, d.MaxMs = ms(Percentile(lat, 0.5)), ms(Percentile(lat, 0.99)), ms(lat[len(lat)-1])
	}
	return d
}

// Bodies are the messages as they arrived (nil where one did not): the baseline publishes the
// same bytes.
func (s *Sink) Bodies() [][]byte {
	rd := s.round.Load()
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return slices.Clone(rd.bodies)
}

// bodyFor is message i's body: as it arrived, else another one's with the content changed.
func bodyFor(bodies [][]byte, i int) []byte {
	if i < len(bodies) && bodies[i] != nil {
		return bodies[i]
	}
	for k, b := range bodies {
		if b != nil {
			return bytes.Replace(b, []byte(`"content":"`+benchPrefix+strconv.Itoa(k)+`"`),
				[]byte(`"content":"`+benchPrefix+strconv.Itoa(i)+`"`), 1)
		}
	}
	return nil
}
