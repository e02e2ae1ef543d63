package reporter

import (
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// platform is what the reporter does differently for Openqq's reports and Openwx's: how an
// item is decoded, which conversation it belongs to, and what an answer to it turns into.
// Everything else (delivery, order, retries, dead letters, answers applied once, media_data)
// is one mechanism for both.
type platform interface {
	// messageTypes are the platform's message types, each a subject of its own.
	messageTypes() []string
	// isMessageType tells a message type from an event name.
	isMessageType(name string) bool
	// orderKey is the conversation an item belongs to; items of one key are delivered in the
	// order they were stored.
	orderKey(item []byte) string
	// actions are the API calls a receiver's answer to item asks for, in order, and the item's
	// id (for the log and the answers bucket); none for an event or an undecodable item.
	actions(item []byte, a Answer, log *slog.Logger) (id string, calls []apiCall)
}

func newPlatform(name string) platform {
	if name == events.PlatformWX {
		return wxPlatform{}
	}
	return qqPlatform{}
}

// defaultPostEventList is a platform's post_event_list default, defined once by each platform:
// the seeds' for QQ, and Openwx's, which adds friend_request.
func defaultPostEventList(name string) []string {
	if name == events.PlatformWX {
		return wx.DefaultPostEventList
	}
	return events.DefaultPostEventList
}

// accountKey orders every item that is not a message: the client's own events (state_change,
// login, stop, input_qrcode) and the roster's, so that a bot sees the account's life in the
// order it happened.
const accountKey = "account"

// apiCall is one request an answer turns into.
type apiCall struct {
	route  string
	params events.Params
}

// part names the call in the answers bucket, unique among the calls of one answer: its route,
// and more for a media answer, which goes on the same route as the reply.
func (c apiCall) part() string {
	if _, ok := c.params["media_path"]; ok {
		return c.route + ".media"
	}
	if _, ok := c.params["media_id"]; ok {
		return c.route + ".media"
	}
	return c.route
}

// ---- QQ (Openqq) ----

type qqPlatform struct{}

func (qqPlatform) messageTypes() []string { return events.MessageTypes }

func (qqPlatform) isMessageType(name string) bool { return events.IsMessageType(name) }

// orderKey: a friend or sess message goes with its peer (and, for sess, where the stranger was
// met), a group message with its group, a discuss message with its discuss.
func (qqPlatform) orderKey(item []byte) string {
	var h struct {
		PostType   string `json:"post_type"`
		Type       string `json:"type"`
		SenderID   int64  `json:"sender_id"`
		ReceiverID int64  `json:"receiver_id"`
		GroupID    int64  `json:"group_id"`
		DiscussID  int64  `json:"discuss_id"`
	}
	if err := json.Unmarshal(item, &h); err != nil {
		return accountKey
	}
	if h.PostType != events.PostReceiveMessage && h.PostType != events.PostSendMessage {
		return accountKey
	}
	peer := h.SenderID
	if h.PostType == events.PostSendMessage {
		peer = h.ReceiverID
	}
	switch h.Type {
	case events.FriendMessage:
		return "friend." + strconv.FormatInt(peer, 10)
	case events.GroupMessage:
		return "group." + strconv.FormatInt(h.GroupID, 10)
	case events.DiscussMessage:
		return "discuss." + strconv.FormatInt(h.DiscussID, 10)
	case events.SessMessage:
		via := "group." + strconv.FormatInt(h.GroupID, 10)
		if h.GroupID == 0 {
			via = "discuss." + strconv.FormatInt(h.DiscussID, 10)
		}
		return "sess." + strconv.FormatInt(peer, 10) + "." + via
	}
	return accountKey
}

// actions, by Openqq's rules: a reply goes to the conversation the message was in; shutup
// mutes the sender of a received group message; a sent message is answered only with a
// plain-text reply, and never when it was itself an answer. A media answer (Openwx's, an
// extension here: Openqq's was commented out) goes after the reply, by the same rules.
func (qqPlatform) actions(item []byte, a Answer, log *slog.Logger) (string, []apiCall) {
	it, err := events.DecodeItem(item)
	if err != nil {
		return "", nil // not a report we can answer; delivered all the same
	}
	m, ok := it.(*events.Message)
	if !ok {
		return "", nil // Mojo answers messages only
	}
	return itoa(m.ID), qqActions(m, a, log)
}

func qqActions(m *events.Message, a Answer, log *slog.Logger) []apiCall {
	var calls []apiCall
	switch m.PostType {
	case events.PostReceiveMessage:
		if a.Reply != "" {
			if route, p, ok := client.ReplyParams(m, a.Reply); ok {
				calls = append(calls, apiCall{route, p})
			}
		}
		calls = append(calls, qqMediaCalls(m, a, log)...)
		if a.Shutup && m.Type == events.GroupMessage && m.GroupRef != nil && m.Sender != nil {
			calls = append(calls, apiCall{events.RouteShutupGroupMember, events.Params{
				"group_id": itoa(m.GroupRef.ID), "member_id": itoa(m.Sender.ID),
				"seconds": strconv.Itoa(a.ShutupTime),
			}})
		}
	case events.PostSendMessage:
		if m.From == events.FromReply {
			if a.Reply != "" {
				log.Info("not answering an answer (it would loop)", "id", m.ID)
			}
			return nil
		}
		if a.Format == "" || a.Format == "text" {
			if a.Reply != "" {
				if route, p, ok := client.ReplyParams(m, a.Reply); ok {
					calls = append(calls, apiCall{route, p})
				}
			}
			calls = append(calls, qqMediaCalls(m, a, log)...)
		}
	}
	return calls
}

// qqMediaCalls is openqq's extension of Openqq's answers (issue 15): Openwx's media answer,
// sent as a picture in the message's conversation after the reply, by the same rules as
// Openwx's (mediaParam).
func qqMediaCalls(m *events.Message, a Answer, log *slog.Logger) []apiCall {
	if a.Media == "" {
		return nil
	}
	key, ok := mediaParam(a.Media)
	if !ok {
		log.Info("media answer ignored: want an http(s) URL or a media_id", "id", m.ID, "media", a.Media)
		return nil
	}
	route, p, ok := client.ReplyParams(m, "")
	if !ok {
		return nil
	}
	delete(p, "content")
	p[key] = a.Media
	return []apiCall{{route, p}}
}

// ---- WeChat (Openwx) ----

type wxPlatform struct{}

func (wxPlatform) messageTypes() []string { return wx.MessageTypes }

func (wxPlatform) isMessageType(name string) bool { return wx.IsMessageType(name) }

// wxHead is what ordering reads of an Openwx report (every item is read once per partition:
// the ids only, not the whole report): ids are strings, "@…" for contacts and "@@…" for
// groups, which change at every QR login.
type wxHead struct {
	PostType   string `json:"post_type"`
	Type       string `json:"type"`
	SenderID   string `json:"sender_id"`
	ReceiverID string `json:"receiver_id"`
	GroupID    string `json:"group_id"`
}

// orderKey: a friend message goes with its peer (the sender of a received one, the receiver of a
// sent one), a group message and a group notice with their group.
func (wxPlatform) orderKey(item []byte) string {
	var h wxHead
	if err := json.Unmarshal(item, &h); err != nil {
		return accountKey
	}
	if h.PostType != events.PostReceiveMessage && h.PostType != events.PostSendMessage {
		return accountKey
	}
	switch h.Type {
	case wx.FriendMessage:
		if h.PostType == events.PostSendMessage {
			return "friend." + h.ReceiverID
		}
		return "friend." + h.SenderID
	case wx.GroupMessage, wx.GroupNotice:
		return "group." + h.GroupID
	}
	return accountKey
}

// actions, by Openwx's rules (MOJO-OPENWX.md §2.3): a reply and a media answer go to the
// conversation, the text first; a group notice is not answered; there is no shutup; a sent
// message is answered only when the answer's format is absent or text, and never when it was
// itself an answer.
func (wxPlatform) actions(item []byte, a Answer, log *slog.Logger) (string, []apiCall) {
	it, err := wx.Decode(item)
	if err != nil {
		return "", nil
	}
	m, ok := it.(*wx.Message)
	if !ok {
		return "", nil // Openwx answers messages only
	}
	if m.From == wx.FromReply {
		if a.Reply != "" || a.Media != "" {
			log.Info("not answering an answer (it would loop)", "id", m.ID)
		}
		return m.ID, nil
	}
	if m.PostType == events.PostSendMessage && a.Format != "" && a.Format != "text" {
		return m.ID, nil
	}
	var route, to string
	switch {
	case m.Type == wx.FriendMessage && m.PostType == events.PostSendMessage && m.Receiver != nil:
		route, to = wx.RouteSendFriendMessage, m.Receiver.ID
	case m.Type == wx.FriendMessage && m.PostType == events.PostReceiveMessage && m.Sender != nil:
		route, to = wx.RouteSendFriendMessage, m.Sender.ID
	case m.Type == wx.GroupMessage && m.GroupRef != nil:
		route, to = wx.RouteSendGroupMessage, m.GroupRef.ID
	default:
		return m.ID, nil // group_notice cannot be replied to
	}
	if to == "" {
		return m.ID, nil
	}
	var calls []apiCall
	if a.Reply != "" {
		calls = append(calls, apiCall{route, events.Params{"id": to, "content": a.Reply}})
	}
	if a.Media != "" {
		key, ok := mediaParam(a.Media)
		if !ok {
			log.Info("media answer ignored: want an http(s) URL or a media_id", "id", m.ID, "media", a.Media)
			return m.ID, calls
		}
		calls = append(calls, apiCall{route, events.Params{"id": to, key: a.Media}})
	}
	return m.ID, calls
}

// mediaParam is the send parameter a media answer goes in: media_path for an http(s) URL,
// media_id for an id of the media store. A local path or any other scheme is not followed
// (Openwx.pm ignores them too): a receiver must not make the account send the host's files.
func mediaParam(v string) (string, bool) {
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://"):
		return "media_path", true
	case strings.Contains(v, "://") || strings.ContainsAny(v, "/\\ \t\r\n"):
		return "", false
	}
	return "media_id", true
}
