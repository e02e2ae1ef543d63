package onebot

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// recorder is a sink that takes everything and lets a test wait for what it got.
type recorder struct {
	mu       sync.Mutex
	states   []events.State
	logins   []*roster.Roster
	received []driver.Incoming
	sent     []driver.SentMessage
	changes  []driver.Change
	props    []driver.PropertyChange
	pubs     []string
	params   [][]any
	changed  chan struct{}
}

var _ driver.Sink = (*recorder)(nil)

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) note(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) State(s events.State)  { r.note(func() { r.states = append(r.states, s) }) }
func (r *recorder) QRCode(string, []byte) {}
func (r *recorder) LoggedIn(ro *roster.Roster, _ bool) {
	r.note(func() { r.logins = append(r.logins, ro); r.states = append(r.states, events.StateRunning) })
}
func (r *recorder) Receive(_ context.Context, in driver.Incoming) (int64, error) {
	r.note(func() { r.received = append(r.received, in) })
	return 1, nil
}
func (r *recorder) Change(_ context.Context, c driver.Change) error {
	r.note(func() { r.changes = append(r.changes, c) })
	return nil
}
func (r *recorder) Sent(_ context.Context, m driver.SentMessage) (int64, error) {
	r.note(func() { r.sent = append(r.sent, m) })
	return 2, nil
}
func (r *recorder) ChangeProperty(_ context.Context, c driver.PropertyChange) error {
	r.note(func() { r.props = append(r.props, c) })
	return nil
}
func (r *recorder) Publish(_ context.Context, name string, params ...any) error {
	r.note(func() { r.pubs = append(r.pubs, name); r.params = append(r.params, params) })
	return nil
}

// wait waits until cond holds (checked under the lock on every change).
func (r *recorder) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok, ch := cond(), r.changed
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("%s: not within 10s", what)
		}
	}
}

// running waits for the n-th login.
func (r *recorder) running(t *testing.T, n int) *roster.Roster {
	t.Helper()
	r.wait(t, "login", func() bool { return len(r.logins) >= n })
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logins[n-1]
}
