package events

// EventNames are the names of every event, each a subject qq.events.<name> of its own.
var EventNames = []string{
	EventLogin, EventStop, EventStateChange, EventInputQRCode,
	EventNewFriend, EventLoseFriend, EventNewGroup, EventLoseGroup,
	EventNewGroupMember, EventLoseGroupMember, EventNewDiscuss, EventLoseDiscuss,
	EventNewDiscussMember, EventLoseDiscussMember,
	EventFriendPropertyChange, EventGroupPropertyChange, EventGroupMemberPropertyChange,
	EventUserPropertyChange, EventFriendRequest, EventGroupRequest,
}

// ItemNames are the names an item of the event stream can have: the message types, then the
// event names.
var ItemNames = append(append([]string(nil), MessageTypes...), EventNames...)

var itemNameSet = func() map[string]bool {
	m := make(map[string]bool, len(ItemNames))
	for _, n := range ItemNames {
		m[n] = true
	}
	return m
}()

// IsItemName reports whether name is a message type or an event name.
func IsItemName(name string) bool { return itemNameSet[name] }
