package sim_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/sim"
	"github.com/openqq/openqq/services/session/roster"
)

// sink takes what the simulated account reports and keeps the property changes and roster
// changes it was told of.
type sink struct {
	mu       sync.Mutex
	loggedIn chan struct{}
	props    []driver.PropertyChange
	changes  []driver.Change
}

func (k *sink) State(events.State)                                      {}
func (k *sink) QRCode(string, []byte)                                   {}
func (k *sink) LoggedIn(*roster.Roster, bool)                           { close(k.loggedIn) }
func (k *sink) Receive(context.Context, driver.Incoming) (int64, error) { return 1, nil }
func (k *sink) Sent(context.Context, driver.SentMessage) (int64, error) { return 1, nil }
func (k *sink) Publish(context.Context, string, ...any) error           { return nil }
func (k *sink) Change(_ context.Context, c driver.Change) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.changes = append(k.changes, c)
	return nil
}
func (k *sink) ChangeProperty(_ context.Context, p driver.PropertyChange) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.props = append(k.props, p)
	return nil
}

func (k *sink) counts() (int, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.props), len(k.changes)
}

// loggedIn runs a simulated account on the default roster until the test ends.
func loggedIn(t testing.TB) (*sim.Sim, *sink) {
	s, err := sim.New(sim.Config{QRCodeDir: t.TempDir()}, driver.Params{Account: "fuzz", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	k := &sink{loggedIn: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, k) }()
	t.Cleanup(func() { cancel(); <-done })
	<-k.loggedIn
	return s, k
}

// Any injection is taken or refused with an *events.Status (never a panic); a property change
// taken reaches the sink once, with the property and value asked, and one refused does not.
func FuzzInjectEvent(f *testing.F) {
	for _, seed := range []string{
		`{"event":"user_property_change","property":"signature","value":"新签名"}`,
		`{"event":"user_property_change","property":"card","value":"x"}`,
		`{"event":"friend_property_change","friend_id":2372835507,"property":"markname","value":"王哥"}`,
		`{"event":"friend_property_change","friend_id":2372835507,"property":"name"}`,
		`{"event":"group_property_change","group_id":2617047292,"property":"name","value":"新群名"}`,
		`{"event":"group_member_property_change","group_id":2617047292,"member_id":2372985968,"property":"role","value":"admin"}`,
		`{"event":"group_member_property_change","group_id":2617047292,"member_id":2372985968,"property":"role","value":"boss"}`,
		`{"event":"discuss_property_change","discuss_id":4118239384,"property":"name","value":"x"}`,
		`{"event":"new_discuss","discuss":{"id":1,"name":"新","member":[{"id":2,"uid":3}]}}`,
		`{"event":"new_discuss","discuss":{"id":-1}}`,
		`{"event":"lose_discuss","discuss_id":4118239384}`,
		`{"event":"new_discuss_member","discuss_id":4118239384,"member":{"id":5,"uid":6,"name":"x"}}`,
		`{"event":"new_discuss_member","discuss_id":4118239384}`,
		`{"event":"lose_discuss_member","discuss_id":4118239384,"member_id":2372843426}`,
		`{"event":"new_friend"}`,
		`{"type":"friend_message","event":"new_friend"}`,
	} {
		f.Add(seed)
	}
	s, k := loggedIn(f)
	f.Fuzz(func(t *testing.T, body string) {
		var in events.Injection
		if json.Unmarshal([]byte(body), &in) != nil || in.Type != "" {
			return
		}
		props, changes := k.counts()
		_, err := s.Inject(context.Background(), in)
		var st *events.Status
		if err != nil && !errors.As(err, &st) {
			t.Fatalf("Inject(%s): %v, want an *events.Status", body, err)
		}
		nowProps, nowChanges := k.counts()
		isProp := strings.HasSuffix(in.Event, "_property_change")
		switch {
		case err != nil && (nowProps != props || nowChanges != changes):
			t.Fatalf("Inject(%s) refused (%v) but reported", body, err)
		case err == nil && isProp && (nowProps != props+1 || nowChanges != changes):
			t.Fatalf("Inject(%s) taken: %d property changes reported, want 1", body, nowProps-props)
		case err == nil && !isProp && (nowChanges != changes+1 || nowProps != props):
			t.Fatalf("Inject(%s) taken: %d changes reported, want 1", body, nowChanges-changes)
		}
		if err == nil && isProp {
			k.mu.Lock()
			p := k.props[len(k.props)-1]
			k.mu.Unlock()
			if p.Property != in.Property || p.New != in.Value {
				t.Fatalf("Inject(%s) reported %+v", body, p)
			}
		}
	})
}
