package wxdrivertest

import (
	"testing"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Harness makes a fresh driver and the account behind it, for one subtest: each subtest gets
// its own pair, so that none sees another's changes. Whatever it starts ends with t.Cleanup.
// The driver is not running: the suite calls Run.
type Harness func(t *testing.T) (wxdriver.Driver, Account)

// Fixture names the ids, of the current login, of the account's roster the suite uses.
type Fixture struct {
	// Friend is a person among the friends, and Friend2 another one.
	Friend, Friend2 string
	// Official is an official account (公众号) among the friends.
	Official string
	// Group is a group the account owns (it may invite, kick, rename), and Member a member of
	// it who is not a friend.
	Group, Member string
	// Stranger is an id nobody in the roster has: a send to it fails.
	Stranger string
}

// Delivered is a message that reached the far side, as the driver was asked to send it.
type Delivered struct {
	MsgID     string
	Type      string
	TargetID  string
	Content   string
	MediaName string
	MediaMime string
	MediaData []byte
	Revoked   bool
}

// Account is the WeChat account behind a driver, seen from the far side: the harness makes it
// receive things and tells what reached it. Its methods are called from one goroutine at a
// time, while the driver runs and is logged in; they fail t if they cannot do their job.
type Account interface {
	// Fixture names the roster's ids of the current login (they change at each QR login).
	Fixture(t testing.TB) Fixture
	// Receive makes someone send the account a message, as WeChat would deliver it: in.Type
	// is wx.FriendMessage (from SenderID), wx.GroupMessage (from SenderID in GroupID) or
	// wx.GroupNotice (in GroupID); in.Body is any format, media bytes in Media.Data.
	Receive(t testing.TB, in wxdriver.Incoming)
	// Change changes the roster as WeChat would tell the account: c.Kind is
	// events.EventNewFriend (c.Friend, its id empty: the far side gives it), EventLoseFriend
	// (c.Friend.ID), EventNewGroupMember (c.GroupID, c.Member without id) or
	// EventLoseGroupMember (c.GroupID, c.Member.ID). It returns the new object's id.
	Change(t testing.TB, c wxdriver.Change) string
	// Drop cuts the connection, as a crash or a cut cable would: the driver must notice and
	// log in again, or end Run with an error so that the session calls it again.
	Drop(t testing.TB)
	// Sent returns the messages that reached the far side, oldest first.
	Sent(t testing.TB) []Delivered
	// Roster returns the far side's roster (friends, groups, members, stuck ids).
	Roster(t testing.TB) *wxroster.Roster
}

// The accounts of drivers that declare optional capabilities do more. A driver that declares
// a capability whose account interface its harness does not implement fails the suite.

// FriendRequestAccount is the account of a driver that declares FriendRequests.
type FriendRequestAccount interface {
	Account
	// FriendRequest makes a stranger named name ask to be the account's friend.
	FriendRequest(t testing.TB, name, verify string)
}

// SentElsewhereAccount is the account of a driver that declares SentElsewhere.
type SentElsewhereAccount interface {
	Account
	// SendElsewhere makes the account send a message from its phone: m.Type is
	// wx.FriendMessage (to TargetID) or wx.GroupMessage (to GroupID).
	SendElsewhere(t testing.TB, m wxdriver.SentMessage)
}

// PropertyAccount is the account of a driver that declares Properties.
type PropertyAccount interface {
	Account
	// SetFriendProperty changes an attribute of a friend (signature, say) on the far side.
	SetFriendProperty(t testing.TB, friendID, property, value string)
}

// isPerson reports whether f is a person (not an official or system account).
func isPerson(f wx.Friend) bool { return f.Category == wx.CategoryFriend }
