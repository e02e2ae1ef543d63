package wechaty

import (
	"encoding/json"
	"errors"
	"fmt"

	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
)

// The JSON payloads of the puppet's events (EventResponse.payload), as wechaty-puppet's
// schemas/event.ts defines them.

// Scan statuses (wechaty-puppet ScanStatus).
const (
	scanUnknown   = 0
	scanCancel    = 1
	scanWaiting   = 2
	scanScanned   = 3
	scanConfirmed = 4
	scanTimeout   = 5
)

type scanPayload struct {
	QRCode string `json:"qrcode"`
	Status int    `json:"status"`
	Data   string `json:"data"`
}

type loginPayload struct {
	ContactID string `json:"contactId"`
}

type messagePayload struct {
	MessageID string `json:"messageId"`
}

type roomJoinPayload struct {
	InviteeIDList []string `json:"inviteeIdList"`
	InviterID     string   `json:"inviterId"`
	RoomID        string   `json:"roomId"`
	Timestamp     float64  `json:"timestamp"`
}

type roomLeavePayload struct {
	RemoveeIDList []string `json:"removeeIdList"`
	RemoverID     string   `json:"removerId"`
	RoomID        string   `json:"roomId"`
	Timestamp     float64  `json:"timestamp"`
}

type roomTopicPayload struct {
	ChangerID string  `json:"changerId"`
	NewTopic  string  `json:"newTopic"`
	OldTopic  string  `json:"oldTopic"`
	RoomID    string  `json:"roomId"`
	Timestamp float64 `json:"timestamp"`
}

// dirtyPayload: the puppet's copy of an object changed (payload types as base.proto's
// PayloadType: 2 contact, 3 room).
type dirtyPayload struct {
	PayloadType int    `json:"payloadType"`
	PayloadID   string `json:"payloadId"`
}

const (
	dirtyContact = 2
	dirtyRoom    = 3
)

type friendshipPayload struct {
	FriendshipID string `json:"friendshipId"`
}

// errMalformed marks an event whose payload is not what its type says: it is logged and
// skipped.
var errMalformed = errors.New("malformed event payload")

// decodeEvent decodes an event's payload into the struct of its type, and checks the ids it
// must carry. Events the driver does not use (dong, heartbeat, ready, error, dirty, ...)
// decode to nil.
func decodeEvent(e *pb.EventResponse) (any, error) {
	var v any
	var need func() bool
	switch e.GetType() {
	case pb.EventType_EVENT_TYPE_SCAN:
		p := &scanPayload{}
		v, need = p, func() bool { return p.Status >= scanUnknown && p.Status <= scanTimeout }
	case pb.EventType_EVENT_TYPE_LOGIN:
		p := &loginPayload{}
		v, need = p, func() bool { return p.ContactID != "" }
	case pb.EventType_EVENT_TYPE_LOGOUT:
		p := &loginPayload{}
		v, need = p, func() bool { return true }
	case pb.EventType_EVENT_TYPE_MESSAGE:
		p := &messagePayload{}
		v, need = p, func() bool { return p.MessageID != "" }
	case pb.EventType_EVENT_TYPE_ROOM_JOIN:
		p := &roomJoinPayload{}
		v, need = p, func() bool { return p.RoomID != "" && len(p.InviteeIDList) > 0 && !hasEmpty(p.InviteeIDList) }
	case pb.EventType_EVENT_TYPE_ROOM_LEAVE:
		p := &roomLeavePayload{}
		v, need = p, func() bool { return p.RoomID != "" && len(p.RemoveeIDList) > 0 && !hasEmpty(p.RemoveeIDList) }
	case pb.EventType_EVENT_TYPE_ROOM_TOPIC:
		p := &roomTopicPayload{}
		v, need = p, func() bool { return p.RoomID != "" }
	case pb.EventType_EVENT_TYPE_FRIENDSHIP:
		p := &friendshipPayload{}
		v, need = p, func() bool { return p.FriendshipID != "" }
	case pb.EventType_EVENT_TYPE_DIRTY:
		p := &dirtyPayload{}
		v, need = p, func() bool { return p.PayloadID != "" }
	default:
		return nil, nil
	}
	if err := json.Unmarshal([]byte(e.GetPayload()), v); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errMalformed, e.GetType(), err)
	}
	if !need() {
		return nil, fmt.Errorf("%w: %s: a field it needs is missing: %.200s", errMalformed, e.GetType(), e.GetPayload())
	}
	return v, nil
}

func hasEmpty(ids []string) bool {
	for _, id := range ids {
		if id == "" {
			return true
		}
	}
	return false
}
