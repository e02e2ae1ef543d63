package wx

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/openqq/openqq/pkg/events"
)

// Message types; a message's subject is wx.events.<type>. group_notice is a received group
// system line ("你邀请灰太狼加入了群聊"): it has no sender and cannot be replied to.
const (
	FriendMessage = events.FriendMessage
	GroupMessage  = events.GroupMessage
	GroupNotice   = "group_notice"
)

// MessageTypes are the three message types, each a subject of its own.
var MessageTypes = []string{FriendMessage, GroupMessage, GroupNotice}

// IsMessageType reports whether name is a message type rather than an event name.
func IsMessageType(name string) bool {
	return name == FriendMessage || name == GroupMessage || name == GroupNotice
}

// Formats of a message (Message.Format).
const (
	FormatText    = "text"
	FormatMedia   = "media"
	FormatApp     = "app"
	FormatRevoke  = "revoke"
	FormatCard    = "card"
	FormatPayment = "payment"
)

// Formats lists every format.
var Formats = []string{FormatText, FormatMedia, FormatApp, FormatRevoke, FormatCard, FormatPayment}

// Media types (Media.Type) and WeChat's MsgType code of each (Media.Code).
const (
	MediaImage      = "image"
	MediaEmoticon   = "emoticon"
	MediaMicrovideo = "microvideo"
	MediaVideo      = "video"
	MediaVoice      = "voice"
	MediaFile       = "file"
)

// MediaCodes maps a media type to WeChat's MsgType code, which media ids end with.
var MediaCodes = map[string]int{
	MediaImage: 3, MediaEmoticon: 47, MediaMicrovideo: 62, MediaVideo: 43, MediaVoice: 34, MediaFile: 6,
}

// MediaTypeOf guesses the media type of a MIME type, as Mojo-Weixin does when it sends a file:
// images (gif ones are emoticons), videos, voices; anything else is a file.
func MediaTypeOf(mime string) string {
	switch {
	case mime == "image/gif":
		return MediaEmoticon
	case strings.HasPrefix(mime, "image/"):
		return MediaImage
	case strings.HasPrefix(mime, "video/"):
		return MediaVideo
	case strings.HasPrefix(mime, "audio/"):
		return MediaVoice
	}
	return MediaFile
}

// Message sources (Message.Source).
const (
	SourceLocal = "local" // received, or sent through this API
	SourceOuter = "outer" // sent from another device (the phone)
)

// Values of Message.From, who asked for a sent message.
const (
	FromAPI   = "api"   // an API call
	FromReply = "reply" // a post_api answer: never answered again (Mojo's loop)
)

// StatusOuter is the status of a message sent from another device.
const StatusOuter = "来自其他设备"

// Extension of the event names of package events, for WeChat.
const (
	EventUpdateUser   = "update_user"
	EventUpdateFriend = "update_friend"
	EventUpdateGroup  = "update_group"
)

// DefaultPostEventList is Openwx's code default post_event_list (MOJO-OPENWX.md §2.1): the
// seed's four and the roster changes and friend requests.
var DefaultPostEventList = []string{
	events.EventLogin, events.EventStop, events.EventStateChange, events.EventInputQRCode,
	events.EventNewGroup, events.EventNewFriend, events.EventNewGroupMember, events.EventLoseGroup,
	events.EventLoseFriend, events.EventLoseGroupMember, events.EventFriendRequest,
}

// ReportedNames are the names of the items post_api gets: every message type, and the events
// of list unless postEvent is false.
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

// CheckEventNames are the names check_event hands out: those of ReportedNames but the
// client's own events and the update_* ones, which Openwx never put in its buffer.
func CheckEventNames(postEvent bool, list []string) []string {
	var names []string
	for _, n := range ReportedNames(postEvent, list) {
		switch n {
		case events.EventLogin, events.EventStop, events.EventStateChange, events.EventInputQRCode,
			EventUpdateUser, EventUpdateFriend, EventUpdateGroup:
		default:
			names = append(names, n)
		}
	}
	return names
}

// Message is a receive_message or send_message report: the message as Mojo-Weixin's
// Message::Base to_json_hash renders it, plus post_type. The embedded parts are nil where they
// do not apply, and their keys are then absent, as in Mojo: no Sender on a group_notice, no
// Receiver on a sent group message, a GroupRef on group messages and notices, and the part of
// the message's format.
type Message struct {
	Class    string `json:"class"`
	Content  string `json:"content"`
	Format   string `json:"format"`
	From     string `json:"from"`
	ID       string `json:"id"`
	PostType string `json:"post_type"`
	Source   string `json:"source"`
	Time     int64  `json:"time"`
	Type     string `json:"type"`
	// UID is the message's uid in Mojo's list of plain attributes: "" (WeChat gives none).
	UID string `json:"uid"`

	*Sender
	*Receiver
	*GroupRef
	*Media
	*App
	*Revoke
	*Card
	*SendResult
}

// Name is the message's type.
func (m *Message) Name() string { return m.Type }

var _ events.Item = (*Message)(nil)

// Sender names who wrote a message. Category is there for friend senders only.
type Sender struct {
	Name     string `json:"sender"`
	Account  string `json:"sender_account"`
	Category string `json:"sender_category,omitempty"`
	ID       string `json:"sender_id"`
	Markname string `json:"sender_markname"`
	Nickname string `json:"sender_name"`
	UID      string `json:"sender_uid"`
}

// Receiver names who a message was for.
type Receiver struct {
	Name     string `json:"receiver"`
	Account  string `json:"receiver_account"`
	ID       string `json:"receiver_id"`
	Markname string `json:"receiver_markname"`
	Nickname string `json:"receiver_name"`
	UID      string `json:"receiver_uid"`
}

// GroupRef names the group a message was said in.
type GroupRef struct {
	Name     string `json:"group"`
	ID       string `json:"group_id"`
	Nickname string `json:"group_name"`
	UID      string `json:"group_uid"`
}

// Media is a media message's file: the one definition both platforms' reports share
// (events.Media). Its media_data is added by the reporter, never stored in the stream.
type Media = events.Media

// App is a shared link or mini-program card (format app).
type App struct {
	Desc  string `json:"app_desc"`
	ID    string `json:"app_id"`
	Name  string `json:"app_name"`
	Title string `json:"app_title"`
	URL   string `json:"app_url"`
}

// Revoke names the message a revoke message withdrew (format revoke).
type Revoke struct {
	ID string `json:"revoke_id"`
}

// Card is a shared contact card (format card).
type Card struct {
	Account  string `json:"card_account"`
	Avatar   string `json:"card_avatar"`
	City     string `json:"card_city"`
	ID       string `json:"card_id"`
	Name     string `json:"card_name"`
	Province string `json:"card_province"`
	Sex      string `json:"card_sex"`
}

// SendResult is the outcome a sent message carries: code 0 or WeChat's BaseResponse.Ret,
// and its text under Mojo's names (info, msg) and the API's (status).
type SendResult struct {
	Code   int    `json:"code"`
	Info   string `json:"info"`
	Msg    string `json:"msg"`
	Status string `json:"status"`
	TTL    int    `json:"ttl"`
}

// Outcome texts of a send, as Mojo-Weixin words them.
const (
	SendOK      = "success"
	SendUnknown = "unknown error"
)

// Decode decodes a report of the WeChat platform by its post_type: a *Message or an
// *events.Event. It reads what the stream stores and what post_api gets.
func Decode(data []byte) (events.Item, error) {
	var head struct {
		PostType string `json:"post_type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode wx report: %w", err)
	}
	var it events.Item
	switch head.PostType {
	case events.PostReceiveMessage, events.PostSendMessage:
		it = &Message{}
	case events.PostEvent:
		it = &events.Event{}
	default:
		return nil, fmt.Errorf("decode wx report: unknown post_type %q", head.PostType)
	}
	if err := json.Unmarshal(data, it); err != nil {
		return nil, fmt.Errorf("decode wx report: %w", err)
	}
	return it, nil
}
