package client

import (
	"encoding/json"
	"fmt"

	"github.com/openqq/openqq/pkg/events"
)

// Item is a message or event report, decoded: exactly one of Message and Event is set.
type Item struct {
	// Subject is what it was published on (qq.events.<name>); empty for check_event's items.
	Subject string
	// Name is the message type or the event name.
	Name string
	// Seq is its sequence in the stream; 0 when it came live.
	Seq uint64
	// Data is the report as published, the JSON post_api gets.
	Data []byte

	Message *events.Message
	Event   *events.Event
}

// DecodeItem decodes a report published on subject (which may be empty).
func DecodeItem(subject string, data []byte) (*Item, error) {
	it, err := events.DecodeItem(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	out := &Item{Subject: subject, Name: it.Name(), Data: data}
	switch v := it.(type) {
	case *events.Message:
		out.Message = v
	case *events.Event:
		out.Event = v
	}
	return out, nil
}

// Params decodes an event's parameters into dst, in order: a state_change into two
// *events.State, a new_group_member into *events.GroupMember and *events.Group, and so on
// (shared/COMPAT.md lists each event's). Fewer dst than parameters decodes the first ones.
func (it *Item) Params(dst ...any) error {
	if it.Event == nil {
		return fmt.Errorf("%s is a message, not an event", it.Name)
	}
	if len(dst) > len(it.Event.Params) {
		return fmt.Errorf("event %s has %d parameters, not %d", it.Name, len(it.Event.Params), len(dst))
	}
	for i, d := range dst {
		if err := json.Unmarshal(it.Event.Params[i], d); err != nil {
			return fmt.Errorf("event %s: parameter %d: %w", it.Name, i, err)
		}
	}
	return nil
}
