// Package drivertest is the conformance suite of session drivers, in the spirit of
// watermill's pub/sub test suite: a driver's own test calls Run with a Harness that makes the
// driver and the account behind it, and the suite checks, each in a subtest with a fresh pair,
// that the driver keeps the contract of package driver: login and its states, the roster
// handed over, every message type received, every send type and a failed send's code, mute
// and kick, roster changes, a lost connection and a new login, cancellation, and concurrent
// use (run it with -race). It drives the driver directly with a recording Sink: no session, no
// NATS. The optional capabilities the driver declares are tested; the others are skipped with
// a message that names them.
//
// A new driver is done when it passes the suite.
package drivertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/internal/conformance"
)

// Run runs the conformance suite against the drivers h makes.
func Run(t *testing.T, h Harness) {
	conformance.RunAll(t, h, []conformance.Test[Harness]{
		{Name: "Login", F: testLogin},
		{Name: "RosterHandedOver", F: testRosterHandedOver},
		{Name: "Receive", F: testReceive},
		{Name: "Send", F: testSend},
		{Name: "SendFails", F: testSendFails},
		{Name: "Mute", F: testMute},
		{Name: "Kick", F: testKick},
		{Name: "RosterChanges", F: testRosterChanges},
		{Name: "LostConnection", F: testLostConnection},
		{Name: "CancelAndLogInAgain", F: testCancelAndLogInAgain},
		{Name: "Concurrent", F: testConcurrent},
		{Name: "Capability/Requests", F: testRequests},
		{Name: "Capability/SentElsewhere", F: testSentElsewhere},
		{Name: "Capability/Properties", F: testProperties},
		{Name: "Capability/Injection", F: testInjection},
		{Name: "Capability/Faces", F: testFaces},
		{Name: "Capability/Media", F: testMedia},
	})
}

// rig is a driver running against its account, as the session runs it: a Run that ends with
// an error (not a fatal one) is called again, at once.
type rig struct {
	d    driver.Driver
	acc  Account
	fx   Fixture
	caps driver.Capabilities
	rec  *recorder
	run  conformance.Runner
}

// open makes a driver and its account, without running it. The check that no undeclared
// capability was used runs last, once the driver has stopped.
func open(t *testing.T, h Harness) *rig {
	t.Helper()
	d, acc := h(t)
	if d == nil || acc == nil {
		t.Fatal("drivertest: the harness returned no driver or no account")
	}
	caps := d.Capabilities()
	r := &rig{d: d, acc: acc, fx: acc.Fixture(), caps: caps, rec: newRecorder(caps)}
	r.run = conformance.Runner{Prefix: "drivertest", Fatal: driver.ErrFatal, Run: func(ctx context.Context) error { return d.Run(ctx, r.rec) }}
	r.rec.CheckViolations(t)
	return r
}

// start opens a driver, runs it and waits for its first login.
func start(t *testing.T, h Harness) *rig {
	t.Helper()
	r := open(t, h)
	r.start(t)
	return r
}

// start runs the driver and waits for its first login.
func (r *rig) start(t *testing.T) {
	t.Helper()
	r.run.Start(t)
	r.rec.login(t, 1)
}

// States a login may go through before running, in their order; loading ("peer away") may
// come anywhere.
var loginOrder = []events.State{events.StateScaning, events.StateConfirming, events.StateUpdating}

// checkLoginStates checks the states reported before a login's running.
func checkLoginStates(t *testing.T, states []events.State) {
	t.Helper()
	conformance.CheckLoginStates(t, states, loginOrder, events.StateLoading)
}

// Login: the states before running, the QR code if any, the roster handed over with the
// fixture's ids in it, and capabilities that stay put.
func testLogin(t *testing.T, h Harness) {
	r := start(t, h)
	ro := r.rec.login(t, 1)
	states, qrs := r.rec.FirstLogin()
	checkLoginStates(t, states)
	if slices.Contains(states, events.StateScaning) && len(qrs) == 0 {
		t.Error("scaning reported without a QR code")
	}
	for i, png := range qrs {
		if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("QR code %d is not a PNG image", i)
		}
	}
	if err := ro.Validate(); err != nil {
		t.Errorf("the roster handed over is not valid: %v", err)
	}
	if ro.User.ID == 0 {
		t.Error("the roster handed over has no user")
	}
	fx := r.fx
	if ro.Friend(fx.Friend) == nil {
		t.Errorf("friend %d missing from the roster", fx.Friend)
	}
	if g := ro.Group(fx.Group); g == nil {
		t.Errorf("group %d missing from the roster", fx.Group)
	} else if !slices.ContainsFunc(g.Member, func(m events.GroupMember) bool { return m.ID == fx.Member }) {
		t.Errorf("member %d missing from group %d", fx.Member, fx.Group)
	}
	if fx.Discuss != 0 {
		if d := ro.Discuss(fx.Discuss); d == nil {
			t.Errorf("discuss %d missing from the roster", fx.Discuss)
		} else if !slices.ContainsFunc(d.Member, func(m events.DiscussMember) bool { return m.ID == fx.DiscussMember }) {
			t.Errorf("member %d missing from discuss %d", fx.DiscussMember, fx.Discuss)
		}
	}
	if ro.Friend(fx.Stranger) != nil {
		t.Errorf("the stranger %d is a friend", fx.Stranger)
	}
	again := r.d.Capabilities()
	if again.Requests != r.caps.Requests || again.Injector != r.caps.Injector ||
		again.SentElsewhere != r.caps.SentElsewhere || again.Properties != r.caps.Properties {
		t.Errorf("Capabilities changed: %+v, then %+v", r.caps, again)
	}
}

// RosterHandedOver: the roster handed over is the session's to change; the driver keeps its
// own view and still delivers what comes from someone the session removed.
func testRosterHandedOver(t *testing.T, h Harness) {
	r := start(t, h)
	ro := r.rec.login(t, 1)
	ro.RemoveFriend(r.fx.Friend)
	ro.RemoveGroupMember(r.fx.Group, r.fx.Member)
	in := driver.Incoming{Type: events.FriendMessage, SenderID: r.fx.Friend, Content: "drivertest: still here"}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
	out := driver.Outgoing{Type: events.SessMessage, TargetID: r.fx.Member, GroupID: r.fx.Group, Content: "drivertest: and you"}
	if err := r.d.Send(context.Background(), out); err != nil {
		t.Errorf("send to a member the session removed from its copy: %v", err)
	}
}

// matches reports whether got is the message in, as the driver reports it.
func matches(got, in driver.Incoming) bool {
	return got.Type == in.Type && got.SenderID == in.SenderID && got.GroupID == in.GroupID &&
		got.DiscussID == in.DiscussID && got.Content == in.Content
}

// waitReceived waits until the driver reported in, and checks its time.
func (r *rig) waitReceived(t *testing.T, in driver.Incoming) {
	t.Helper()
	var got driver.Incoming
	r.rec.Wait(t, fmt.Sprintf("%s %q reported", in.Type, in.Content), func() bool {
		i := slices.IndexFunc(r.rec.received, func(g driver.Incoming) bool { return matches(g, in) })
		if i >= 0 {
			got = r.rec.received[i]
		}
		return i >= 0
	})
	if got.Time.IsZero() {
		t.Errorf("%s %q reported without a time", in.Type, in.Content)
	}
}

// messageCases are the messages of every type the fixture allows, discuss ones only if it
// has a discuss.
func messageCases(fx Fixture) []struct {
	name    string
	discuss bool
	in      driver.Incoming
} {
	return []struct {
		name    string
		discuss bool
		in      driver.Incoming
	}{
		{"friend", false, driver.Incoming{Type: events.FriendMessage, SenderID: fx.Friend, Content: "drivertest: 你好 <&>"}},
		{"group", false, driver.Incoming{Type: events.GroupMessage, SenderID: fx.Member, GroupID: fx.Group, Content: "drivertest: 群里好"}},
		{"discuss", true, driver.Incoming{Type: events.DiscussMessage, SenderID: fx.DiscussMember, DiscussID: fx.Discuss, Content: "drivertest: 讨论"}},
		{"sess via group", false, driver.Incoming{Type: events.SessMessage, SenderID: fx.Member, GroupID: fx.Group, Content: "drivertest: 临时"}},
		{"sess via discuss", true, driver.Incoming{Type: events.SessMessage, SenderID: fx.DiscussMember, DiscussID: fx.Discuss, Content: "drivertest: 讨论临时"}},
	}
}

// Receive: each message type reaches the sink with its sender, place and content.
func testReceive(t *testing.T, h Harness) {
	r := start(t, h)
	for _, c := range messageCases(r.fx) {
		t.Run(c.name, func(t *testing.T) {
			if c.discuss && r.fx.Discuss == 0 {
				t.Skip("the account has no discuss (Fixture.Discuss is 0)")
			}
			r.acc.Receive(t, c.in)
			r.waitReceived(t, c.in)
		})
	}
}

// Send: each send type reaches the far side as asked.
func testSend(t *testing.T, h Harness) {
	r := start(t, h)
	for _, c := range messageCases(r.fx) {
		t.Run(c.name, func(t *testing.T) {
			if c.discuss && r.fx.Discuss == 0 {
				t.Skip("the account has no discuss (Fixture.Discuss is 0)")
			}
			out := driver.Outgoing{Type: c.in.Type, GroupID: c.in.GroupID, DiscussID: c.in.DiscussID, Content: c.in.Content + " (sent)"}
			switch c.in.Type {
			case events.FriendMessage, events.SessMessage:
				out.TargetID = c.in.SenderID
			case events.GroupMessage:
				out.TargetID, out.GroupID = c.in.GroupID, 0
			case events.DiscussMessage:
				out.TargetID, out.DiscussID = c.in.DiscussID, 0
			}
			if err := r.d.Send(context.Background(), out); err != nil {
				t.Fatalf("Send(%+v): %v", out, err)
			}
			if sent := r.acc.Sent(t); !slices.Contains(sent, out) {
				t.Errorf("%+v did not reach the far side, which has %+v", out, sent)
			}
		})
	}
}

// SendFails: a send that cannot be done is a *driver.SendError with one of Mojo's codes.
func testSendFails(t *testing.T, h Harness) {
	r := start(t, h)
	out := driver.Outgoing{Type: events.FriendMessage, TargetID: r.fx.Stranger, Content: "drivertest: to nobody"}
	err := r.d.Send(context.Background(), out)
	var se *driver.SendError
	switch {
	case !errors.As(err, &se):
		t.Fatalf("Send to a stranger: %v, want a *driver.SendError", err)
	case se.Code < -5 || se.Code > -1:
		t.Errorf("send error code %d, want one of Mojo's -1..-5", se.Code)
	case se.Info == "":
		t.Error("send error without info")
	}
	if slices.Contains(r.acc.Sent(t), out) {
		t.Error("the failed send reached the far side")
	}
}

// Mute: the member is muted on the far side.
func testMute(t *testing.T, h Harness) {
	r := start(t, h)
	if r.acc.Muted(t, r.fx.Group, r.fx.Member) {
		t.Fatal("the member is muted before the test")
	}
	if err := r.d.Mute(context.Background(), r.fx.Group, []int64{r.fx.Member}, 10*time.Minute); err != nil {
		t.Fatalf("Mute: %v", err)
	}
	if !r.acc.Muted(t, r.fx.Group, r.fx.Member) {
		t.Error("the member is not muted on the far side")
	}
}

// Kick: the member is out of the group on the far side.
func testKick(t *testing.T, h Harness) {
	r := start(t, h)
	if !r.acc.InGroup(t, r.fx.Group, r.fx.Member) {
		t.Fatal("the member is not in the group before the test")
	}
	if err := r.d.Kick(context.Background(), r.fx.Group, []int64{r.fx.Member}); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	if r.acc.InGroup(t, r.fx.Group, r.fx.Member) {
		t.Error("the member is still in the group on the far side")
	}
}

// RosterChanges: a new friend, a newcomer to a group and a member who leaves are reported.
func testRosterChanges(t *testing.T, h Harness) {
	r := start(t, h)
	fx := r.fx
	cases := []struct {
		name string
		c    driver.Change
		is   func(driver.Change) bool
	}{
		{"new friend", driver.Change{Kind: events.EventNewFriend, Friend: events.Friend{ID: fx.Stranger, UID: fx.Stranger, Name: "drivertest 新朋友"}},
			func(c driver.Change) bool { return c.Friend.ID == fx.Stranger }},
		{"new group member", driver.Change{Kind: events.EventNewGroupMember, GroupID: fx.Group,
			Member: events.GroupMember{ID: fx.Stranger, UID: fx.Stranger, Name: "drivertest 新人", Role: events.MemberRoleMember}},
			func(c driver.Change) bool { return c.GroupID == fx.Group && c.Member.ID == fx.Stranger }},
		{"lose group member", driver.Change{Kind: events.EventLoseGroupMember, GroupID: fx.Group, Member: events.GroupMember{ID: fx.Member}},
			func(c driver.Change) bool { return c.GroupID == fx.Group && c.Member.ID == fx.Member }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.acc.Change(t, c.c)
			r.rec.Wait(t, c.c.Kind+" reported", func() bool {
				return slices.ContainsFunc(r.rec.changes, func(got driver.Change) bool { return got.Kind == c.c.Kind && c.is(got) })
			})
		})
	}
}

// LostConnection: after a dropped connection the driver logs in again by itself (or ends
// Run with an error, and logs in when called again), hands over the roster again, and
// delivers again.
func testLostConnection(t *testing.T, h Harness) {
	r := start(t, h)
	before := r.rec.NumStates()
	r.acc.Drop(t)
	r.rec.login(t, 2)
	checkLoginStates(t, r.rec.StatesBeforeRunning(before))
	in := driver.Incoming{Type: events.FriendMessage, SenderID: r.fx.Friend, Content: "drivertest: after the drop"}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
	out := driver.Outgoing{Type: events.FriendMessage, TargetID: r.fx.Friend, Content: "drivertest: back"}
	if err := r.d.Send(context.Background(), out); err != nil {
		t.Errorf("send after the new login: %v", err)
	}
}

// CancelAndLogInAgain: Run returns nil once its context ends, and a new Run logs in again,
// keeping what the far side changed.
func testCancelAndLogInAgain(t *testing.T, h Harness) {
	r := start(t, h)
	if err := r.d.Kick(context.Background(), r.fx.Group, []int64{r.fx.Member}); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	r.run.Stop(t)
	if t.Failed() {
		return
	}
	r.run.Start(t)
	ro := r.rec.login(t, 2)
	if g := ro.Group(r.fx.Group); g != nil && slices.ContainsFunc(g.Member, func(m events.GroupMember) bool { return m.ID == r.fx.Member }) {
		t.Error("the new login's roster has the member kicked before it again")
	}
	in := driver.Incoming{Type: events.FriendMessage, SenderID: r.fx.Friend, Content: "drivertest: after the new login"}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
}

// Concurrent: sends, mutes and incoming messages at once (run the suite with -race).
func testConcurrent(t *testing.T, h Harness) {
	r := start(t, h)
	fx := r.fx
	const workers, each = 4, 8
	outs := []driver.Outgoing{
		{Type: events.FriendMessage, TargetID: fx.Friend},
		{Type: events.GroupMessage, TargetID: fx.Group},
		{Type: events.SessMessage, TargetID: fx.Member, GroupID: fx.Group},
	}
	conformance.Concurrency[driver.Incoming]{
		Workers: workers, Each: each,
		Work: func(ctx context.Context, w, i int) (errs []error) {
			out := outs[(w+i)%len(outs)]
			out.Content = fmt.Sprintf("drivertest: worker %d, send %d", w, i)
			if err := r.d.Send(ctx, out); err != nil {
				errs = append(errs, fmt.Errorf("send %+v: %w", out, err))
			}
			if i%4 == 0 {
				if err := r.d.Mute(ctx, fx.Group, []int64{fx.Member}, time.Minute); err != nil {
					errs = append(errs, fmt.Errorf("mute: %w", err))
				}
			}
			return errs
		},
		Incoming: func(i int) driver.Incoming {
			in := driver.Incoming{Type: events.FriendMessage, SenderID: fx.Friend, Content: fmt.Sprintf("drivertest: incoming %d", i)}
			r.acc.Receive(t, in)
			return in
		},
		Received: func(in driver.Incoming) { r.waitReceived(t, in) },
		Sent:     func() int { return len(r.acc.Sent(t)) },
	}.Check(t)
}
