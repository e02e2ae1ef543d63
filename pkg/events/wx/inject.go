package wx

// Injection is the body of a request on wx.sim.inject: what a driver that takes injections
// (the simulated account) is to "receive": a message (Type set), a roster change or a friend
// request (Event set). Ids are the ids of the current login.
//
// Messages (format text unless said; source "outer" makes it a message the account sent
// from its phone, to receiver_id or group_id):
//
//	{"type":"friend_message","sender_id":"@a1…","content":"在吗"}
//	{"type":"group_message","group_id":"@@b2…","sender_id":"@c3…","content":"大家好"}
//	{"type":"group_notice","group_id":"@@b2…","content":"你邀请灰太狼加入了群聊"}
//	{"type":"friend_message","sender_id":"@a1…","format":"media","media_type":"image",
//	 "media_name":"cat.jpg","media_mime":"image/jpeg","media_data":"<base64>"}
//	{"type":"friend_message","sender_id":"@a1…","format":"app","app_title":"饿了么给你发红包",
//	 "app_url":"https://h.ele.me/hongbao","app_name":"饿了么","app_id":"wx123456","app_desc":"…"}
//	{"type":"friend_message","sender_id":"@a1…","format":"card","card_name":"小冰","card_account":"ms-xiaoice"}
//	{"type":"friend_message","sender_id":"@a1…","format":"revoke","revoke_id":"1234567890"}
//	{"type":"friend_message","sender_id":"@a1…","format":"payment","content":"[转账](收到转账0.01元)"}
//	{"type":"friend_message","source":"outer","receiver_id":"@a1…","content":"手机上发的"}
//
// Roster changes and requests:
//
//	{"event":"new_friend","friend":{"name":"新朋友","account":"newbie"}}   (the sim gives the id)
//	{"event":"lose_friend","friend_id":"@a1…"}
//	{"event":"new_group","group":{"name":"新群","member":[{"name":"甲"}]}}
//	{"event":"lose_group","group_id":"@@b2…"}
//	{"event":"new_group_member","group_id":"@@b2…","member":{"name":"新人"}}
//	{"event":"lose_group_member","group_id":"@@b2…","member_id":"@c3…"}
//	{"event":"friend_property_change","friend_id":"@a1…","property":"signature","value":"新签名"}
//	{"event":"group_property_change","group_id":"@@b2…","property":"name","value":"新群名"}
//	{"event":"group_member_property_change","group_id":"@@b2…","member_id":"@c3…","property":"display","value":"群昵称"}
//	{"event":"user_property_change","property":"signature","value":"我的新签名"}
//	{"event":"friend_request","friend":{"name":"陌生人"},"verify":"我是陌生人"}
//
// The reply is an InjectReply.
type Injection struct {
	Type       string `json:"type,omitempty"`
	Format     string `json:"format,omitempty"`
	Source     string `json:"source,omitempty"`
	SenderID   string `json:"sender_id,omitempty"`
	ReceiverID string `json:"receiver_id,omitempty"`
	GroupID    string `json:"group_id,omitempty"`
	Content    string `json:"content,omitempty"`
	// Time is the message's time in Unix seconds; zero means now.
	Time int64 `json:"time,omitempty"`

	// A media message's file: its bytes (base64 in JSON), name and MIME type; MediaType
	// defaults to what the MIME type says (MediaTypeOf).
	MediaType string `json:"media_type,omitempty"`
	MediaName string `json:"media_name,omitempty"`
	MediaMime string `json:"media_mime,omitempty"`
	MediaData []byte `json:"media_data,omitempty"`

	*App
	*Card
	RevokeID string `json:"revoke_id,omitempty"`

	Event    string  `json:"event,omitempty"`
	Friend   *Friend `json:"friend,omitempty"`
	FriendID string  `json:"friend_id,omitempty"`
	Group    *Group  `json:"group,omitempty"`
	Member   *Member `json:"member,omitempty"`
	MemberID string  `json:"member_id,omitempty"`
	Property string  `json:"property,omitempty"`
	Value    string  `json:"value,omitempty"`
	Verify   string  `json:"verify,omitempty"`
}

// InjectReply is the answer to an injection: {"code":0,"status":"success"} with the message's
// id for a message, the new object's id for a new_* change, and the ticket of a friend request;
// or a {"code":N,"status":"..."} error.
type InjectReply struct {
	Code   int    `json:"code"`
	ID     string `json:"id,omitempty"`
	Status string `json:"status"`
	Ticket string `json:"ticket,omitempty"`
}
