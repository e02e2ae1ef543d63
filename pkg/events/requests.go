package events

// FriendRequest is the parameter of a friend_request event: someone asks to be the account's
// friend. Answer it on answer_friend_request with its flag.
type FriendRequest struct {
	Comment string `json:"comment"`
	Flag    string `json:"flag"`
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Time    int64  `json:"time"`
	UID     int64  `json:"uid"`
}

// Kinds of GroupRequest.
const (
	GroupRequestAdd    = "add"    // someone asks to join a group the account administers
	GroupRequestInvite = "invite" // someone invites the account into a group
)

// GroupRequest is the parameter of a group_request event. Answer it on answer_group_request
// with its flag.
type GroupRequest struct {
	Comment  string `json:"comment"`
	Flag     string `json:"flag"`
	Group    string `json:"group"`
	GroupID  int64  `json:"group_id"`
	GroupUID int64  `json:"group_uid"`
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	SubType  string `json:"sub_type"`
	Time     int64  `json:"time"`
	UID      int64  `json:"uid"`
}

// ErrRequestNotFound answers a request that the account does not have (any more).
var ErrRequestNotFound = &Status{CodeNotFound, "request not found"}
