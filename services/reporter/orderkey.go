package reporter

import (
	"encoding/json"
	"strconv"

	"github.com/openqq/openqq/pkg/events"
)

// accountKey orders every item that is not a message: the client's own events (state_change,
// login, stop, input_qrcode) and the roster's, so that a bot sees the account's life in the
// order it happened.
const accountKey = "account"

// orderKey is the conversation an item belongs to; items of one key are delivered in the
// order they were stored. A friend or sess message goes with its peer (and, for sess, where
// the stranger was met), a group message with its group, a discuss message with its discuss.
func orderKey(item []byte) string {
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
