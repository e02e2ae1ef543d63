package drivertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// waitFor bounds every wait of the suite: long enough for a loaded machine under -race.
const waitFor = 15 * time.Second

// recorder is the Sink the suite gives the driver: it records every report, lets a test wait
// for one, and notes the reports of capabilities the driver did not declare.
type recorder struct {
	caps driver.Capabilities

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every report
	states     []events.State
	qrcodes    [][]byte
	logins     []*roster.Roster
	received   []driver.Incoming
	ids        []int64 // the ids Receive answered, one for each of received
	changes    []driver.Change
	sent       []driver.SentMessage
	props      []driver.PropertyChange
	published  []published
	violations []string
	nextID     int64
}

type published struct {
	name   string
	params []any
}

var _ driver.Sink = (*recorder)(nil)

func newRecorder(caps driver.Capabilities) *recorder {
	return &recorder{caps: caps, changed: make(chan struct{}), nextID: 1}
}

func (r *recorder) note(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *recorder) State(s events.State) { r.note(func() { r.states = append(r.states, s) }) }

func (r *recorder) QRCode(_ string, png []byte) {
	r.note(func() { r.qrcodes = append(r.qrcodes, png) })
}

func (r *recorder) LoggedIn(ro *roster.Roster, _ bool) {
	r.note(func() {
		if ro == nil {
			r.violations = append(r.violations, "LoggedIn with a nil roster")
		}
		r.logins = append(r.logins, ro)
		r.states = append(r.states, events.StateRunning)
	})
}

func (r *recorder) Receive(_ context.Context, in driver.Incoming) (int64, error) {
	var id int64
	r.note(func() {
		r.received = append(r.received, in)
		r.ids = append(r.ids, r.nextID)
		id = r.nextID
		r.nextID++
	})
	return id, nil
}

func (r *recorder) Change(_ context.Context, c driver.Change) error {
	r.note(func() { r.changes = append(r.changes, c) })
	return nil
}

func (r *recorder) Sent(_ context.Context, m driver.SentMessage) (int64, error) {
	var id int64
	r.note(func() {
		if !r.caps.SentElsewhere {
			r.violations = append(r.violations, "Sent called, but SentElsewhere is not declared")
		}
		r.sent = append(r.sent, m)
		id = r.nextID
		r.nextID++
	})
	return id, nil
}

func (r *recorder) ChangeProperty(_ context.Context, c driver.PropertyChange) error {
	r.note(func() {
		if !r.caps.Properties {
			r.violations = append(r.violations, "ChangeProperty called, but Properties is not declared")
		}
		r.props = append(r.props, c)
	})
	return nil
}

func (r *recorder) Publish(_ context.Context, name string, params ...any) error {
	r.note(func() {
		if (name == events.EventFriendRequest || name == events.EventGroupRequest) && r.caps.Requests == nil {
			r.violations = append(r.violations, fmt.Sprintf("%s published, but Requests is not declared", name))
		}
		r.published = append(r.published, published{name, params})
	})
	return nil
}

// wait waits until cond holds; cond runs under the lock, on every report.
func (r *recorder) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitFor)
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
			t.Fatalf("drivertest: %s: not within %s", what, waitFor)
		}
	}
}

// login waits for the n-th login (from 1) and returns its roster.
func (r *recorder) login(t testing.TB, n int) *roster.Roster {
	t.Helper()
	var ro *roster.Roster
	r.wait(t, fmt.Sprintf("login %d", n), func() bool {
		if len(r.logins) >= n {
			ro = r.logins[n-1]
			return true
		}
		return false
	})
	return ro
}

// snapshot runs f under the lock.
func (r *recorder) snapshot(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}
