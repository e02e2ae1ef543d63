package events

// Injection is the body of a request on qq.sim.inject (Subjects.SimInject): what a driver that
// takes injections (the simulated account) is to "receive", either a message (Type set) or a
// roster change (Event set).
//
//	{"type":"group_message","group_id":2617047292,"sender_id":2372835507,"content":"你好"}
//	{"type":"friend_message","sender_id":2372835507,"content":"在吗"}
//	{"type":"discuss_message","discuss_id":4118239384,"sender_id":2372835507,"content":"吃啥"}
//	{"type":"sess_message","group_id":2617047292,"sender_id":2373906...,"content":"你好"}
//	{"type":"friend_message","sender_id":2372835507,"content":"看图","media_data":"iVBORw0...","media_name":"a.png","media_mime":"image/png"}
//	{"event":"new_friend","friend":{"id":1,"uid":2,"name":"新朋友"}}
//	{"event":"lose_friend","friend_id":2372835507}
//	{"event":"new_group","group":{"id":1,"uid":2,"name":"新群","role":"attend"}}
//	{"event":"lose_group","group_id":2617063130}
//	{"event":"new_group_member","group_id":2617047292,"member":{"id":1,"uid":2,"name":"新人"}}
//	{"event":"lose_group_member","group_id":2617047292,"member_id":2372835507}
//
// The reply is an InjectReply: {"code":0,"status":"success"} (with "id", the message id, for a
// message) or a {"code":N,"status":"..."} error.
type Injection struct {
	Type      string `json:"type,omitempty"`
	SenderID  int64  `json:"sender_id,omitempty"`
	GroupID   int64  `json:"group_id,omitempty"`
	DiscussID int64  `json:"discuss_id,omitempty"`
	Content   string `json:"content,omitempty"`
	// Time is the message's time in Unix seconds; zero means now.
	Time int64 `json:"time,omitempty"`
	// MediaData is a picture the message carries, base64 (standard encoding), with its file
	// name and MIME type; content gets [图片] where it is.
	MediaData string `json:"media_data,omitempty"`
	MediaName string `json:"media_name,omitempty"`
	MediaMime string `json:"media_mime,omitempty"`

	Event    string       `json:"event,omitempty"`
	Friend   *Friend      `json:"friend,omitempty"`
	FriendID int64        `json:"friend_id,omitempty"`
	Group    *Group       `json:"group,omitempty"`
	Member   *GroupMember `json:"member,omitempty"`
	MemberID int64        `json:"member_id,omitempty"`
}

// InjectReply is the answer to an injection.
type InjectReply struct {
	Code   int    `json:"code"`
	ID     int64  `json:"id,omitempty"`
	Status string `json:"status"`
}
