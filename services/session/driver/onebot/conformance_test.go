package onebot

import (
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/drivertest"
	"github.com/openqq/openqq/services/session/driver/onebot/onebottest"
)

// The driver keeps the contract against every flavour of the fake peer.
func TestConformance(t *testing.T) {
	for _, fl := range onebottest.Flavours {
		t.Run(string(fl), func(t *testing.T) {
			t.Parallel()
			drivertest.Run(t, func(t *testing.T) (driver.Driver, drivertest.Account) {
				opts := peerOptions(fl)
				opts.ReportSelf = true // for SentElsewhere
				peer := onebottest.New(opts)
				d, err := New(Config{URL: peer.Serve(t), AccessToken: opts.Token, CallTimeout: 2 * time.Second,
					ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}, testLogger(t))
				if err != nil {
					t.Fatal(err)
				}
				return d, peerAccount{peer}
			})
		})
	}
}

// peerAccount is the fake peer's account, seen by the conformance suite.
type peerAccount struct{ p *onebottest.Peer }

var (
	_ drivertest.RequestAccount       = peerAccount{}
	_ drivertest.SentElsewhereAccount = peerAccount{}
	_ drivertest.PropertyAccount      = peerAccount{}
)

func (a peerAccount) Fixture() drivertest.Fixture {
	return drivertest.Fixture{Friend: wangID, Group: testGroup, Member: strangeID, Stranger: 50009}
}

func (a peerAccount) Receive(t testing.TB, in driver.Incoming) {
	t.Helper()
	text := onebottest.Text(in.Content)
	switch {
	case in.Type == events.FriendMessage:
		a.p.Private(in.SenderID, text)
	case in.Type == events.GroupMessage:
		a.p.Group(in.GroupID, in.SenderID, text)
	case in.Type == events.SessMessage && in.GroupID != 0:
		a.p.Temp(in.GroupID, in.SenderID, text)
	default:
		t.Fatalf("onebot peer: cannot receive %+v", in)
	}
}

func (a peerAccount) Change(t testing.TB, c driver.Change) {
	t.Helper()
	switch c.Kind {
	case events.EventNewFriend:
		a.p.AddFriend(onebottest.Friend{UserID: c.Friend.ID, Nickname: c.Friend.Name})
	case events.EventNewGroupMember:
		a.p.Join(c.GroupID, onebottest.Member{UserID: c.Member.ID, Nickname: c.Member.Name, Role: c.Member.Role})
	case events.EventLoseGroupMember:
		a.p.Leave(c.GroupID, c.Member.ID)
	default:
		t.Fatalf("onebot peer: no change %q", c.Kind)
	}
}

func (a peerAccount) Drop(testing.TB) { a.p.Drop() }

func (a peerAccount) Sent(testing.TB) []driver.Outgoing {
	var out []driver.Outgoing
	for _, c := range a.p.Calls("") {
		switch {
		case c.Err != nil:
		case c.Action == "send_group_msg":
			out = append(out, driver.Outgoing{Type: events.GroupMessage, TargetID: c.Int("group_id"), Content: c.Text()})
		case c.Action == "send_private_msg" && c.Int("group_id") != 0:
			out = append(out, driver.Outgoing{Type: events.SessMessage, TargetID: c.Int("user_id"), GroupID: c.Int("group_id"), Content: c.Text()})
		case c.Action == "send_private_msg":
			out = append(out, driver.Outgoing{Type: events.FriendMessage, TargetID: c.Int("user_id"), Content: c.Text()})
		}
	}
	return out
}

// Muted: the latest set_group_ban of the member set a duration.
func (a peerAccount) Muted(_ testing.TB, groupID, memberID int64) bool {
	muted := false
	for _, c := range a.p.Calls("set_group_ban") {
		if c.Int("group_id") == groupID && c.Int("user_id") == memberID {
			muted = c.Int("duration") > 0
		}
	}
	return muted
}

func (a peerAccount) InGroup(_ testing.TB, groupID, memberID int64) bool {
	return a.p.InGroup(groupID, memberID)
}

func (a peerAccount) FriendRequest(_ testing.TB, userID int64, comment string) {
	a.p.FriendRequest(userID, comment)
}

func (a peerAccount) GroupRequest(_ testing.TB, groupID, userID int64, comment string) {
	a.p.GroupRequest(groupID, userID, "add", comment)
}

func (a peerAccount) SendElsewhere(t testing.TB, m driver.SentMessage) {
	t.Helper()
	switch m.Type {
	case events.FriendMessage:
		a.p.SentElsewhere("private", m.TargetID, 0, onebottest.Text(m.Content))
	case events.GroupMessage:
		a.p.SentElsewhere("group", 0, m.GroupID, onebottest.Text(m.Content))
	default:
		t.Fatalf("onebot peer: cannot send %s elsewhere", m.Type)
	}
}

func (a peerAccount) SetCard(_ testing.TB, groupID, memberID int64, card string) {
	a.p.SetCard(groupID, memberID, card)
}
