package wechaty

import (
	"context"
	"errors"
	"fmt"
	"testing"

	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
)

func TestDecodeEvent(t *testing.T) {
	cases := []struct {
		name    string
		typ     pb.EventType
		payload string
		want    any
		bad     bool
	}{
		{"scan", pb.EventType_EVENT_TYPE_SCAN, `{"qrcode":"https://login.weixin.qq.com/l/x","status":2}`, &scanPayload{QRCode: "https://login.weixin.qq.com/l/x", Status: 2}, false},
		{"login", pb.EventType_EVENT_TYPE_LOGIN, `{"contactId":"wxid_a"}`, &loginPayload{ContactID: "wxid_a"}, false},
		{"login without id", pb.EventType_EVENT_TYPE_LOGIN, `{}`, nil, true},
		{"message", pb.EventType_EVENT_TYPE_MESSAGE, `{"messageId":"m1"}`, &messagePayload{MessageID: "m1"}, false},
		{"message id a number", pb.EventType_EVENT_TYPE_MESSAGE, `{"messageId":1}`, nil, true},
		{"room join", pb.EventType_EVENT_TYPE_ROOM_JOIN, `{"inviteeIdList":["a"],"inviterId":"b","roomId":"r","timestamp":1}`, &roomJoinPayload{InviteeIDList: []string{"a"}, InviterID: "b", RoomID: "r", Timestamp: 1}, false},
		{"room join nobody", pb.EventType_EVENT_TYPE_ROOM_JOIN, `{"inviteeIdList":[],"roomId":"r"}`, nil, true},
		{"room leave", pb.EventType_EVENT_TYPE_ROOM_LEAVE, `{"removeeIdList":["a"],"removerId":"b","roomId":"r"}`, &roomLeavePayload{RemoveeIDList: []string{"a"}, RemoverID: "b", RoomID: "r"}, false},
		{"room topic", pb.EventType_EVENT_TYPE_ROOM_TOPIC, `{"changerId":"a","newTopic":"n","oldTopic":"o","roomId":"r"}`, &roomTopicPayload{ChangerID: "a", NewTopic: "n", OldTopic: "o", RoomID: "r"}, false},
		{"friendship", pb.EventType_EVENT_TYPE_FRIENDSHIP, `{"friendshipId":"f"}`, &friendshipPayload{FriendshipID: "f"}, false},
		{"dirty", pb.EventType_EVENT_TYPE_DIRTY, `{"payloadType":2,"payloadId":"c"}`, &dirtyPayload{PayloadType: 2, PayloadID: "c"}, false},
		{"not json", pb.EventType_EVENT_TYPE_MESSAGE, `{not json`, nil, true},
		{"dong", pb.EventType_EVENT_TYPE_DONG, `{"data":"x"}`, nil, false},
		{"unknown type", pb.EventType(99), `garbage`, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := decodeEvent(&pb.EventResponse{Type: c.typ, Payload: c.payload})
			if c.bad {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("err %v, want errMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.want == nil {
				if got != nil {
					t.Fatalf("got %+v, want nothing", got)
				}
				return
			}
			if g, w := sprint(got), sprint(c.want); g != w {
				t.Fatalf("got %s, want %s", g, w)
			}
		})
	}
}

func sprint(v any) string { return fmt.Sprintf("%#v", v) }

// The decoder never panics, and what it accepts carries the ids its type needs. Seeds: the
// payloads of wechaty-puppet's event schemas (schemas/event.ts) and the spec's
// EventResponse{type:EVENT_TYPE_MESSAGE,payload:"{\"messageId\":…}"}.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []struct {
		t int32
		p string
	}{
		{22, `{"qrcode":"https://login.weixin.qq.com/l/abc","status":2,"data":""}`},
		{22, `{"status":3}`},
		{25, `{"contactId":"wxid_self"}`},
		{26, `{"contactId":"wxid_self","data":"logout"}`},
		{2, `{"messageId":"4213"}`},
		{19, `{"inviteeIdList":["wxid_a"],"inviterId":"wxid_b","roomId":"123@chatroom","timestamp":1700000000}`},
		{20, `{"removeeIdList":["wxid_a"],"removerId":"wxid_b","roomId":"123@chatroom","timestamp":1700000000}`},
		{21, `{"changerId":"wxid_b","newTopic":"新","oldTopic":"旧","roomId":"123@chatroom","timestamp":1700000000}`},
		{17, `{"friendshipId":"f1"}`},
		{27, `{"payloadType":2,"payloadId":"wxid_a"}`},
		{1, `{"data":"heartbeat"}`},
		{3, `{"data":"dong"}`},
		{2, `{not json`},
		{19, `{"inviteeIdList":[""],"roomId":"r"}`},
	} {
		f.Add(s.t, s.p)
	}
	f.Fuzz(func(t *testing.T, typ int32, payload string) {
		v, err := decodeEvent(&pb.EventResponse{Type: pb.EventType(typ), Payload: payload})
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error not errMalformed: %v", err)
			}
			return
		}
		switch p := v.(type) {
		case *messagePayload:
			if p.MessageID == "" {
				t.Fatal("message without id accepted")
			}
		case *roomJoinPayload:
			if p.RoomID == "" || len(p.InviteeIDList) == 0 {
				t.Fatal("room-join without room or invitees accepted")
			}
		case *roomLeavePayload:
			if p.RoomID == "" || len(p.RemoveeIDList) == 0 {
				t.Fatal("room-leave without room or removees accepted")
			}
		case *friendshipPayload:
			if p.FriendshipID == "" {
				t.Fatal("friendship without id accepted")
			}
		}
	})
}

// The FileBox decoder never panics; a base64 box gives back its bytes and name. Seeds: the
// FileBox JSON shapes of file-box's toJSON (base64, url, qrCode, uuid).
func FuzzOpenBox(f *testing.F) {
	for _, s := range []string{
		`{"type":1,"name":"cat.png","metadata":{},"base64":"iVBORw0KGgo="}`,
		`{"type":1,"name":"a.txt","mediaType":"text/plain","base64":"aGk="}`,
		`{"type":2,"name":"x.jpg","url":"http://127.0.0.1:1/x.jpg","headers":{}}`,
		`{"type":3,"name":"qrcode.png","qrCode":"https://login.weixin.qq.com/l/x"}`,
		`{"type":7,"name":"f.bin","uuid":"0f0e"}`,
		`{"type":1,"base64":"!!"}`,
		`{"type":9}`,
		`not json`,
	} {
		f.Add(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no URL is fetched while fuzzing
	f.Fuzz(func(t *testing.T, js string) {
		name, mimeType, data, err := openBox(ctx, nil, js)
		if err != nil {
			return
		}
		if mimeType == "" {
			t.Fatalf("box %q decoded without a MIME type (%q, %d bytes)", js, name, len(data))
		}
	})
}

func TestBase64BoxRoundTrip(t *testing.T) {
	data := []byte("\x89PNG\r\n\x1a\nround trip")
	name, mimeType, got, err := openBox(context.Background(), nil, base64Box("r.png", "image/png", data))
	if err != nil || name != "r.png" || mimeType != "image/png" || string(got) != string(data) {
		t.Fatalf("got %q %q %q %v", name, mimeType, got, err)
	}
}
