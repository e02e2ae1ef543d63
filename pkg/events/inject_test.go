package events

import (
	"encoding/json"
	"testing"
)

// The injection's wire format is what tests, bench and demos send on qq.sim.inject: it must
// not change shape when the types move.
func TestInjectionWire(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"message", Injection{Type: GroupMessage, SenderID: 2, GroupID: 3, Content: "你好 <&>", Time: 5},
			`{"type":"group_message","sender_id":2,"group_id":3,"content":"你好 <&>","time":5}`},
		{"discuss", Injection{Type: DiscussMessage, SenderID: 2, DiscussID: 4, Content: "x"},
			`{"type":"discuss_message","sender_id":2,"discuss_id":4,"content":"x"}`},
		{"new friend", Injection{Event: EventNewFriend, Friend: &Friend{ID: 1, UID: 2, Name: "新朋友"}},
			`{"event":"new_friend","friend":{"category":"","client_type":"","face":0,"flag":0,"id":1,"is_vip":0,"markname":"","name":"新朋友","state":"","uid":2,"vip_level":0}}`},
		{"lose member", Injection{Event: EventLoseGroupMember, GroupID: 3, MemberID: 6},
			`{"group_id":3,"event":"lose_group_member","member_id":6}`},
		{"new discuss", Injection{Event: EventNewDiscuss, Discuss: &Discuss{ID: 1, Name: "新讨论组", OwnerID: 2, Member: []DiscussMember{}}},
			`{"event":"new_discuss","discuss":{"id":1,"member":[],"name":"新讨论组","owner_id":2}}`},
		{"lose discuss", Injection{Event: EventLoseDiscuss, DiscussID: 4},
			`{"discuss_id":4,"event":"lose_discuss"}`},
		{"new discuss member", Injection{Event: EventNewDiscussMember, DiscussID: 4, Member: &GroupMember{ID: 1, UID: 2, Name: "新人"}},
			`{"discuss_id":4,"event":"new_discuss_member","member":{"bad_record":0,"card":"","city":"","client_type":"","country":"","id":1,"join_time":0,"last_speak_time":0,"level":0,"name":"新人","province":"","qage":0,"role":"","sex":"","state":"","uid":2}}`},
		{"lose discuss member", Injection{Event: EventLoseDiscussMember, DiscussID: 4, MemberID: 6},
			`{"discuss_id":4,"event":"lose_discuss_member","member_id":6}`},
		{"user property", Injection{Event: EventUserPropertyChange, Property: "signature", Value: "新签名"},
			`{"event":"user_property_change","property":"signature","value":"新签名"}`},
		{"friend property", Injection{Event: EventFriendPropertyChange, FriendID: 9, Property: "markname", Value: "老王"},
			`{"event":"friend_property_change","friend_id":9,"property":"markname","value":"老王"}`},
		{"group property", Injection{Event: EventGroupPropertyChange, GroupID: 3, Property: "name", Value: "新群名"},
			`{"group_id":3,"event":"group_property_change","property":"name","value":"新群名"}`},
		{"member property", Injection{Event: EventGroupMemberPropertyChange, GroupID: 3, MemberID: 6, Property: "card", Value: "新名片"},
			`{"group_id":3,"event":"group_member_property_change","member_id":6,"property":"card","value":"新名片"}`},
		{"reply ok", InjectReply{Code: CodeOK, ID: 7, Status: "success"}, `{"code":0,"id":7,"status":"success"}`},
		{"reply error", InjectReply{Code: CodeNotFound, Status: "friend 1 not found"}, `{"code":100,"status":"friend 1 not found"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(MustMarshal(c.v)); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	var in Injection
	if err := json.Unmarshal([]byte(`{"event":"lose_friend","friend_id":9}`), &in); err != nil || in.Event != EventLoseFriend || in.FriendID != 9 {
		t.Errorf("decode: %+v %v", in, err)
	}
	in = Injection{}
	if err := json.Unmarshal([]byte(`{"event":"group_member_property_change","group_id":3,"member_id":6,"property":"card","value":"新名片"}`), &in); err != nil ||
		in.GroupID != 3 || in.MemberID != 6 || in.Property != "card" || in.Value != "新名片" {
		t.Errorf("decode: %+v %v", in, err)
	}
}
