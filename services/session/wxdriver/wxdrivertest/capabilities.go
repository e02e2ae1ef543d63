package wxdrivertest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/wxdriver"
)

// account returns the rig's account as A, the account interface of a declared capability,
// or fails: a declared capability must be testable.
func account[A any](t *testing.T, r *rig, capability string) A {
	t.Helper()
	return conformance.Account[A](t, "wxdrivertest", r.acc, capability)
}

// FriendRequests: a request is reported with an id, the name and words, and a ticket;
// accepting it makes a friend on the far side (reported as new_friend); accepting again fails.
func testFriendRequests(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.FriendRequests, "FriendRequests")
	r.start(t)
	acc := account[FriendRequestAccount](t, r, "FriendRequests")
	acc.FriendRequest(t, "wxdrivertest 陌生人", "wxdrivertest: 我是陌生人")
	var fr wx.FriendRequest
	r.rec.Wait(t, "friend_request reported", func() bool {
		i := slices.IndexFunc(r.rec.requests, func(q wx.FriendRequest) bool { return q.Displayname == "wxdrivertest 陌生人" })
		if i >= 0 {
			fr = r.rec.requests[i]
		}
		return i >= 0
	})
	if fr.ID == "" || fr.Ticket == "" || fr.Verify != "wxdrivertest: 我是陌生人" {
		t.Fatalf("friend_request %+v, want an id, a ticket and the words", fr)
	}
	ctx := context.Background()
	if err := r.d.AcceptFriendRequest(ctx, fr); err != nil {
		t.Fatalf("AcceptFriendRequest: %v", err)
	}
	if f := acc.Roster(t).Friend(fr.ID); f == nil {
		t.Error("the accepted stranger is no friend on the far side")
	}
	r.waitChange(t, events.EventNewFriend, func(c wxdriver.Change) bool { return c.Friend.ID == fr.ID })
	if err := r.d.AcceptFriendRequest(ctx, fr); !errors.Is(err, wxdriver.ErrUnknown) {
		t.Errorf("accepting twice: %v, want ErrUnknown", err)
	}
}

// SentElsewhere: messages sent from the phone, to a friend and to a group, are reported with
// their target and content.
func testSentElsewhere(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.SentElsewhere, "SentElsewhere")
	r.start(t)
	acc := account[SentElsewhereAccount](t, r, "SentElsewhere")
	for _, m := range []wxdriver.SentMessage{
		{Type: wx.FriendMessage, TargetID: r.fx.Friend, Body: text("wxdrivertest: 手机上发的")},
		{Type: wx.GroupMessage, GroupID: r.fx.Group, Body: text("wxdrivertest: 手机上发到群")},
	} {
		acc.SendElsewhere(t, m)
		r.rec.Wait(t, "sent elsewhere "+m.Content, func() bool {
			return slices.ContainsFunc(r.rec.sent, func(s wxdriver.SentMessage) bool {
				return s.Type == m.Type && s.TargetID == m.TargetID && s.GroupID == m.GroupID && s.Content == m.Content && !s.Time.IsZero()
			})
		})
	}
}

// Properties: a friend's changed attribute is reported.
func testProperties(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.Properties, "Properties")
	r.start(t)
	acc := account[PropertyAccount](t, r, "Properties")
	acc.SetFriendProperty(t, r.fx.Friend, wxdriver.PropertySignature, "wxdrivertest 新签名")
	want := wxdriver.PropertyChange{FriendID: r.fx.Friend, Property: wxdriver.PropertySignature, New: "wxdrivertest 新签名"}
	r.rec.Wait(t, "friend_property_change reported", func() bool { return slices.Contains(r.rec.props, want) })
}

// Injection: the Injector makes the account receive a message and a change, answers with the
// message's id, and refuses what cannot be (a stranger, an unknown type) with an
// *events.Status whose code is not 0.
func testInjection(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.Injector != nil, "Injector")
	r.start(t)
	ctx := context.Background()
	inj := r.caps.Injector
	rep, err := inj.Inject(ctx, wx.Injection{Type: wx.FriendMessage, SenderID: r.fx.Friend, Format: wx.FormatMedia,
		MediaName: "wxdrivertest.png", MediaMime: "image/png", MediaData: pixel})
	if err != nil || rep.Code != 0 || rep.ID == "" {
		t.Fatalf("inject a media message: %+v, %v", rep, err)
	}
	r.waitReceived(t, wxdriver.Incoming{Type: wx.FriendMessage, SenderID: r.fx.Friend, Body: wxdriver.Body{Format: wx.FormatMedia,
		Media: &wxdriver.IncomingMedia{Type: wx.MediaImage, Name: "wxdrivertest.png", Mime: "image/png", Data: pixel}}})
	var ids []string
	r.rec.Snapshot(func() {
		for _, g := range r.rec.received {
			ids = append(ids, g.id)
		}
	})
	if !slices.Contains(ids, rep.ID) {
		t.Errorf("the injection answered id %q, not one the sink gave (%v)", rep.ID, ids)
	}
	rep, err = inj.Inject(ctx, wx.Injection{Event: events.EventNewGroupMember, GroupID: r.fx.Group, Member: &wx.Member{Name: "wxdrivertest 注入"}})
	if err != nil || rep.ID == "" {
		t.Fatalf("inject new_group_member: %+v, %v", rep, err)
	}
	r.waitChange(t, events.EventNewGroupMember, func(c wxdriver.Change) bool { return c.Member.ID == rep.ID })
	for _, bad := range []wx.Injection{
		{Type: wx.FriendMessage, SenderID: r.fx.Stranger, Content: "x"},
		{Type: "sess_message", SenderID: r.fx.Friend, Content: "x"},
		{Type: wx.FriendMessage, SenderID: r.fx.Friend, Format: wx.FormatMedia},
		{Event: "no_such_event"},
		{},
	} {
		_, err := inj.Inject(ctx, bad)
		var st *events.Status
		if !errors.As(err, &st) || st.Code == 0 {
			t.Errorf("inject %+v: %v, want an *events.Status with a non-zero code", bad, err)
		}
	}
}
