package client_test

import (
	"reflect"
	"testing"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// A reply goes where post_api's {"reply":...} goes: to the person of a friend or sess message
// (the sender of a received one, the receiver of a sent one), to the group or discuss of the
// others.
func TestReplyParams(t *testing.T) {
	sender := &events.Sender{ID: 11}
	receiver := &events.Receiver{ID: 22}
	group := &events.GroupRef{ID: 33}
	discuss := &events.DiscussRef{ID: 44}
	recv, sent := events.PostReceiveMessage, events.PostSendMessage
	tests := []struct {
		name  string
		m     events.Message
		route string
		p     events.Params
	}{
		{"friend received", events.Message{Type: events.FriendMessage, PostType: recv, Sender: sender, Receiver: receiver},
			events.RouteSendFriendMessage, events.Params{"id": "11"}},
		{"friend sent", events.Message{Type: events.FriendMessage, PostType: sent, Sender: sender, Receiver: receiver},
			events.RouteSendFriendMessage, events.Params{"id": "22"}},
		{"group", events.Message{Type: events.GroupMessage, PostType: recv, Sender: sender, GroupRef: group},
			events.RouteSendGroupMessage, events.Params{"id": "33"}},
		{"discuss", events.Message{Type: events.DiscussMessage, PostType: sent, Sender: sender, DiscussRef: discuss},
			events.RouteSendDiscussMessage, events.Params{"id": "44"}},
		{"sess in a group", events.Message{Type: events.SessMessage, PostType: recv, Sender: sender, GroupRef: group},
			events.RouteSendSessMessage, events.Params{"id": "11", "group_id": "33"}},
		{"sess in a discuss", events.Message{Type: events.SessMessage, PostType: recv, Sender: sender, DiscussRef: discuss},
			events.RouteSendSessMessage, events.Params{"id": "11", "discuss_id": "44"}},
		{"sess met nowhere", events.Message{Type: events.SessMessage, PostType: recv, Sender: sender}, "", nil},
		{"friend without sender", events.Message{Type: events.FriendMessage, PostType: recv}, "", nil},
		{"group without group", events.Message{Type: events.GroupMessage, PostType: recv, Sender: sender}, "", nil},
		{"unknown type", events.Message{Type: "x", PostType: recv, Sender: sender}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			route, p, ok := client.ReplyParams(&tc.m, "答")
			if tc.route == "" {
				if ok {
					t.Errorf("addressed %s %v, want no one", route, p)
				}
				return
			}
			tc.p["content"] = "答"
			if !ok || route != tc.route || !reflect.DeepEqual(p, tc.p) {
				t.Errorf("got %s %v %v, want %s %v", route, p, ok, tc.route, tc.p)
			}
		})
	}
}
