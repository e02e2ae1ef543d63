package events

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func groupMessage() *Message {
	return &Message{
		Class:      ClassRecv,
		Content:    "大家好 <b>&</b>",
		ID:         23910327,
		PostType:   PostReceiveMessage,
		Time:       1479787946,
		Type:       GroupMessage,
		Sender:     &Sender{Name: "蔡涛", ID: 2372962211, UID: 458885},
		Receiver:   &Receiver{Name: "小灰", ID: 4072574066, UID: 1234567},
		GroupRef:   &GroupRef{Name: "openqq测试群", ID: 2617047292, UID: 123456},
		DiscussRef: nil,
	}
}

func friendMessage() *Message {
	return &Message{
		Class:    ClassRecv,
		Content:  "你好\n",
		ID:       23910328,
		PostType: PostReceiveMessage,
		Time:     1479787947,
		Type:     FriendMessage,
		Sender:   &Sender{Name: "老王", ID: 2372835507, UID: 456789},
		Receiver: &Receiver{Name: "小灰", ID: 4072574066, UID: 1234567},
	}
}

func discussMessage() *Message {
	return &Message{
		Class:      ClassRecv,
		Content:    "讨论",
		ID:         23910329,
		PostType:   PostReceiveMessage,
		Time:       1479787948,
		Type:       DiscussMessage,
		Sender:     &Sender{Name: "金敏", ID: 2372851345, UID: 457051},
		Receiver:   &Receiver{Name: "小灰", ID: 4072574066, UID: 1234567},
		DiscussRef: &DiscussRef{Name: "周末聚餐", ID: 3001},
	}
}

func sentMessage() *Message {
	return &Message{
		Class:      ClassSend,
		Content:    "收到",
		ID:         23910330,
		PostType:   PostSendMessage,
		Time:       1479787949,
		Type:       GroupMessage,
		From:       "api",
		Sender:     &Sender{Name: "小灰", ID: 4072574066, UID: 1234567},
		Receiver:   &Receiver{Name: "", ID: 0, UID: 0},
		GroupRef:   &GroupRef{Name: "openqq测试群", ID: 2617047292, UID: 123456},
		SendResult: &SendResult{Code: 0, Info: SendOKInfo, Msg: SendOK, Status: SendOK},
	}
}

// topKeys returns the keys of a JSON object in the order they appear.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not a JSON object (%v, %v)", b, tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	return keys
}

func decodeObject(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// isJSONInteger reports whether raw is a JSON number written as a plain integer.
func isJSONInteger(raw json.RawMessage) bool {
	_, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil
}

func isJSONString(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil
}

func TestMarshalMessageKeys(t *testing.T) {
	base := []string{"class", "content", "id", "post_type", "time", "type",
		"sender", "sender_id", "sender_uid", "receiver", "receiver_id", "receiver_uid"}
	tests := []struct {
		name string
		msg  *Message
		want []string
	}{
		{"group message", groupMessage(), append(slices.Clone(base), "group", "group_id", "group_uid")},
		{"friend message", friendMessage(), base},
		{"discuss message", discussMessage(), append(slices.Clone(base), "discuss", "discuss_id")},
		{"sent group message", sentMessage(),
			append(slices.Clone(base), "group", "group_id", "group_uid", "code", "info", "msg", "status", "from")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			got := topKeys(t, b)
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("keys of %s\n got %q\nwant %q", b, got, want)
			}
		})
	}
}

func TestMarshalMessageTypes(t *testing.T) {
	ints := []string{"id", "time", "sender_id", "sender_uid", "receiver_id", "receiver_uid",
		"group_id", "group_uid", "discuss_id", "code"}
	strs := []string{"class", "content", "post_type", "type", "sender", "receiver", "group",
		"discuss", "info", "msg", "status"}
	for _, msg := range []*Message{groupMessage(), friendMessage(), discussMessage(), sentMessage()} {
		t.Run(msg.Type+"/"+msg.PostType, func(t *testing.T) {
			b, err := Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			m := decodeObject(t, b)
			for _, k := range ints {
				if raw, ok := m[k]; ok && !isJSONInteger(raw) {
					t.Errorf("%s = %s, want a JSON integer", k, raw)
				}
			}
			for _, k := range strs {
				if raw, ok := m[k]; ok && !isJSONString(raw) {
					t.Errorf("%s = %s, want a JSON string (never null)", k, raw)
				}
			}
		})
	}
}

func TestMarshalGroupMessageExact(t *testing.T) {
	b, err := Marshal(groupMessage())
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, b)
	want := map[string]string{
		"class":        `"recv"`,
		"content":      `"大家好 <b>&</b>"`,
		"id":           `23910327`,
		"post_type":    `"receive_message"`,
		"time":         `1479787946`,
		"type":         `"group_message"`,
		"sender":       `"蔡涛"`,
		"sender_id":    `2372962211`,
		"sender_uid":   `458885`,
		"receiver":     `"小灰"`,
		"receiver_id":  `4072574066`,
		"receiver_uid": `1234567`,
		"group":        `"openqq测试群"`,
		"group_id":     `2617047292`,
		"group_uid":    `123456`,
	}
	for k, v := range want {
		if got := string(m[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	for _, absent := range []string{"discuss", "discuss_id", "code", "info", "msg", "status", "via", "from"} {
		if raw, ok := m[absent]; ok {
			t.Errorf("group message has %q = %s, want no such key", absent, raw)
		}
	}
}

func TestMarshalEmptyNamesAreStrings(t *testing.T) {
	msg := &Message{
		Type:     GroupMessage,
		PostType: PostReceiveMessage,
		Class:    ClassRecv,
		Sender:   &Sender{},
		Receiver: &Receiver{},
		GroupRef: &GroupRef{},
	}
	b, err := Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, b)
	for _, k := range []string{"sender", "receiver", "group", "content"} {
		if got := string(m[k]); got != `""` {
			t.Errorf("%s = %s, want \"\"", k, got)
		}
	}
}

func TestMarshalNoHTMLEscape(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"html characters", "<a href=\"x\">&amp;</a>", `"<a href=\"x\">&amp;</a>"`},
		{"chinese stays UTF-8", "你好，世界", `"你好，世界"`},
		{"emoji stays UTF-8", "😀", `"😀"`},
		{"line breaks escaped", "a\nb\n", `"a\nb\n"`},
		{"map of params", Params{"content": "1 < 2 && 3 > 2"}, `{"content":"1 < 2 && 3 > 2"}`},
		{"no trailing newline", 1, `1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("Marshal(%q) = %s, want %s", tc.in, b, tc.want)
			}
		})
	}
	t.Run("message content", func(t *testing.T) {
		b := MustMarshal(groupMessage())
		if !bytes.Contains(b, []byte(`"content":"大家好 <b>&</b>"`)) {
			t.Errorf("content escaped or re-encoded: %s", b)
		}
		if bytes.Contains(b, []byte(`\u00`)) || bytes.Contains(b, []byte(`\u26`)) {
			t.Errorf("Marshal escaped characters: %s", b)
		}
	})
}

func TestMarshalError(t *testing.T) {
	tests := []struct {
		name string
		in   any
	}{
		{"channel", make(chan int)},
		{"NaN", math.NaN()},
		{"function", func() {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := Marshal(tc.in); err == nil {
				t.Errorf("Marshal = %s, want an error", b)
			}
			defer func() {
				if recover() == nil {
					t.Error("MustMarshal did not panic")
				}
			}()
			MustMarshal(tc.in)
		})
	}
}

func TestNewEvent(t *testing.T) {
	member := GroupMember{ID: 2372962211, Name: "蔡涛", Role: MemberRoleMember, UID: 458885}
	group := Group{ID: 2617047292, Name: "openqq测试群", Member: []GroupMember{}, Role: GroupRoleCreate, UID: 123456}
	tests := []struct {
		name   string
		event  string
		params []any
		want   string
	}{
		{"stop has empty params", EventStop, nil,
			`{"event":"stop","params":[],"post_type":"event"}`},
		{"state_change", EventStateChange, []any{StateRunning, StateStop},
			`{"event":"state_change","params":["running","stop"],"post_type":"event"}`},
		{"login", EventLogin, []any{1},
			`{"event":"login","params":[1],"post_type":"event"}`},
		{"input_qrcode", EventInputQRCode, []any{"/tmp/qr.png", "iVBOR\nw0K"},
			`{"event":"input_qrcode","params":["/tmp/qr.png","iVBOR\nw0K"],"post_type":"event"}`},
		{"property change", EventFriendPropertyChange, []any{Friend{ID: 1, UID: 2}, "markname", "", "<老王>"},
			`{"event":"friend_property_change","params":[{"category":"","client_type":"","face":0,"flag":0,"id":1,"is_vip":0,"markname":"","name":"","state":"","uid":2,"vip_level":0},"markname","","<老王>"],"post_type":"event"}`},
		{"lose_group_member", EventLoseGroupMember, []any{member, group},
			`{"event":"lose_group_member","params":[` + string(MustMarshal(member)) + `,` + string(MustMarshal(group)) + `],"post_type":"event"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := NewEvent(tc.event, tc.params...)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Name() != tc.event || ev.PostType != PostEvent {
				t.Errorf("Name() = %q, PostType = %q; want %q, %q", ev.Name(), ev.PostType, tc.event, PostEvent)
			}
			b, err := Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("Marshal(NewEvent)\n got %s\nwant %s", b, tc.want)
			}
		})
	}
	t.Run("unencodable param", func(t *testing.T) {
		if ev, err := NewEvent(EventLogin, make(chan int)); err == nil {
			t.Errorf("NewEvent = %+v, want an error", ev)
		}
	})
}

func TestDecodeItemRoundTrip(t *testing.T) {
	stop, _ := NewEvent(EventStop)
	change, _ := NewEvent(EventStateChange, StateScaning, StateRunning)
	newFriend, _ := NewEvent(EventNewFriend, Friend{ID: 7, Name: "<新朋友>", UID: 8})
	tests := []struct {
		name string
		item Item
		kind string
	}{
		{"group message", groupMessage(), GroupMessage},
		{"friend message", friendMessage(), FriendMessage},
		{"discuss message", discussMessage(), DiscussMessage},
		{"sent message", sentMessage(), GroupMessage},
		{"stop event", stop, EventStop},
		{"state_change event", change, EventStateChange},
		{"new_friend event", newFriend, EventNewFriend},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.item)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeItem(b)
			if err != nil {
				t.Fatalf("DecodeItem(%s): %v", b, err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(tc.item) {
				t.Fatalf("DecodeItem(%s) is a %T, want %T", b, got, tc.item)
			}
			if !reflect.DeepEqual(got, tc.item) {
				t.Errorf("DecodeItem(%s)\n got %+v\nwant %+v", b, got, tc.item)
			}
			if got.Name() != tc.kind {
				t.Errorf("Name() = %q, want %q", got.Name(), tc.kind)
			}
			again, err := Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("re-encoded\n got %s\nwant %s", again, b)
			}
		})
	}
}

func TestDecodeItemErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"not JSON", `not json`},
		{"empty", ``},
		{"truncated", `{"post_type":"event"`},
		{"no post_type", `{"event":"stop","params":[]}`},
		{"empty post_type", `{"post_type":""}`},
		{"unknown post_type", `{"post_type":"notice"}`},
		{"post_type wrong case", `{"post_type":"Event"}`},
		{"post_type not a string", `{"post_type":1}`},
		{"null", `null`},
		{"array", `[]`},
		{"event params not an array", `{"post_type":"event","event":"stop","params":{}}`},
		{"message id not a number", `{"post_type":"receive_message","id":"x"}`},
		{"message sender_id not a number", `{"post_type":"receive_message","sender_id":[1]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if it, err := DecodeItem([]byte(tc.in)); err == nil {
				t.Errorf("DecodeItem(%s) = %+v, want an error", tc.in, it)
			} else if !strings.HasPrefix(err.Error(), "decode report") {
				t.Errorf("error %q does not say it decodes a report", err)
			}
		})
	}
}

// The package promises that object keys come out in sorted order, as Mojo's encoder wrote them.
func TestMarshalSortedKeys(t *testing.T) {
	stop, _ := NewEvent(EventStop)
	logEnc := "UTF-8"
	tests := []struct {
		name string
		v    any
	}{
		{"user", User{}},
		{"friend", Friend{}},
		{"group", Group{Member: []GroupMember{}}},
		{"group member", GroupMember{}},
		{"discuss", Discuss{}},
		{"discuss member", DiscussMember{}},
		{"event", stop},
		{"status", StatusSuccess},
		{"send reply", &SendReply{Info: "x"}},
		{"client info", ClientInfo{LogEncoding: &logEnc}},
		{"stop reply", StopReply{}},
		{"relogin reply", ReloginReply{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := topKeys(t, MustMarshal(tc.v))
			if !slices.IsSorted(keys) {
				t.Errorf("keys not sorted: %q", keys)
			}
		})
	}
}

func TestGroupMemberKey(t *testing.T) {
	tests := []struct {
		name    string
		group   Group
		wantKey bool
		want    string
	}{
		{"nil member omitted (basic info)", Group{}, false, ""},
		{"empty member is []", Group{Member: []GroupMember{}}, true, `[]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := decodeObject(t, MustMarshal(tc.group))
			raw, ok := m["member"]
			if ok != tc.wantKey || (ok && string(raw) != tc.want) {
				t.Errorf("member key present=%v value=%s; want present=%v value=%s", ok, raw, tc.wantKey, tc.want)
			}
		})
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"friend markname", (&Friend{Name: "n", Markname: "m"}).DisplayName(), "m"},
		{"friend name", (&Friend{Name: "n"}).DisplayName(), "n"},
		{"group markname", (&Group{Name: "n", Markname: "m"}).DisplayName(), "m"},
		{"group name", (&Group{Name: "n"}).DisplayName(), "n"},
		{"member card", (&GroupMember{Name: "n", Card: "c"}).DisplayName(), "c"},
		{"member name", (&GroupMember{Name: "n"}).DisplayName(), "n"},
		{"discuss", (&Discuss{Name: "d"}).DisplayName(), "d"},
		{"discuss member", (&DiscussMember{Name: "dm"}).DisplayName(), "dm"},
		{"user", (&User{Name: "u"}).DisplayName(), "u"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("DisplayName() = %q, want %q", tc.got, tc.want)
			}
		})
	}
}
