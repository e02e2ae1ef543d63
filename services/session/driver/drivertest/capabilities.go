package drivertest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/internal/conformance"
)

// account returns the rig's account as A, the account interface of a declared capability,
// or fails: a declared capability must be testable.
func account[A any](t *testing.T, r *rig, capability string) A {
	t.Helper()
	return conformance.Account[A](t, "drivertest", r.acc, capability)
}

// Requests: friend and group requests are published with a flag, and answered through it
// once. Answering again fails: with ErrUnknown when the request is named by who asked, with
// any error when it is named by a flag (a driver may pass a flag it does not know on to QQ,
// which refuses it).
func testRequests(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.Requests != nil, "Requests")
	r.start(t)
	acc := account[RequestAccount](t, r, "Requests")
	ctx := context.Background()

	acc.FriendRequest(t, r.fx.Stranger, "drivertest: 加个好友")
	var fr events.FriendRequest
	r.rec.Wait(t, "friend_request published", func() bool {
		i := slices.IndexFunc(r.rec.published, func(p published) bool { return p.name == events.EventFriendRequest })
		if i >= 0 && len(r.rec.published[i].params) == 1 {
			fr, _ = r.rec.published[i].params[0].(events.FriendRequest)
		}
		return i >= 0
	})
	if fr.Flag == "" || fr.ID != r.fx.Stranger {
		t.Fatalf("friend_request %+v, want one events.FriendRequest with a flag from %d", fr, r.fx.Stranger)
	}
	if err := r.caps.Requests.AnswerFriend(ctx, driver.FriendAnswer{Flag: fr.Flag, Approve: true}); err != nil {
		t.Errorf("AnswerFriend: %v", err)
	}
	if err := r.caps.Requests.AnswerFriend(ctx, driver.FriendAnswer{Flag: fr.Flag, Approve: true}); err == nil {
		t.Error("answering a friend request twice by its flag succeeded")
	}
	if err := r.caps.Requests.AnswerFriend(ctx, driver.FriendAnswer{UserID: r.fx.Stranger, Approve: true}); !errors.Is(err, driver.ErrUnknown) {
		t.Errorf("answering a friend request twice by who asked: %v, want driver.ErrUnknown", err)
	}

	acc.GroupRequest(t, r.fx.Group, r.fx.Stranger, "drivertest: 让我进群")
	var gr events.GroupRequest
	r.rec.Wait(t, "group_request published", func() bool {
		i := slices.IndexFunc(r.rec.published, func(p published) bool { return p.name == events.EventGroupRequest })
		if i >= 0 && len(r.rec.published[i].params) == 1 {
			gr, _ = r.rec.published[i].params[0].(events.GroupRequest)
		}
		return i >= 0
	})
	if gr.Flag == "" || gr.ID != r.fx.Stranger || gr.GroupID != r.fx.Group {
		t.Fatalf("group_request %+v, want one events.GroupRequest with a flag from %d to %d", gr, r.fx.Stranger, r.fx.Group)
	}
	if err := r.caps.Requests.AnswerGroup(ctx, driver.GroupAnswer{UserID: r.fx.Stranger, GroupID: r.fx.Group, Approve: false, Reason: "drivertest"}); err != nil {
		t.Errorf("AnswerGroup by who asked: %v", err)
	}
	if err := r.caps.Requests.AnswerGroup(ctx, driver.GroupAnswer{UserID: r.fx.Stranger, GroupID: r.fx.Group}); !errors.Is(err, driver.ErrUnknown) {
		t.Errorf("answering a group request twice by who asked: %v, want driver.ErrUnknown", err)
	}
}

// SentElsewhere: the account's messages from another device are reported as sent, and the
// driver's own sends are not reported again.
func testSentElsewhere(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.SentElsewhere, "SentElsewhere")
	r.start(t)
	acc := account[SentElsewhereAccount](t, r, "SentElsewhere")
	own := driver.Outgoing{Type: events.FriendMessage, TargetID: r.fx.Friend, Content: "drivertest: from the API"}
	if err := r.d.Send(context.Background(), own); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ms := []driver.SentMessage{
		{Type: events.FriendMessage, TargetID: r.fx.Friend, Content: "drivertest: from my phone"},
		{Type: events.GroupMessage, GroupID: r.fx.Group, Content: "drivertest: in the group, from my phone"},
	}
	for _, m := range ms {
		acc.SendElsewhere(t, m)
		r.rec.Wait(t, m.Type+" sent elsewhere reported", func() bool {
			return slices.ContainsFunc(r.rec.sent, func(got driver.SentMessage) bool {
				return got.Type == m.Type && got.TargetID == m.TargetID && got.GroupID == m.GroupID && got.Content == m.Content
			})
		})
	}
	r.rec.Snapshot(func() {
		for _, got := range r.rec.sent {
			if got.Content == own.Content {
				t.Errorf("the driver's own send was reported as sent elsewhere: %+v", got)
			}
		}
	})
}

// Properties: a member's new card is reported as a property change.
func testProperties(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.Properties, "Properties")
	r.start(t)
	acc := account[PropertyAccount](t, r, "Properties")
	want := driver.PropertyChange{GroupID: r.fx.Group, MemberID: r.fx.Member, Property: driver.PropertyCard, New: "drivertest 新名片"}
	acc.SetCard(t, want.GroupID, want.MemberID, want.New)
	r.rec.Wait(t, "card change reported", func() bool { return slices.Contains(r.rec.props, want) })
}

// Injection: an injected message is reported and its id returned; a refusal is an
// *events.Status.
func testInjection(t *testing.T, h Harness) {
	r := open(t, h)
	inj := r.caps.Injector
	conformance.Require(t, inj != nil, "Injector")
	r.start(t)
	ctx := context.Background()
	in := events.Injection{Type: events.FriendMessage, SenderID: r.fx.Friend, Content: "drivertest: injected"}
	id, err := inj.Inject(ctx, in)
	if err != nil {
		t.Fatalf("Inject(%+v): %v", in, err)
	}
	var got int64
	r.rec.Snapshot(func() {
		for i, m := range r.rec.received {
			if m.Content == in.Content && m.SenderID == in.SenderID {
				got = r.rec.ids[i]
			}
		}
	})
	if id == 0 || id != got {
		t.Errorf("Inject returned id %d, want the sink's %d", id, got)
	}
	bads := []events.Injection{
		{Type: events.FriendMessage, SenderID: r.fx.Stranger, Content: "drivertest: from a stranger"},
		{Content: "drivertest: neither a message nor a change"},
	}
	if r.caps.Media {
		bads = append(bads, events.Injection{Type: events.FriendMessage, SenderID: r.fx.Friend, Content: "drivertest: bad picture", MediaData: "not base64!"})
	}
	for _, bad := range bads {
		_, err := inj.Inject(ctx, bad)
		var st *events.Status
		if !errors.As(err, &st) || st.Code == events.CodeOK {
			t.Errorf("Inject(%+v): %v, want an *events.Status refusal", bad, err)
		}
	}
}
