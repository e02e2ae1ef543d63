package onebot

import (
	"strconv"
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
	_ drivertest.RichAccount          = peerAccount{}
)

// LastSent reads the latest send's face and image segments.
func (a peerAccount) LastSent(t testing.TB) (faces []int, picture []byte) {
	var last *onebottest.Call
	for _, c := range a.p.Calls("") {
		if c.Err == nil && (c.Action == "send_group_msg" || c.Action == "send_private_msg") {
			last = &c
		}
	}
	if last == nil {
		t.Fatal("onebot peer: nothing sent")
	}
	for _, s := range last.Segments() {
		switch s.Type() {
		case "face":
			id, err := strconv.Atoi(s.Data("id"))
			if err != nil {
				t.Errorf("onebot peer: face segment %v", s)
			}
			faces = append(faces, id)
		case "image":
			picture = s.ImageBytes()
		}
	}
	return faces, picture
}

// receive makes the peer deliver in with segs after its text.
func (a peerAccount) receive(t testing.TB, in driver.Incoming, segs ...onebottest.Segment) {
	t.Helper()
	segs = append([]onebottest.Segment{onebottest.Text(in.Content)}, segs...)
	switch {
	case in.Type == events.FriendMessage:
		a.p.Private(in.SenderID, segs...)
	case in.Type == events.GroupMessage:
		a.p.Group(in.GroupID, in.SenderID, segs...)
	case in.Type == events.SessMessage && in.GroupID != 0:
		a.p.Temp(in.GroupID, in.SenderID, segs...)
	default:
		t.Fatalf("onebot peer: cannot receive %+v", in)
	}
}

func (a peerAccount) ReceiveFaces(t testing.TB, in driver.Incoming, ids []int) {
	t.Helper()
	segs := make([]onebottest.Segment, len(ids))
	for i, id := range ids {
		segs[i] = onebottest.Face(id)
	}
	a.receive(t, in, segs...)
}

// ReceivePicture serves the picture at a loopback url, as QQ's picture server.
func (a peerAccount) ReceivePicture(t testing.TB, in driver.Incoming, picture []byte) {
	t.Helper()
	a.receive(t, in, a.p.ImageURL(t, "drivertest.png", picture))
}

func (a peerAccount) Fixture() drivertest.Fixture {
	return drivertest.Fixture{Friend: wangID, Group: testGroup, Member: strangeID, Stranger: 50009}
}

func (a peerAccount) Receive(t testing.TB, in driver.Incoming) {
	t.Helper()
	a.receive(t, in)
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
