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
}
