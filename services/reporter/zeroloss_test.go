package reporter

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// flakyReceiver is proctest's post_api receiver that can answer 500, or be down entirely
// (nothing listening on its port), or work.
type flakyReceiver struct {
	r       *proctest.Receiver
	failing atomic.Bool

	mu         sync.Mutex
	got        map[int64]int // message id → deliveries answered 200
	accepted   int           // zero-loss messages answered 200
	refused    int           // requests answered 500
	otherItems int           // other items answered 200 (events)
}

func newFlakyReceiver(t *testing.T) *flakyReceiver {
	t.Helper()
	f := &flakyReceiver{got: map[int64]int{}}
	// The counters are the record: the receiver keeps no copy of the requests.
	f.r = proctest.StartReceiver(t, proctest.ReceiverOptions{Discard: true, Respond: f.answer})
	return f
}

func (f *flakyReceiver) url() string { return f.r.URL }

// down closes the listener and every connection: nothing answers on the port.
func (f *flakyReceiver) down() { f.r.Down() }

// up listens on the same port again.
func (f *flakyReceiver) up(t *testing.T) {
	if err := f.r.Up(); err != nil {
		t.Error(err)
	}
}

func (f *flakyReceiver) answer(r *proctest.Request) proctest.Answer {
	if f.failing.Load() {
		f.mu.Lock()
		f.refused++
		f.mu.Unlock()
		return proctest.Answer{Status: http.StatusInternalServerError}
	}
	var m struct {
		PostType string `json:"post_type"`
		ID       int64  `json:"id"`
		Content  string `json:"content"`
	}
	_ = json.Unmarshal(r.Body, &m)
	f.mu.Lock()
	if m.PostType == events.PostReceiveMessage && strings.HasPrefix(m.Content, "zl-") {
		f.got[m.ID]++
		f.accepted++
	} else {
		f.otherItems++
	}
	f.mu.Unlock()
	return proctest.Answer{}
}

// missing counts the ids not delivered yet.
func (f *flakyReceiver) missing(ids map[int64]bool) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for id := range ids {
		if f.got[id] == 0 {
			n++
		}
	}
	return n
}

func (f *flakyReceiver) distinct() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

// The headline: 10,000 messages, a receiver that fails, then vanishes, then comes back, two
// replicas sharing the work, one of them killed hard and replaced; every message arrives.
func TestZeroLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const (
		total   = 10_000
		writers = 4
	)
	start := time.Now()
	s := startSystemEnv(t, map[string]string{"LOG_LEVEL": "warn"})
	rc := newFlakyReceiver(t)
	rc.failing.Store(true)

	cfg := Config{
		PostAPI: []string{rc.url()}, PostEvent: true,
		PostTimeout: time.Second, APITimeout: time.Second,
		// A dead replica's pin and items come back soon.
		PostAckWait: 2 * time.Second, PostPinTTL: 2 * time.Second,
		PostRetryMin: 20 * time.Millisecond, PostRetryMax: 300 * time.Millisecond,
		PostMaxDeliver: 100_000, PostConcurrency: 32,
	}
	log := quietLogger(t, slog.LevelWarn)
	ncA := natstest.Connect(t, s.srv)
	_, stopA := runReporterOn(t, ncA, cfg, log)
	runReporterOn(t, natstest.Connect(t, s.srv), cfg, log)

	// The receiver: 500 for 2s, down for 2s, then up.
	phases := make(chan struct{})
	go func() {
		defer close(phases)
		time.Sleep(2 * time.Second)
		rc.down()
		rc.failing.Store(false)
		time.Sleep(2 * time.Second)
		rc.up(t)
	}()

	// Inject from a few writers at once.
	var idsMu sync.Mutex
	ids := make(map[int64]bool, total)
	var refusedInjections atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range total / writers {
				content := fmt.Sprintf("zl-%d-%d", w, i)
				if i%500 == 0 {
					content += "\n" // line breaks travel too
				}
				for {
					rep := s.inject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: content})
					if rep.Code == events.CodeOK {
						idsMu.Lock()
						ids[rep.ID] = true
						idsMu.Unlock()
						break
					}
					refusedInjections.Add(1)
					if refusedInjections.Load() > 100 {
						t.Errorf("injection refused: %+v", rep)
						return
					}
				}
			}
		})
	}

	// Kill replica A hard once delivery is under way after the receiver came back: its
	// connection closes without draining, and its unacked items must come back to the others.
	<-phases
	var killedAt int
	waitUntil(t, 30*time.Second, "delivery to resume after the receiver came back", func() bool {
		killedAt = rc.distinct()
		return killedAt >= 1500
	})
	ncA.Close()
	stopA()
	runReporterOn(t, natstest.Connect(t, s.srv), cfg, log)
	t.Logf("replica A killed after %d messages delivered (%v); replica C started", killedAt, time.Since(start).Round(time.Millisecond))

	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(ids) != total {
		t.Fatalf("%d distinct ids for %d injections", len(ids), total)
	}
	injectedAt := time.Since(start)

	// A bound, not a speed (the loop ends with the last message): one conversation's 10,000
	// items go one at a time, and a starved machine under -race once needed more than 40 s.
	deadline := time.Now().Add(120 * time.Second)
	for rc.missing(ids) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages never reached post_api (consumer: %s)", rc.missing(ids), total, s.consumerInfo(t, consumerName(rc.url())))
		}
		time.Sleep(100 * time.Millisecond)
	}
	rc.mu.Lock()
	delivered, accepted, refused, other := len(rc.got), rc.accepted, rc.refused, rc.otherItems
	maxCopies := 0
	for _, n := range rc.got {
		maxCopies = max(maxCopies, n)
	}
	rc.mu.Unlock()
	if dl := s.deadLetters(t); len(dl) != 0 {
		t.Errorf("%d items dead-lettered", len(dl))
	}
	t.Logf("injected %d (in %v), delivered %d distinct, %d deliveries accepted, duplicates %d (max %d copies of one), %d answered 500, %d events; all in %v",
		total, injectedAt.Round(time.Millisecond), delivered, accepted, accepted-delivered, maxCopies, refused, other,
		time.Since(start).Round(time.Millisecond))
	if refused == 0 {
		t.Errorf("the receiver never answered 500: the failure phase did not happen")
	}
}

func (s *system) consumerInfo(t *testing.T, name string) string {
	t.Helper()
	_, state := targetIdle(t.Context(), s.js, name)
	return state
}
