package sim_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
	"github.com/openqq/openqq/services/session/wxdriver/wxdrivertest"
	"github.com/openqq/openqq/services/session/wxroster"
)

func newSim(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	if cfg.QRCodeDir == "" {
		cfg.QRCodeDir = t.TempDir()
	}
	s, err := sim.New(cfg, wxdriver.Params{Account: "wxdrivertest", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The simulated account keeps the WeChat driver contract.
func TestConformance(t *testing.T) {
	wxdrivertest.Run(t, func(t *testing.T) (wxdriver.Driver, wxdrivertest.Account) {
		s := newSim(t, sim.Config{})
		return s, account{s}
	})
}

// account is the simulated server behind a Sim: injections make it receive, and the Sim's
// own records tell what reached it.
type account struct{ s *sim.Sim }

func (a account) Fixture(t testing.TB) wxdrivertest.Fixture {
	t.Helper()
	ro := a.s.Roster()
	byMark := func(mark string) string {
		i := slices.IndexFunc(ro.Friends, func(f wx.Friend) bool { return f.Markname == mark })
		if i < 0 {
			t.Fatalf("no friend with markname %s", mark)
		}
		return ro.Friends[i].ID
	}
	fx := wxdrivertest.Fixture{Friend: byMark("老王"), Friend2: byMark("表妹"), Stranger: "@0123456789abcdef0123456789abcdef"}
	for _, f := range ro.Friends {
		if f.Account == sim.XiaoiceAccount {
			fx.Official = f.ID
		}
	}
	for _, g := range ro.Groups {
		if g.Name != sim.OwnGroupName {
			continue
		}
		fx.Group = g.ID
		for _, m := range g.Member {
			if m.ID != ro.User.ID && ro.Friend(m.ID) == nil {
				fx.Member = m.ID
				break
			}
		}
	}
	return fx
}

func (a account) inject(t testing.TB, in wx.Injection) wx.InjectReply {
	t.Helper()
	rep, err := a.s.Inject(context.Background(), in)
	if err != nil {
		t.Fatalf("inject %+v: %v", in, err)
	}
	return rep
}

func (a account) Receive(t testing.TB, in wxdriver.Incoming) {
	t.Helper()
	inj := wx.Injection{Type: in.Type, SenderID: in.SenderID, GroupID: in.GroupID, Format: in.Format,
		Content: in.Content, App: in.App, Card: in.Card, RevokeID: in.RevokeID}
	if m := in.Media; m != nil {
		inj.MediaType, inj.MediaName, inj.MediaMime, inj.MediaData = m.Type, m.Name, m.Mime, m.Data
	}
	a.inject(t, inj)
}

func (a account) Change(t testing.TB, c wxdriver.Change) string {
	t.Helper()
	in := wx.Injection{Event: c.Kind, GroupID: c.GroupID}
	switch c.Kind {
	case events.EventNewFriend:
		in.Friend = &c.Friend
	case events.EventLoseFriend:
		in.FriendID = c.Friend.ID
	case events.EventNewGroupMember:
		in.Member = &c.Member
	case events.EventLoseGroupMember:
		in.MemberID = c.Member.ID
	}
	return a.inject(t, in).ID
}

func (a account) Drop(testing.TB) { a.s.Drop() }

func (a account) Sent(testing.TB) []wxdrivertest.Delivered {
	var out []wxdrivertest.Delivered
	for _, d := range a.s.Sent() {
		x := wxdrivertest.Delivered{MsgID: d.MsgID, Type: d.Type, TargetID: d.TargetID, Content: d.Content, Revoked: d.Revoked, MediaData: d.MediaData}
		if d.Media != nil {
			x.MediaName, x.MediaMime = d.Media.Name, d.Media.Mime
		}
		out = append(out, x)
	}
	return out
}

func (a account) Roster(testing.TB) *wxroster.Roster { return a.s.Roster() }

func (a account) FriendRequest(t testing.TB, name, verify string) {
	t.Helper()
	a.inject(t, wx.Injection{Event: events.EventFriendRequest, Friend: &wx.Friend{Name: name}, Verify: verify})
}

func (a account) SendElsewhere(t testing.TB, m wxdriver.SentMessage) {
	t.Helper()
	a.inject(t, wx.Injection{Type: m.Type, Source: wx.SourceOuter, ReceiverID: m.TargetID, GroupID: m.GroupID, Content: m.Content, Format: m.Format})
}

func (a account) SetFriendProperty(t testing.TB, friendID, property, value string) {
	t.Helper()
	a.inject(t, wx.Injection{Event: wx.EventFriendPropertyChange, FriendID: friendID, Property: property, Value: value})
}
