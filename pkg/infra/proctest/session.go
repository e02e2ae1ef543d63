package proctest

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
)

// Main runs the tests and then deletes what Binaries built: call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}

// Session is openqq-session running as a process on the simulated account. The reporter's and
// the poller's tests talk to it over NATS without importing it, so their modules stay free of
// the session's.
type Session struct {
	*Proc
	states chan string // the new state of every state_change, in order
	once   sync.Once
}

// StartSession runs openqq-session (built once by Binaries) against the NATS server at
// natsURL, on the simulated account with its QR code in a temporary directory and its health
// port off; env adds or overrides variables (SUBJECT_PREFIX, CONTROL_DELAY, SIM_LOGIN_DELAY,
// LOG_LEVEL, ...). Its output goes to a log file of its Group, written into the test's log if
// the test fails. It stops when the test ends.
func StartSession(t testing.TB, natsURL string, env map[string]string) *Session {
	t.Helper()
	bin, err := Binaries(context.Background(), BinSession)
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGroup(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"NATS_URL": natsURL, "DRIVER": "sim", "SIM_QRCODE_DIR": t.TempDir(), "HEALTH_ADDR": "",
		"SUBJECT_PREFIX": events.DefaultPrefix,
	}
	for k, v := range env {
		vars[k] = v
	}
	// Watch the states from before the start: the first ones come quickly.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s := &Session{states: make(chan string, 64)}
	subject := events.Subjects{Prefix: vars["SUBJECT_PREFIX"]}.Event(events.EventStateChange)
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) {
		var ev struct{ Params []string }
		if json.Unmarshal(m.Data, &ev) == nil && len(ev.Params) == 2 {
			select {
			case s.states <- ev.Params[1]:
			default:
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.Proc, err = g.Start(BinSession, BinSession, vars); err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the session stops, then its output is shown if anything failed.
	t.Cleanup(func() {
		if t.Failed() {
			g.LogOutputs(t, 400)
		}
	})
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// WaitState waits until the session reports state (a state_change to it).
func (s *Session) WaitState(t testing.TB, state string, within time.Duration) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case st := <-s.states:
			if st == state {
				return
			}
		case <-s.Done():
			_, err := s.Exited()
			t.Fatalf("proctest: openqq-session ended (%v) before state %s", err, state)
		case <-deadline.C:
			t.Fatalf("proctest: no state %s within %s", state, within)
		}
	}
}

// Stop stops the session as a service manager does (SIGTERM), waits for it, and fails the
// test unless it exits cleanly. It does it once; later calls do nothing.
func (s *Session) Stop(t testing.TB) {
	t.Helper()
	s.once.Do(func() {
		if !s.StopWithin(20 * time.Second) {
			t.Errorf("proctest: openqq-session did not stop within 20s of SIGTERM")
			return
		}
		if _, err := s.Exited(); err != nil {
			t.Errorf("proctest: openqq-session: %v", err)
		}
	})
}
