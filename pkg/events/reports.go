package events

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Message types; a message's subject is qq.events.<type>.
const (
	FriendMessage  = "friend_message"
	GroupMessage   = "group_message"
	DiscussMessage = "discuss_message"
	SessMessage    = "sess_message"
)

// Message classes.
const (
	ClassRecv = "recv"
	ClassSend = "send"
)

// Values of post_type, which tells a bot what kind of item it got.
const (
	PostReceiveMessage = "receive_message"
	PostSendMessage    = "send_message"
	PostEvent          = "event"
)

// Event names; an event's subject is qq.events.<name>.
const (
	EventLogin                     = "login"
	EventStop                      = "stop"
	EventStateChange               = "state_change"
	EventInputQRCode               = "input_qrcode"
	EventNewFriend                 = "new_friend"
	EventLoseFriend                = "lose_friend"
	EventNewGroup                  = "new_group"
	EventLoseGroup                 = "lose_group"
	EventNewGroupMember            = "new_group_member"
	EventLoseGroupMember           = "lose_group_member"
	EventNewDiscuss                = "new_discuss"
	EventLoseDiscuss               = "lose_discuss"
	EventNewDiscussMember          = "new_discuss_member"
	EventLoseDiscussMember         = "lose_discuss_member"
	EventFriendPropertyChange      = "friend_property_change"
	EventGroupPropertyChange       = "group_property_change"
	EventGroupMemberPropertyChange = "group_member_property_change"
	EventUserPropertyChange        = "user_property_change"
	// openqq's extension events (the onebot driver), never in the default post_event_list:
	// someone asks to be a friend, or to join a group (or invites the account to one).
	EventFriendRequest = "friend_request"
	EventGroupRequest  = "group_request"
)

// MessageTypes are the four message types, each a subject of its own.
var MessageTypes = []string{FriendMessage, GroupMessage, DiscussMessage, SessMessage}

// IsMessageType reports whether name is a message type rather than an event name.
func IsMessageType(name string) bool {
	return name == FriendMessage || name == GroupMessage || name == DiscussMessage || name == SessMessage
}

// DefaultPostEventList is the seeds' default post_event_list.
var DefaultPostEventList = []string{
	EventLogin, EventStop, EventStateChange, EventInputQRCode, EventNewGroup, EventNewFriend,
	EventNewGroupMember, EventLoseGroup, EventLoseFriend, EventLoseGroupMember,
}

// ReportedNames are the names of the items post_api gets: every message type, and the events
// of list unless postEvent is false (the seeds' post_event and post_event_list).
func ReportedNames(postEvent bool, list []string) []string {
	names := append([]string(nil), MessageTypes...)
	if !postEvent {
		return names
	}
	seen := map[string]bool{}
	for _, e := range list {
		e = strings.TrimSpace(e)
		if e != "" && !seen[e] && !IsMessageType(e) {
			seen[e] = true
			names = append(names, e)
		}
	}
	return names
}

// CheckEventNames are the names of the items check_event hands out: those of ReportedNames
// but the client's own events, which Mojo never put in the check_event buffer.
func CheckEventNames(postEvent bool, list []string) []string {
	var names []string
	for _, n := range ReportedNames(postEvent, list) {
		switch n {
		case EventLogin, EventStop, EventStateChange, EventInputQRCode:
		default:
			names = append(names, n)
		}
	}
	return names
}

// Message is a message report: the message as Mojo-Webqq's to_json_hash renders it, plus
// post_type. The embedded parts are nil where they do not apply to the message's type, and
// their keys are then absent, as in Mojo.
type Message struct {
	Class    string `json:"class"`
	Content  string `json:"content"`
	ID       int64  `json:"id"`
	PostType string `json:"post_type"`
	Time     int64  `json:"time"`
	Type     string `json:"type"`
	// Via is "group" or "discuss" on a sess message: where the stranger was met.
	Via string `json:"via,omitempty"`
	// From says who asked for a sent message: "api" for an API call, "reply" for a post_api
	// answer. A reply to a report whose From is "reply" is not sent again (Mojo's endless loop).
	From string `json:"from,omitempty"`
	// RawContent is openqq's addition: the message as the QQ implementation gave it (OneBot
	// segments), for clients that want more than the text of content.
	RawContent json.RawMessage `json:"raw_content,omitempty"`
	// Format is openqq's addition for a message with a picture: "media", with Openwx's media
	// fields (Media). Absent on a text message, whose report stays Mojo-Webqq's.
	Format string `json:"format,omitempty"`

	*Sender
	*Receiver
	*GroupRef
	*DiscussRef
	*Media
	*SendResult
}

// Sender names who wrote a message.
type Sender struct {
	Name string `json:"sender"`
	ID   int64  `json:"sender_id"`
	UID  int64  `json:"sender_uid"`
}

// Receiver names who a message was for.
type Receiver struct {
	Name string `json:"receiver"`
	ID   int64  `json:"receiver_id"`
	UID  int64  `json:"receiver_uid"`
}

// GroupRef names the group a message was said in.
type GroupRef struct {
	Name string `json:"group"`
	ID   int64  `json:"group_id"`
	UID  int64  `json:"group_uid"`
}

// DiscussRef names the discuss a message was said in.
type DiscussRef struct {
	Name string `json:"discuss"`
	ID   int64  `json:"discuss_id"`
}

// SendResult is the outcome a sent message carries.
type SendResult struct {
	Code int    `json:"code"`
	Info string `json:"info"`
	// Msg is Mojo's name for the outcome text; Status repeats it under the name the API uses.
	Msg    string `json:"msg"`
	Status string `json:"status"`
}

// Outcome texts of a send, as Mojo-Webqq words them.
const (
	SendOK       = "发送成功"
	SendOKInfo   = "发送正常"
	SendFailed   = "发送失败"
	SendErrInfo  = "发送异常"
	SendNoResult = "响应未知"
)

// Event is an event report: {"event":<name>,"params":[...],"post_type":"event"}.
type Event struct {
	Event    string            `json:"event"`
	Params   []json.RawMessage `json:"params"`
	PostType string            `json:"post_type"`
}

// NewEvent builds an event report, encoding each parameter. An event without parameters has
// "params":[] (never null).
func NewEvent(name string, params ...any) (*Event, error) {
	ev := &Event{Event: name, PostType: PostEvent, Params: make([]json.RawMessage, 0, len(params))}
	for i, p := range params {
		b, err := Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("event %s: param %d: %w", name, i, err)
		}
		ev.Params = append(ev.Params, b)
	}
	return ev, nil
}

// Item is what the stream carries: a message report or an event report.
type Item interface {
	// Name is the last token of the item's subject.
	Name() string
}

// Name is the message's type.
func (m *Message) Name() string { return m.Type }

// Name is the event's name.
func (e *Event) Name() string { return e.Event }

// DecodeItem decodes a report by its post_type.
func DecodeItem(data []byte) (Item, error) {
	var head struct {
		PostType string `json:"post_type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	var it Item
	switch head.PostType {
	case PostReceiveMessage, PostSendMessage:
		it = &Message{}
	case PostEvent:
		it = &Event{}
	default:
		return nil, fmt.Errorf("decode report: unknown post_type %q", head.PostType)
	}
	if err := json.Unmarshal(data, it); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return it, nil
}
