package wxdrivertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// waitFor bounds every wait of the suite: long enough for a loaded machine under -race.
const waitFor = 15 * time.Second

// login is one LoggedIn.
type login struct {
	ro      *wxroster.Roster
	scanned bool
}

// received is one Receive, with its media read.
type received struct {
	in   wxdriver.Incoming
	data []byte // the media's bytes, read from Data or Reader
	id   string
}

// recorder is the Sink the suite gives the driver: it records every report, lets a test wait
// for one, and notes the reports of capabilities the driver did not declare.
type recorder struct {
	caps wxdriver.Capabilities

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every report
	states     []events.State
	qrcodes    [][]byte
	logins     []login
	received   []received
	changes    []wxdriver.Change
	sent       []wxdriver.SentMessage
	props      []wxdriver.PropertyChange
	requests   []wx.FriendRequest
	violations []string
	nextID     int
}

var _ wxdriver.Sink = (*recorder)(nil)

func newRecorder(caps wxdriver.Capabilities) *recorder {
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

func (r *recorder) QRCode(_ string, img []byte) {
	r.note(func() { r.qrcodes = append(r.qrcodes, img) })
}

func (r *recorder) LoggedIn(ro *wxroster.Roster, scanned bool) {
	r.note(func() {
		if ro == nil {
			r.violations = append(r.violations, "LoggedIn with a nil roster")
		}
		r.logins = append(r.logins, login{ro, scanned})
		r.states = append(r.states, events.StateRunning)
	})
}

func (r *recorder) Receive(_ context.Context, in wxdriver.Incoming) (string, error) {
	var data []byte
	if in.Media != nil {
		// The session reads the bytes before Receive returns; so does the recorder.
		b, err := readAll(in.Media)
		if err != nil {
			return "", err
		}
		data = b
	}
	var id string
	r.note(func() {
		id = fmt.Sprint("wxdrivertest-", r.nextID)
		r.nextID++
		r.received = append(r.received, received{in: in, data: data, id: id})
	})
	return id, nil
}

func (r *recorder) Change(_ context.Context, c wxdriver.Change) error {
	r.note(func() { r.changes = append(r.changes, c) })
	return nil
}

func (r *recorder) Sent(_ context.Context, m wxdriver.SentMessage) (string, error) {
	var id string
	r.note(func() {
		if !r.caps.SentElsewhere {
			r.violations = append(r.violations, "Sent called, but SentElsewhere is not declared")
		}
		r.sent = append(r.sent, m)
		id = fmt.Sprint("wxdrivertest-", r.nextID)
		r.nextID++
	})
	return id, nil
}

func (r *recorder) ChangeProperty(_ context.Context, c wxdriver.PropertyChange) error {
	r.note(func() {
		if !r.caps.Properties {
			r.violations = append(r.violations, "ChangeProperty called, but Properties is not declared")
		}
		r.props = append(r.props, c)
	})
	return nil
}

func (r *recorder) FriendRequest(_ context.Context, fr wx.FriendRequest) error {
	r.note(func() {
		if !r.caps.FriendRequests {
			r.violations = append(r.violations, "FriendRequest called, but FriendRequests is not declared")
		}
		r.requests = append(r.requests, fr)
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
			t.Fatalf("wxdrivertest: %s: not within %s", what, waitFor)
		}
	}
}

// login waits for the n-th login (from 1) and returns it.
func (r *recorder) login(t testing.TB, n int) login {
	t.Helper()
	var l login
	r.wait(t, fmt.Sprintf("login %d", n), func() bool {
		if len(r.logins) >= n {
			l = r.logins[n-1]
			return true
		}
		return false
	})
	return l
}

// snapshot runs f under the lock.
func (r *recorder) snapshot(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}
