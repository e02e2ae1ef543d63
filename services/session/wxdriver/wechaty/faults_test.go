package wechaty_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty"
	"github.com/openqq/openqq/services/session/wxdriver/wechaty/fakepuppet"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
	"github.com/openqq/openqq/services/session/wxroster"
)

// sink records what the driver reports.
type sink struct {
	*conformance.Recorder[*wxroster.Roster]
	received []wxdriver.Incoming // under the Recorder's lock
}

func newSink() *sink { return &sink{Recorder: conformance.NewRecorder[*wxroster.Roster]("wechaty")} }

func (s *sink) Receive(_ context.Context, in wxdriver.Incoming) (string, error) {
	s.Note(func() { s.received = append(s.received, in) })
	return "id", nil
}
func (s *sink) Change(context.Context, wxdriver.Change) error                 { return nil }
func (s *sink) Sent(context.Context, wxdriver.SentMessage) (string, error)    { return "id", nil }
func (s *sink) ChangeProperty(context.Context, wxdriver.PropertyChange) error { return nil }
func (s *sink) FriendRequest(context.Context, wx.FriendRequest) error         { return nil }

func (s *sink) waitText(t *testing.T, text string) {
	t.Helper()
	s.Wait(t, "message "+text, func() bool {
		return slices.ContainsFunc(s.received, func(in wxdriver.Incoming) bool { return in.Content == text })
	})
}

func run(t *testing.T, d *wechaty.Driver) *sink {
	t.Helper()
	s := newSink()
	r := conformance.Runner{Prefix: "wechaty", Fatal: wxdriver.ErrFatal, Run: func(ctx context.Context) error { return d.Run(ctx, s) }}
	r.Start(t)
	s.Login(t, 1)
	return s
}

// A token the puppet service refuses is fatal, with a message that says so.
func TestRefusedToken(t *testing.T) {
	d, _ := newPair(t, wechaty.Config{Token: "insecure_wrong"})
	err := d.Run(context.Background(), newSink())
	if !errors.Is(err, wxdriver.ErrFatal) || !strings.Contains(err.Error(), "refused the token") {
		t.Fatalf("Run with a refused token: %v, want a fatal error naming the token", err)
	}
}

// Events whose payloads are garbage are skipped; the stream goes on.
func TestGarbageSkipped(t *testing.T) {
	d, srv := newPair(t, wechaty.Config{})
	s := run(t, d)
	srv.Garbage()
	srv.Heartbeat()
	srv.Deliver(fakepuppet.Message{Type: pb.WireText, Talker: srv.ID("wang"), Text: "after the garbage"})
	s.waitText(t, "after the garbage")
	if l := s.Login(t, 1); l.Roster == nil {
		t.Fatal("no roster")
	}
}

// A stalled puppet fails calls (they are bounded), and once it answers again the driver
// sends and receives again.
func TestStallRecovers(t *testing.T) {
	d, srv := newPair(t, wechaty.Config{CallTimeout: 300 * time.Millisecond})
	s := run(t, d)
	to := "@" + srv.ID("wang")
	release := srv.Stall()
	_, err := d.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: to, Content: "stalled"})
	release()
	if err == nil {
		t.Fatal("a send to a stalled puppet succeeded")
	}
	if _, err := d.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: to, Content: "back"}); err != nil {
		t.Fatalf("a send after the stall: %v", err)
	}
	srv.Deliver(fakepuppet.Message{Type: pb.WireText, Talker: srv.ID("wang"), Text: "after the stall"})
	s.waitText(t, "after the stall")
}

// A logout on the phone takes the account back to scaning, and a new QR login follows.
func TestLogoutBackToScaning(t *testing.T) {
	d, srv := newPair(t, wechaty.Config{})
	s := run(t, d)
	before := s.NumStates()
	srv.Logout()
	l := s.Login(t, 2)
	if !l.Scanned {
		t.Error("the login after a logout says no QR code was scanned")
	}
	if st := s.StatesBeforeRunning(before); !slices.Contains(st, events.StateScaning) {
		t.Errorf("states after the logout: %v, want scaning", st)
	}
}

// While the stream is quiet, the driver dings the puppet, whose dongs keep the connection:
// no reconnection, no new login.
func TestDingKeepsAlive(t *testing.T) {
	d, srv := newPair(t, wechaty.Config{PingInterval: 20 * time.Millisecond})
	s := run(t, d)
	for range 5 {
		select {
		case <-srv.Dings():
		case <-time.After(conformance.WaitFor):
			t.Fatal("the driver does not ding the puppet")
		}
	}
	srv.Deliver(fakepuppet.Message{Type: pb.WireText, Talker: srv.ID("wang"), Text: "still here"})
	s.waitText(t, "still here")
	var logins int
	s.Snapshot(func() { logins = len(s.Logins) })
	if logins != 1 {
		t.Errorf("%d logins while the puppet answered dings, want 1", logins)
	}
}

// An event stream that falls silent (the puppet answers no ding) is dropped and connected
// again: the account is back, with the same ids (no scan).
func TestSilentStreamReconnects(t *testing.T) {
	d, srv := newPair(t, wechaty.Config{PingInterval: 30 * time.Millisecond, CallTimeout: 50 * time.Millisecond})
	s := run(t, d)
	release := srv.Stall()
	defer release()
	s.Wait(t, "the silent stream dropped", func() bool { n := len(s.States); return n > 2 && s.States[n-1] == events.StateLoading })
	release()
	l := s.Login(t, 2)
	if l.Scanned {
		t.Error("the reconnection asked for a new scan")
	}
	srv.Deliver(fakepuppet.Message{Type: pb.WireText, Talker: srv.ID("wang"), Text: "reconnected"})
	s.waitText(t, "reconnected")
}
