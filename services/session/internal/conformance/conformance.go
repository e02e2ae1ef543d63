// Package conformance is what the driver conformance suites (QQ's drivertest, WeChat's
// wxdrivertest) share because the driver contracts agree on it: a recording Sink's login part,
// the order of the login states, running a driver as the session runs it, skipping an
// undeclared capability, and the concurrent-use check. Each suite keeps what its platform's
// contract adds; the failure messages name the suite through Prefix.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// WaitFor bounds every wait of the suites: long enough for a loaded machine under -race.
const WaitFor = 15 * time.Second

// Login is one LoggedIn: the roster handed over and whether a QR code was scanned for it.
type Login[R comparable] struct {
	Roster  R
	Scanned bool
}

// Recorder is the login part of a suite's recording Sink: states, QR codes, logins and the
// contract violations it noticed, under one lock, with a wait for any condition on them. A
// suite's recorder embeds it and records its platform's other reports through Note.
//
// The fields are read and written under the lock only: in Note, Wait's cond, or Snapshot.
type Recorder[R comparable] struct {
	prefix string

	mu         sync.Mutex
	changed    chan struct{} // closed and replaced on every report
	States     []events.State
	QRCodes    [][]byte
	Logins     []Login[R]
	Violations []string
}

// NewRecorder returns an empty Recorder whose failures start with prefix (the suite's name).
func NewRecorder[R comparable](prefix string) *Recorder[R] {
	return &Recorder[R]{prefix: prefix, changed: make(chan struct{})}
}

// Note runs f under the lock and wakes every Wait.
func (r *Recorder[R]) Note(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
	close(r.changed)
	r.changed = make(chan struct{})
}

// Violate notes a break of the contract; call it inside Note. The suite fails on it when
// the test ends (see CheckViolations).
func (r *Recorder[R]) Violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// Undeclared notes the report call of a capability the driver did not declare; call it
// inside Note.
func (r *Recorder[R]) Undeclared(declared bool, call, capability string) {
	if !declared {
		r.Violate("%s called, but %s is not declared", call, capability)
	}
}

// State is the Sink's State.
func (r *Recorder[R]) State(s events.State) { r.Note(func() { r.States = append(r.States, s) }) }

// QRCode is the Sink's QRCode.
func (r *Recorder[R]) QRCode(_ string, img []byte) {
	r.Note(func() { r.QRCodes = append(r.QRCodes, img) })
}

// LoggedIn is the Sink's LoggedIn: a login, and the running state it stands for.
func (r *Recorder[R]) LoggedIn(ro R, scanned bool) {
	r.Note(func() {
		var none R
		if ro == none {
			r.Violate("LoggedIn with a nil roster")
		}
		r.Logins = append(r.Logins, Login[R]{ro, scanned})
		r.States = append(r.States, events.StateRunning)
	})
}

// Wait waits until cond holds; cond runs under the lock, on every report.
func (r *Recorder[R]) Wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(WaitFor)
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
			t.Fatalf("%s: %s: not within %s", r.prefix, what, WaitFor)
		}
	}
}

// Login waits for the n-th login (from 1) and returns it.
func (r *Recorder[R]) Login(t testing.TB, n int) Login[R] {
	t.Helper()
	var l Login[R]
	r.Wait(t, fmt.Sprintf("login %d", n), func() bool {
		if len(r.Logins) >= n {
			l = r.Logins[n-1]
			return true
		}
		return false
	})
	return l
}

// Snapshot runs f under the lock.
func (r *Recorder[R]) Snapshot(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// CheckViolations fails t, when it ends, on every violation noted: the check runs last, once
// the driver has stopped.
func (r *Recorder[R]) CheckViolations(t testing.TB) {
	t.Cleanup(func() {
		r.Snapshot(func() {
			for _, v := range r.Violations {
				t.Errorf("%s: %s", r.prefix, v)
			}
		})
	})
}

// FirstLogin returns the states reported before the first running and the QR codes so far.
func (r *Recorder[R]) FirstLogin() (states []events.State, qrcodes [][]byte) {
	r.Snapshot(func() {
		i := slices.Index(r.States, events.StateRunning)
		states, qrcodes = slices.Clone(r.States[:i]), slices.Clone(r.QRCodes)
	})
	return states, qrcodes
}

// NumStates returns how many states were reported so far: mark it before a new login to
// read that login's states with StatesBeforeRunning.
func (r *Recorder[R]) NumStates() int {
	var n int
	r.Snapshot(func() { n = len(r.States) })
	return n
}

// StatesBeforeRunning returns the states reported from the from-th one (from 0) to the next
// running; call it once that running is reported.
func (r *Recorder[R]) StatesBeforeRunning(from int) []events.State {
	var states []events.State
	r.Snapshot(func() { states = slices.Clone(r.States[from:]) })
	return states[:slices.Index(states, events.StateRunning)]
}

// CheckLoginStates checks the states reported before a login's running: a subsequence of
// order, with the states of anywhere allowed at any place.
func CheckLoginStates(t testing.TB, states, order []events.State, anywhere ...events.State) {
	t.Helper()
	only := fmt.Sprint(order)
	if len(anywhere) > 0 {
		names := make([]string, len(anywhere))
		for i, s := range anywhere {
			names[i] = string(s)
		}
		only += " and " + strings.Join(names, ", ")
	}
	last := -1
	for _, s := range states {
		if slices.Contains(anywhere, s) {
			continue
		}
		i := slices.Index(order, s)
		if i < 0 {
			t.Errorf("state %q reported while logging in; a driver reports only %s: %v", s, only, states)
			return
		}
		if i <= last {
			t.Errorf("states out of order while logging in: %v, want a subsequence of %v", states, order)
			return
		}
		last = i
	}
}

// Runner runs a driver as the session does: a Run that ends with an error (not a fatal
// one) is called again, at once.
type Runner struct {
	Prefix string                          // the suite's name, for its messages
	Run    func(ctx context.Context) error // the driver's Run with the suite's Sink
	Fatal  error                           // the contract's fatal error: Run is not called again

	cancel context.CancelFunc
	done   chan error // what the last Run returned once ctx ended, or a fatal error
}

// Start calls Run in the background until the test ends, and checks then that Run returns
// nil once its context ends.
func (r *Runner) Start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	r.cancel, r.done = cancel, done
	go func() {
		for {
			err := r.Run(ctx)
			if ctx.Err() != nil || errors.Is(err, r.Fatal) {
				done <- err
				return
			}
			t.Logf("%s: Run ended (%v); calling it again, as the session does", r.Prefix, err)
		}
	}()
	t.Cleanup(func() { r.Stop(t) })
}

// Stop cancels Run's context and waits for it to return nil.
func (r *Runner) Stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("%s: Run returned %v after its context ended, want nil", r.Prefix, err)
		}
	case <-time.After(WaitFor):
		t.Errorf("%s: Run did not return within %s of its context ending", r.Prefix, WaitFor)
	}
}

// Require skips the test of a capability the driver did not declare.
func Require(t testing.TB, declared bool, capability string) {
	t.Helper()
	if !declared {
		t.Skipf("capability %s not declared", capability)
	}
}

// Account returns acc as A, the account interface of a declared capability, or fails: a
// declared capability must be testable.
func Account[A any](t testing.TB, prefix string, acc any, capability string) A {
	t.Helper()
	a, ok := acc.(A)
	if !ok {
		var zero *A
		t.Fatalf("%s: the driver declares %s, but the harness's Account (%T) is no %T", prefix, capability, acc, zero)
	}
	return a
}

// Concurrency is the concurrent-use check: Workers goroutines each take Each steps of Work
// while Incoming delivers Each messages on the far side; then every error of Work fails the
// test, every incoming message must reach the sink (Received), and at least Workers*Each
// sends must have reached the far side (Sent). Run the suite with -race.
type Concurrency[In any] struct {
	Workers, Each int
	Work          func(ctx context.Context, w, i int) []error
	Incoming      func(i int) In
	Received      func(In)
	Sent          func() int
}

// Check runs the check.
func (c Concurrency[In]) Check(t *testing.T) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range c.Workers {
		wg.Go(func() {
			for i := range c.Each {
				if e := c.Work(context.Background(), w, i); len(e) > 0 {
					mu.Lock()
					errs = append(errs, e...)
					mu.Unlock()
				}
			}
		})
	}
	var ins []In
	for i := range c.Each {
		ins = append(ins, c.Incoming(i))
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	for _, in := range ins {
		c.Received(in)
	}
	if n, want := c.Sent(), c.Workers*c.Each; n < want {
		t.Errorf("%d sends reached the far side, want %d", n, want)
	}
}

// Test is one check of a suite, run against the drivers a harness H makes.
type Test[H any] struct {
	Name string
	F    func(t *testing.T, h H)
}

// RunAll runs each test in a parallel subtest: each makes its own driver and account.
func RunAll[H any](t *testing.T, h H, tests []Test[H]) {
	for _, tc := range tests {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			tc.F(t, h)
		})
	}
}
