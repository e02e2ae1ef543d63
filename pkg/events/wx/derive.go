package wx

// The derived fields of a message report (sender_*, receiver_*, group_*), from the roster
// objects, as Mojo-Weixin's to_json_hash derives them: sender is the displayname,
// sender_name the nickname, sender_category only for a friend.

// FriendSender names a friend who wrote a message.
func FriendSender(f *Friend) *Sender {
	return &Sender{Name: f.DisplayName(), Account: f.Account, Category: f.Category, ID: f.ID, Markname: f.Markname, Nickname: f.Name, UID: f.UID}
}

// MemberSender names a group member who wrote a message.
func MemberSender(m *Member) *Sender {
	return &Sender{Name: m.DisplayName(), Account: m.Account, ID: m.ID, Markname: m.Markname, Nickname: m.Name, UID: m.UID}
}

// UserSender names the account as the writer of a sent message.
func UserSender(u *User) *Sender {
	return &Sender{Name: u.DisplayName(), Account: u.Account, ID: u.ID, Markname: u.Markname, Nickname: u.Name, UID: u.UID}
}

// FriendReceiver names the friend a sent message was for.
func FriendReceiver(f *Friend) *Receiver {
	return &Receiver{Name: f.DisplayName(), Account: f.Account, ID: f.ID, Markname: f.Markname, Nickname: f.Name, UID: f.UID}
}

// UserReceiver names the account as the receiver of a received message.
func UserReceiver(u *User) *Receiver {
	return &Receiver{Name: u.DisplayName(), Account: u.Account, ID: u.ID, Markname: u.Markname, Nickname: u.Name, UID: u.UID}
}

// GroupRefOf names the group of a group message or notice.
func GroupRefOf(g *Group) *GroupRef {
	return &GroupRef{Name: g.DisplayName(), ID: g.ID, Nickname: g.Name, UID: g.UID}
}

// mediaLabels are the words Mojo-Weixin puts in a media message's content.
var mediaLabels = map[string]string{
	MediaImage: "图片", MediaEmoticon: "表情", MediaMicrovideo: "小视频", MediaVideo: "视频", MediaVoice: "语音", MediaFile: "文件",
}

// MediaContent is a media message's content, as Mojo-Weixin wrote it: "[图片](<path>)".
func MediaContent(mediaType, path string) string {
	label, ok := mediaLabels[mediaType]
	if !ok {
		label = "media"
	}
	return "[" + label + "](" + path + ")"
}
