package conformance

import (
	"fmt"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

// errs is a testing.TB that keeps what Errorf says instead of failing.
type errs struct {
	testing.TB
	said []string
}

func (e *errs) Helper() {}
func (e *errs) Errorf(format string, args ...any) {
	e.said = append(e.said, fmt.Sprintf(format, args...))
}

func TestCheckLoginStates(t *testing.T) {
	order := []events.State{events.StateScaning, events.StateConfirming, events.StateUpdating}
	tests := []struct {
		name     string
		states   []events.State
		anywhere []events.State
		want     string // in the failure; "" for none
	}{
		{"none", nil, nil, ""},
		{"all in order", order, nil, ""},
		{"a subsequence", []events.State{events.StateScaning, events.StateUpdating}, nil, ""},
		{"loading anywhere", []events.State{events.StateScaning, events.StateLoading, events.StateConfirming}, []events.State{events.StateLoading}, ""},
		{"loading not allowed", []events.State{events.StateLoading, events.StateScaning}, nil, "reports only [scaning confirming updating]:"},
		{"out of order", []events.State{events.StateConfirming, events.StateScaning}, nil, "out of order"},
		{"twice", []events.State{events.StateScaning, events.StateScaning}, nil, "out of order"},
		{"running", []events.State{events.StateRunning}, []events.State{events.StateLoading}, "reports only [scaning confirming updating] and loading:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &errs{TB: t}
			CheckLoginStates(e, tc.states, order, tc.anywhere...)
			got := strings.Join(e.said, "\n")
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("CheckLoginStates(%v): %q, want %q", tc.states, got, tc.want)
			}
		})
	}
}

// A nil roster is a violation; a login is also a running state.
func TestRecorderLoggedIn(t *testing.T) {
	type roster struct{}
	r := NewRecorder[*roster]("suite")
	r.State(events.StateScaning)
	r.LoggedIn(nil, true)
	r.LoggedIn(&roster{}, false)
	if l := r.Login(t, 2); l.Roster == nil || l.Scanned {
		t.Errorf("login 2: %+v", l)
	}
	states, _ := r.FirstLogin()
	if len(states) != 1 || states[0] != events.StateScaning {
		t.Errorf("states before the first running: %v", states)
	}
	if got := r.StatesBeforeRunning(2); len(got) != 0 {
		t.Errorf("states before the second running: %v", got)
	}
	r.Snapshot(func() {
		if len(r.Violations) != 1 || r.Violations[0] != "LoggedIn with a nil roster" {
			t.Errorf("violations %q", r.Violations)
		}
	})
}
