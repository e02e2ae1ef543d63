package wx

import (
	"github.com/openqq/openqq/pkg/events"
)

// The event reports of Openwx (MOJO-OPENWX.md §2.3), built as events.Event. Objects are
// encoded with their derived displayname.

// The kinds of object a *_property_change names.
const (
	EventUserPropertyChange        = events.EventUserPropertyChange
	EventFriendPropertyChange      = events.EventFriendPropertyChange
	EventGroupPropertyChange       = events.EventGroupPropertyChange
	EventGroupMemberPropertyChange = events.EventGroupMemberPropertyChange
)

// NewFriendEvent is new_friend [friend].
func NewFriendEvent(f Friend) (*events.Event, error) {
	return events.NewEvent(events.EventNewFriend, f)
}

// LoseFriendEvent is lose_friend [friend].
func LoseFriendEvent(f Friend) (*events.Event, error) {
	return events.NewEvent(events.EventLoseFriend, f)
}

// NewGroupEvent is new_group [group]; the group carries its members (Mojo's
// is_keep_member bug made that always so).
func NewGroupEvent(g Group) (*events.Event, error) {
	return events.NewEvent(events.EventNewGroup, withMembers(g))
}

// LoseGroupEvent is lose_group [group].
func LoseGroupEvent(g Group) (*events.Event, error) {
	return events.NewEvent(events.EventLoseGroup, withMembers(g))
}

// NewGroupMemberEvent is new_group_member [member, group].
func NewGroupMemberEvent(m Member, g Group) (*events.Event, error) {
	return events.NewEvent(events.EventNewGroupMember, m, withMembers(g))
}

// LoseGroupMemberEvent is lose_group_member [member, group].
func LoseGroupMemberEvent(m Member, g Group) (*events.Event, error) {
	return events.NewEvent(events.EventLoseGroupMember, m, withMembers(g))
}

// PropertyChangeEvent is <kind> [object, property, old, new], kind one of the four
// *_property_change events and obj the object after the change (a User, Friend, Group or
// Member).
func PropertyChangeEvent(kind string, obj any, property, old, new string) (*events.Event, error) {
	return events.NewEvent(kind, obj, property, old, new)
}

// FriendRequest is what a friend_request event says: who asks, with which words, and the
// ticket accept_friend_request takes back.
type FriendRequest struct {
	ID          string
	Displayname string
	Verify      string
	Ticket      string
}

// FriendRequestEvent is friend_request [id, displayname, verify, ticket].
func FriendRequestEvent(r FriendRequest) (*events.Event, error) {
	return events.NewEvent(events.EventFriendRequest, r.ID, r.Displayname, r.Verify, r.Ticket)
}

// UpdateUserEvent is update_user [user].
func UpdateUserEvent(u User) (*events.Event, error) {
	return events.NewEvent(EventUpdateUser, u)
}

// UpdateFriendEvent is update_friend [friend, friend, ...].
func UpdateFriendEvent(fs []Friend) (*events.Event, error) {
	params := make([]any, len(fs))
	for i := range fs {
		params[i] = fs[i]
	}
	return events.NewEvent(EventUpdateFriend, params...)
}

// UpdateGroupEvent is update_group [group, group, ...].
func UpdateGroupEvent(gs []Group) (*events.Event, error) {
	params := make([]any, len(gs))
	for i := range gs {
		params[i] = withMembers(gs[i])
	}
	return events.NewEvent(EventUpdateGroup, params...)
}

// LoginEvent is login [1] after a QR scan (ids may have changed), [0] otherwise.
func LoginEvent(scanned bool) (*events.Event, error) {
	if scanned {
		return events.NewEvent(events.EventLogin, 1)
	}
	return events.NewEvent(events.EventLogin, 0)
}

// LoginFailedEvent is login [-1, reason].
func LoginFailedEvent(reason string) (*events.Event, error) {
	return events.NewEvent(events.EventLogin, -1, reason)
}

// withMembers gives a group an empty member list rather than none: a group in an event always
// has its member key.
func withMembers(g Group) Group {
	if g.Member == nil {
		g.Member = []Member{}
	}
	return g
}
