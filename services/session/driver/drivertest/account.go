package drivertest

import (
	"testing"

	"github.com/openqq/openqq/services/session/driver"
)

// Harness makes a fresh driver and the account behind it, for one subtest: each subtest gets
// its own pair, so that none sees another's changes. Whatever it starts ends with t.Cleanup.
// The driver is not running: the suite calls Run.
type Harness func(t *testing.T) (driver.Driver, Account)

// Fixture names the ids of the account's roster the suite uses. The roster the driver hands
// over at login must hold them.
type Fixture struct {
	// Friend is a friend of the account.
	Friend int64
	// Group is a group where the account is an admin (it may mute and kick), and Member a
	// plain member of it who is not a friend: sess messages go to it, mutes and kicks hit it.
	Group, Member int64
	// Discuss is a discuss group and DiscussMember one of its members; 0 if the account has
	// none (OneBot has no discusses): the discuss tests are skipped then.
	Discuss, DiscussMember int64
	// Stranger is an id nobody in the roster has: a send to it fails, and the roster changes
	// bring it in.
	Stranger int64
}

// Account is the QQ account behind a driver, seen from the far side: the test harness makes
// it receive things and tells what reached it. Its methods are called from one goroutine at a
// time, while the driver runs; they fail t if they cannot do their job.
type Account interface {
	// Fixture names the roster's ids.
	Fixture() Fixture
	// Receive makes someone send the account a message, as QQ would deliver it: in.Type is
	// events.FriendMessage (from SenderID), GroupMessage (in GroupID), DiscussMessage (in
	// DiscussID) or SessMessage (from a member of GroupID or of DiscussID); Content is text.
	Receive(t testing.TB, in driver.Incoming)
	// Change changes the roster as QQ would tell the account: c.Kind is
	// events.EventNewFriend (c.Friend), EventNewGroupMember (c.GroupID, c.Member) or
	// EventLoseGroupMember (c.GroupID, c.Member.ID, a member who leaves).
	Change(t testing.TB, c driver.Change)
	// Drop cuts the connection to QQ, as a crash or a cut cable would: the driver must notice
	// and log in again, or end Run with an error so that the session calls it again.
	Drop(t testing.TB)
	// Sent returns the messages that reached the far side, oldest first, as the driver was
	// asked to send them (Type, TargetID, GroupID, DiscussID, Content).
	Sent(t testing.TB) []driver.Outgoing
	// Muted reports whether the far side has the member muted in the group.
	Muted(t testing.TB, groupID, memberID int64) bool
	// InGroup reports whether the far side has the member in the group.
	InGroup(t testing.TB, groupID, memberID int64) bool
}

// The accounts of drivers that declare optional capabilities do more. A driver that declares
// a capability whose account interface its harness does not implement fails the suite: what is
// declared is tested.

// RequestAccount is the account of a driver that declares Requests.
type RequestAccount interface {
	Account
	// FriendRequest makes userID ask to become the account's friend.
	FriendRequest(t testing.TB, userID int64, comment string)
	// GroupRequest makes userID ask to join groupID.
	GroupRequest(t testing.TB, groupID, userID int64, comment string)
}

// SentElsewhereAccount is the account of a driver that declares SentElsewhere.
type SentElsewhereAccount interface {
	Account
	// SendElsewhere makes the account send a message from another device: m.Type is
	// events.FriendMessage (to TargetID) or GroupMessage (to GroupID).
	SendElsewhere(t testing.TB, m driver.SentMessage)
}

// PropertyAccount is the account of a driver that declares Properties.
type PropertyAccount interface {
	Account
	// SetCard changes a member's group card.
	SetCard(t testing.TB, groupID, memberID int64, card string)
}

// RichAccount is the account of a driver that declares Faces or Media.
type RichAccount interface {
	Account
	// LastSent is what the far side got of the latest send beyond text: the ids of its faces
	// in order, and its picture's bytes (nil without one).
	LastSent(t testing.TB) (faces []int, picture []byte)
	// ReceiveFaces makes someone send the account in (as Receive) with the faces ids after
	// its text.
	ReceiveFaces(t testing.TB, in driver.Incoming, ids []int)
	// ReceivePicture makes someone send the account in (as Receive) with a picture after its
	// text.
	ReceivePicture(t testing.TB, in driver.Incoming, picture []byte)
}
