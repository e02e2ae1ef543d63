package wx

import (
	"strings"

	"github.com/openqq/openqq/pkg/events"
)

// The roster objects, as Mojo-Weixin's Model::Base to_json_hash renders them: every attribute,
// plus displayname, which Mojo derives and this package derives too, when an object is
// encoded (the Displayname fields only carry what a decoded report said). Fields are declared
// in sorted order so that the JSON keys come out sorted, as Mojo::JSON wrote them.
//
// Ids are WeChat's session ids: "@<hex>" for contacts, "@@<hex>" for groups, "filehelper"
// and a few others for system accounts. They change at every QR login.

// Categories of a friend (Friend.Category).
const (
	CategoryFriend   = "好友"   // a person
	CategoryOfficial = "公众号"  // an official account (VerifyFlag&8)
	CategorySystem   = "系统帐号" // filehelper, weixin, ...
)

// FileHelperID is the id of the file assistant (文件传输助手), the same at every login.
const FileHelperID = "filehelper"

// Sex values, as Mojo-Weixin maps WeChat's 1 and 2; "" when unknown.
const (
	SexMale   = "male"
	SexFemale = "female"
)

// The names Mojo falls back to when nothing names an object.
const (
	UnknownNickname  = "昵称未知"
	UnknownGroupName = "群名未知"
)

// User is the logged-in account.
type User struct {
	Account     string `json:"account"`
	City        string `json:"city"`
	Display     string `json:"display"`
	Displayname string `json:"displayname"`
	ID          string `json:"id"`
	Markname    string `json:"markname"`
	Name        string `json:"name"`
	Province    string `json:"province"`
	Sex         string `json:"sex"`
	Signature   string `json:"signature"`
	UID         string `json:"uid"`
}

// DisplayName is what Mojo shows: display, else markname, else name, else 昵称未知.
func (u *User) DisplayName() string { return displayName(u.Display, u.Markname, u.Name) }

// MarshalJSON writes the user with its derived displayname.
func (u User) MarshalJSON() ([]byte, error) {
	type plain User
	u.Displayname = u.DisplayName()
	return events.Marshal(plain(u))
}

// Friend is one entry of the contact list: a person, an official account or a system account.
type Friend struct {
	Account     string `json:"account"`
	Category    string `json:"category"`
	City        string `json:"city"`
	Display     string `json:"display"`
	Displayname string `json:"displayname"`
	ID          string `json:"id"`
	Markname    string `json:"markname"`
	Name        string `json:"name"`
	Province    string `json:"province"`
	Sex         string `json:"sex"`
	Signature   string `json:"signature"`
	UID         string `json:"uid"`
}

// DisplayName is what Mojo shows: display, else markname, else name, else 昵称未知.
func (f *Friend) DisplayName() string { return displayName(f.Display, f.Markname, f.Name) }

// MarshalJSON writes the friend with its derived displayname.
func (f Friend) MarshalJSON() ([]byte, error) {
	type plain Friend
	f.Displayname = f.DisplayName()
	return events.Marshal(plain(f))
}

// Member is a member of a group. Members who are not friends have ids too, in the same
// space: a friend who is in a group has the same id as friend and as member.
type Member struct {
	Account     string `json:"account"`
	City        string `json:"city"`
	Display     string `json:"display"`
	Displayname string `json:"displayname"`
	ID          string `json:"id"`
	Markname    string `json:"markname"`
	Name        string `json:"name"`
	Province    string `json:"province"`
	Sex         string `json:"sex"`
	Signature   string `json:"signature"`
	UID         string `json:"uid"`
}

// DisplayName is what Mojo shows: the group nickname (display), else markname, else name,
// else 昵称未知.
func (m *Member) DisplayName() string { return displayName(m.Display, m.Markname, m.Name) }

// MarshalJSON writes the member with its derived displayname.
func (m Member) MarshalJSON() ([]byte, error) {
	type plain Member
	m.Displayname = m.DisplayName()
	return events.Marshal(plain(m))
}

// Group is a group chat. Member is omitted from the JSON only when it is nil, which is how
// get_group_basic_info renders groups; a group without members has an empty, non-nil Member.
type Group struct {
	Displayname string   `json:"displayname"`
	ID          string   `json:"id"`
	Member      []Member `json:"member,omitzero"`
	Name        string   `json:"name"`
	OwnerUID    string   `json:"owner_uid"`
	UID         string   `json:"uid"`
}

// DisplayName is what Mojo shows: the name, else the first three members' names joined with
// 、, else 群名未知.
func (g *Group) DisplayName() string {
	if g.Name != "" {
		return g.Name
	}
	if len(g.Member) > 0 {
		names := make([]string, 0, 3)
		for i := range g.Member[:min(3, len(g.Member))] {
			names = append(names, g.Member[i].DisplayName())
		}
		return strings.Join(names, "、")
	}
	if g.Displayname != "" {
		// A group decoded without its members (get_group_basic_info) keeps the name it came
		// with.
		return g.Displayname
	}
	return UnknownGroupName
}

// MarshalJSON writes the group with its derived displayname.
func (g Group) MarshalJSON() ([]byte, error) {
	type plain Group
	g.Displayname = g.DisplayName()
	return events.Marshal(plain(g))
}

// Basic is the group without its members, as get_group_basic_info renders it; the
// displayname is still derived from them.
func (g *Group) Basic() Group {
	b := *g
	b.Displayname = g.DisplayName()
	b.Member = nil
	return b
}

func displayName(display, markname, name string) string {
	switch {
	case display != "":
		return display
	case markname != "":
		return markname
	case name != "":
		return name
	}
	return UnknownNickname
}

// IsGroupID reports whether id names a group, as Mojo-Weixin's is_group_id: ^@@ or @chatroom$.
func IsGroupID(id string) bool {
	return strings.HasPrefix(id, "@@") || strings.HasSuffix(id, "@chatroom")
}

// JoinMsgID builds the id a send reply and a send_message report carry, and revoke_message
// takes: "<MsgID>:<peer id>", the peer being the friend or the group the message went to.
func JoinMsgID(msgID, peerID string) string { return msgID + ":" + peerID }

// SplitMsgID splits an id of JoinMsgID. The peer id may itself hold colons (it never starts
// with a digit, the MsgID never holds one), so the split is at the first colon.
func SplitMsgID(id string) (msgID, peerID string, ok bool) {
	msgID, peerID, ok = strings.Cut(id, ":")
	if !ok || msgID == "" || peerID == "" {
		return "", "", false
	}
	return msgID, peerID, true
}
