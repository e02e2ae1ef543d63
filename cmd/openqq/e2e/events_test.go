package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/session"
)

// loginStep is one item of a login as a bot sees it on qq.events.>.
type loginStep struct {
	event  string
	params string // state_change and login params as JSON; input_qrcode: ""
}

// loginSteps is the login the seeds describe: every state in turn, the QR code before scaning,
// login [1] before running.
func loginSteps(from events.State) []loginStep {
	return []loginStep{
		{events.EventStateChange, fmt.Sprintf(`["%s","loading"]`, from)},
		{events.EventInputQRCode, ""},
		{events.EventStateChange, `["loading","scaning"]`},
		{events.EventStateChange, `["scaning","confirming"]`},
		{events.EventStateChange, `["confirming","updating"]`},
		{events.EventLogin, `[1]`},
		{events.EventStateChange, `["updating","running"]`},
	}
}

// checkLogin reads the next len(steps) items and checks them against steps; it returns the
// input_qrcode item.
func checkLogin(t *testing.T, it *items, steps []loginStep) *nats.Msg {
	t.Helper()
	var qr *nats.Msg
	for i, want := range steps {
		var m *nats.Msg
		select {
		case m = <-it.ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("step %d: no item within 5s, want %s %s", i, want.event, want.params)
		}
		if got := events.EventName(m.Subject); got != want.event || m.Subject != "qq.events."+want.event {
			t.Fatalf("step %d: %s %s, want %s %s", i, m.Subject, m.Data, want.event, want.params)
		}
		if m.Header.Get(events.HeaderMsgID) == "" {
			t.Errorf("step %d: %s has no %s header", i, want.event, events.HeaderMsgID)
		}
		ev := object(t, m.Data)
		if ev["post_type"] != "event" || ev["event"] != want.event {
			t.Errorf("step %d: %s", i, m.Data)
		}
		if want.event == events.EventInputQRCode {
			qr = m
			continue
		}
		p, err := json.Marshal(ev["params"])
		if err != nil {
			t.Fatal(err)
		}
		if string(p) != want.params {
			t.Errorf("step %d: %s params %s, want %s", i, want.event, p, want.params)
		}
	}
	return qr
}

// checkQRCode checks input_qrcode [path, MIME base64 of the PNG].
func checkQRCode(t *testing.T, qr *nats.Msg) {
	t.Helper()
	p := params(t, qr, events.EventInputQRCode, 2)
	var path, b64 string
	if err := json.Unmarshal(p[0], &path); err != nil {
		t.Fatalf("path %s: %v", p[0], err)
	}
	if err := json.Unmarshal(p[1], &b64); err != nil {
		t.Fatalf("data %.100s: %v", p[1], err)
	}
	if !strings.HasSuffix(b64, "\n") {
		t.Errorf("base64 does not end in a line break: %q", b64[max(0, len(b64)-20):])
	}
	lines := strings.Split(strings.TrimSuffix(b64, "\n"), "\n")
	for i, l := range lines {
		if i < len(lines)-1 && len(l) != 76 || i == len(lines)-1 && (len(l) == 0 || len(l) > 76) {
			t.Errorf("base64 line %d of %d has %d characters", i, len(lines), len(l))
		}
	}
	if len(lines) < 2 {
		t.Errorf("base64 has %d lines; a QR code PNG is longer than 57 bytes", len(lines))
	}
	data, err := base64.StdEncoding.DecodeString(strings.Join(lines, ""))
	if err != nil {
		t.Fatalf("base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 21 || b.Dy() < 21 {
		t.Errorf("QR code image %v is too small", b)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("QR code path %q: %v", path, err)
	}
	if !bytes.Equal(file, data) {
		t.Errorf("the file at %s (%d bytes) is not the image of the event (%d bytes)", path, len(file), len(data))
	}
}

// From the very start, a bot on qq.events.> sees the whole login in order.
func TestLoginEvents(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, 50 * time.Millisecond} {
		t.Run("LoginDelay="+delay.String(), func(t *testing.T) {
			t.Parallel()
			l := launch(t, func(s *session.Config, _ *gateway.Config) { simConfig(s).LoginDelay = delay })
			qr := checkLogin(t, l.all, loginSteps(events.StateInit))
			checkQRCode(t, qr)
			l.waitState(events.StateRunning)
			if code, body := l.get("get_user_info", nil); code != 200 || intOf(t, object(t, body), "id") != meID {
				t.Errorf("get_user_info after login: %d %.200s", code, body)
			}
		})
	}
}

// Injected messages are published as receive_message reports with Mojo's fields.
func TestReceivedMessages(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	me := map[string]any{"receiver": "小灰", "receiver_id": meID, "receiver_uid": meUID}
	perl := map[string]any{"group": "PERL学习交流", "group_id": perlGroupID, "group_uid": perlGroupUID}
	cases := []struct {
		name   string
		in     events.Injection
		want   map[string]any
		absent []string
	}{
		{"friend with markname", events.Injection{Type: events.FriendMessage, SenderID: friendID},
			map[string]any{"sender": "老王", "sender_id": friendID, "sender_uid": friendUID},
			append(append([]string{"via"}, groupKeysOfMessage...), discussKeysOfMessage...)},
		{"friend without markname", events.Injection{Type: events.FriendMessage, SenderID: friend2ID},
			map[string]any{"sender": "邵秀兰", "sender_id": friend2ID, "sender_uid": friend2UID}, groupKeysOfMessage},
		{"group member without card", events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlMemberID},
			merge(perl, map[string]any{"sender": "邓宇航", "sender_id": perlMemberID, "sender_uid": perlMemberUID}),
			append([]string{"via"}, discussKeysOfMessage...)},
		{"group member with card", events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: perlCardedID},
			merge(perl, map[string]any{"sender": "测试-邱涛", "sender_id": perlCardedID, "sender_uid": perlCardedUID}), discussKeysOfMessage},
		{"group with markname", events.Injection{Type: events.GroupMessage, GroupID: devGroupID, SenderID: devMemberID},
			map[string]any{"group": "开发组", "group_id": devGroupID, "group_uid": devGroupUID, "sender": "老司机-金敏", "sender_id": devMemberID},
			discussKeysOfMessage},
		{"group where the account is a plain member", events.Injection{Type: events.GroupMessage, GroupID: hikeGroupID, SenderID: hikeOwnerID},
			map[string]any{"group": "周末爬山群", "group_id": hikeGroupID, "group_uid": hikeGroupUID, "sender_id": hikeOwnerID}, nil},
		{"discuss", events.Injection{Type: events.DiscussMessage, DiscussID: discussID, SenderID: discussMemberID},
			map[string]any{"discuss": "周末聚餐", "discuss_id": discussID, "sender": "魏雨桐", "sender_id": discussMemberID, "sender_uid": discussMemberUID},
			append([]string{"via"}, groupKeysOfMessage...)},
		{"sess via group", events.Injection{Type: events.SessMessage, GroupID: perlGroupID, SenderID: perlMemberID},
			merge(perl, map[string]any{"sender": "邓宇航", "sender_id": perlMemberID, "sender_uid": perlMemberUID, "via": "group"}),
			discussKeysOfMessage},
		{"sess via discuss", events.Injection{Type: events.SessMessage, DiscussID: discussID, SenderID: discussMemberID},
			map[string]any{"discuss": "周末聚餐", "discuss_id": discussID, "sender": "魏雨桐", "sender_id": discussMemberID, "via": "discuss"},
			groupKeysOfMessage},
		{"a given time", events.Injection{Type: events.FriendMessage, SenderID: friendID, Time: 1442542632},
			map[string]any{"time": 1442542632}, nil},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Content = fmt.Sprintf("收到 %d\n第二行 <&>\n", i)
			began := time.Now()
			r := e.with(t).inject(in)
			if r.Code != 0 || r.ID == 0 || r.Status != "success" {
				t.Fatalf("inject: %+v", r)
			}
			raw := await(t, reports.with(t), in.Type, func(m map[string]any) bool { return m["id"] == num(r.ID) })
			if raw.Subject != "qq.events."+in.Type {
				t.Errorf("subject %s", raw.Subject)
			}
			if got := raw.Header.Get(events.HeaderMsgID); got != strconv.FormatInt(r.ID, 10) {
				t.Errorf("%s %q, want %d", events.HeaderMsgID, got, r.ID)
			}
			m := object(t, raw.Data)
			fields(t, "report", m, merge(me, map[string]any{
				"post_type": "receive_message", "class": "recv", "type": in.Type, "content": in.Content, "id": r.ID,
			}))
			fields(t, "report", m, c.want)
			lacksKeys(t, "report", m, c.absent...)
			lacksKeys(t, "report", m, "code", "status", "msg", "info")
			for _, k := range []string{"sender_id", "sender_uid", "receiver_id", "receiver_uid", "time"} {
				intOf(t, m, k)
			}
			if in.Time == 0 {
				if tm := intOf(t, m, "time"); tm < began.Unix()-1 || tm > time.Now().Unix()+1 {
					t.Errorf("time %d, want about %d", tm, began.Unix())
				}
			}
		})
	}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// What QQ would not deliver is refused with a non-zero code and publishes nothing.
func TestInjectRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	cases := []struct {
		name string
		in   any // an events.Injection, or raw bytes
	}{
		{"friend message from a stranger", events.Injection{Type: events.FriendMessage, SenderID: 1, Content: "x"}},
		{"friend message from a group member who is no friend", events.Injection{Type: events.FriendMessage, SenderID: perlMemberID, Content: "x"}},
		{"group message from a non-member", events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: discussMemberID, Content: "x"}},
		{"group message in an unknown group", events.Injection{Type: events.GroupMessage, GroupID: 1, SenderID: perlMemberID, Content: "x"}},
		{"discuss message from a non-member", events.Injection{Type: events.DiscussMessage, DiscussID: discussID, SenderID: perlMemberID, Content: "x"}},
		{"discuss message in an unknown discuss", events.Injection{Type: events.DiscussMessage, DiscussID: 1, SenderID: discussMemberID, Content: "x"}},
		{"sess via group from a non-member", events.Injection{Type: events.SessMessage, GroupID: perlGroupID, SenderID: 1, Content: "x"}},
		{"sess via discuss from a non-member", events.Injection{Type: events.SessMessage, DiscussID: discussID, SenderID: perlMemberID, Content: "x"}},
		{"sess with neither group nor discuss", events.Injection{Type: events.SessMessage, SenderID: perlMemberID, Content: "x"}},
		{"unknown message type", events.Injection{Type: "weird_message", SenderID: friendID, Content: "x"}},
		{"unknown event", events.Injection{Event: "new_universe"}},
		{"new_friend without friend", events.Injection{Event: events.EventNewFriend}},
		{"new_group without group", events.Injection{Event: events.EventNewGroup}},
		{"new_group_member without member", events.Injection{Event: events.EventNewGroupMember, GroupID: perlGroupID}},
		{"lose_friend of a stranger", events.Injection{Event: events.EventLoseFriend, FriendID: 1}},
		{"lose_group of an unknown group", events.Injection{Event: events.EventLoseGroup, GroupID: 1}},
		{"lose_group_member of a non-member", events.Injection{Event: events.EventLoseGroupMember, GroupID: perlGroupID, MemberID: 1}},
		{"new_friend already a friend", events.Injection{Event: events.EventNewFriend, Friend: &events.Friend{ID: friendID, UID: friendUID, Name: "夏梓轩"}}},
		{"both type and event", events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "x", Event: events.EventLoseFriend, FriendID: friendID}},
		{"neither type nor event", events.Injection{Content: "x"}},
		{"malformed JSON", []byte(`{"type":"friend_message",`)},
		{"not JSON", []byte(`hello`)},
		{"a JSON array", []byte(`[{"type":"friend_message"}]`)},
		{"a wrongly typed field", []byte(`{"type":"friend_message","sender_id":"abc","content":"x"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := e.with(t)
			var r events.InjectReply
			switch in := c.in.(type) {
			case []byte:
				r = e.injectRaw(in)
			default:
				r = e.inject(in.(events.Injection))
			}
			if r.Code == 0 || r.Status == "" || r.Status == "success" {
				t.Errorf("reply %+v, want a non-zero code and a reason", r)
			}
		})
	}
	if before := sentinel(t, e, reports); len(before) != 0 {
		t.Errorf("refused injections published %d items, first %s", len(before), before[0].Data)
	}
	// Nothing changed either.
	if n := len(e.friendInfo()); n != 16 {
		t.Errorf("%d friends after refused injections, want 16", n)
	}
	if g := byID(e.groupInfo(), perlGroupID); g == nil || intOf(t, g, "member_count") != 311 {
		t.Errorf("PERL学习交流 after refused injections: %v", g["member_count"])
	}
}

// Roster changes publish their events with COMPAT.md's params and show in the info routes.
// The steps run in order on one account.
func TestRosterChanges(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	// change injects in, checks the reply, and returns the event's params.
	change := func(t *testing.T, in events.Injection, n int) []json.RawMessage {
		t.Helper()
		if r := e.with(t).inject(in); r.Code != 0 || r.Status != "success" {
			t.Fatalf("inject %s: %+v", in.Event, r)
		}
		raw := await(t, reports.with(t), in.Event, nil)
		if raw.Subject != "qq.events."+in.Event {
			t.Errorf("subject %s", raw.Subject)
		}
		return params(t, raw, in.Event, n)
	}
	newFriend := events.Friend{ID: 9000001, UID: 9001, Name: "新朋友", Category: "我的好友", Markname: "小新", State: "online", ClientType: "pc"}
	newGroup := events.Group{ID: 9100001, UID: 9101, Name: "新群", Role: "attend", Level: 1, MaxMember: 500}
	newcomer := events.GroupMember{ID: 9200001, UID: 9201, Name: "新人", Role: "member", Card: "新人卡片"}

	t.Run("new_friend", func(t *testing.T) {
		p := change(t, events.Injection{Event: events.EventNewFriend, Friend: &newFriend}, 1)
		f := object(t, p[0])
		hasKeys(t, "new_friend param", f, friendKeys...)
		fields(t, "new_friend param", f, map[string]any{"id": newFriend.ID, "uid": newFriend.UID, "name": "新朋友", "markname": "小新", "category": "我的好友"})
		friends := e.with(t).friendInfo()
		if len(friends) != 17 || byID(friends, newFriend.ID) == nil {
			t.Errorf("get_friend_info: %d friends, new friend %v", len(friends), byID(friends, newFriend.ID))
		}
		// The new friend can be written to and can write.
		code, body := e.with(t).get("send_friend_message", q("displayname", "小新", "content", "欢迎"))
		checkSendReply(t, code, body)
		if r := e.with(t).inject(events.Injection{Type: events.FriendMessage, SenderID: newFriend.ID, Content: "你好"}); r.Code != 0 {
			t.Errorf("message from the new friend: %+v", r)
		}
		if r := e.with(t).inject(events.Injection{Event: events.EventNewFriend, Friend: &newFriend}); r.Code == 0 {
			t.Errorf("the same new_friend again: %+v", r)
		}
	})
	t.Run("lose_friend", func(t *testing.T) {
		p := change(t, events.Injection{Event: events.EventLoseFriend, FriendID: friendID}, 1)
		f := object(t, p[0])
		hasKeys(t, "lose_friend param", f, friendKeys...)
		fields(t, "lose_friend param", f, map[string]any{"id": friendID, "uid": friendUID, "name": "夏梓轩", "markname": "老王", "category": "我的好友"})
		friends := e.with(t).friendInfo()
		if len(friends) != 16 || byID(friends, friendID) != nil {
			t.Errorf("get_friend_info: %d friends, lost friend %v", len(friends), byID(friends, friendID))
		}
		code, body := e.with(t).get("send_friend_message", q("id", itoa(friendID), "content", "还在吗"))
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		sameJSON(t, body, `{"code":100,"id":null,"status":"friend not found"}`)
		code, body = e.with(t).get("search_friend", q("uid", itoa(friendUID)))
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		sameJSON(t, body, objNotFound)
		if r := e.with(t).inject(events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "x"}); r.Code == 0 {
			t.Errorf("message from a lost friend delivered: %+v", r)
		}
	})
	t.Run("new_group", func(t *testing.T) {
		p := change(t, events.Injection{Event: events.EventNewGroup, Group: &newGroup}, 1)
		g := object(t, p[0])
		hasKeys(t, "new_group param", g, append(groupKeys, "member")...)
		fields(t, "new_group param", g, map[string]any{"id": newGroup.ID, "uid": newGroup.UID, "name": "新群", "role": "attend", "member_count": 0})
		if ms := members(t, g); len(ms) != 0 {
			t.Errorf("new group has %d members", len(ms))
		}
		groups := e.with(t).groupInfo()
		got := byID(groups, newGroup.ID)
		if len(groups) != 4 || got == nil {
			t.Fatalf("get_group_info: %d groups, new group %v", len(groups), got)
		}
		if _, ok := got["member"].([]any); !ok {
			t.Errorf(`get_group_info: a group without members has "member" %#v, want []`, got["member"])
		}
		code, body := e.with(t).get("get_group_basic_info", nil)
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		basic := byID(array(t, body), newGroup.ID)
		if basic == nil {
			t.Fatalf("get_group_basic_info lacks the new group: %.300s", body)
		}
		lacksKeys(t, "basic group", basic, "member")
		code, body = e.with(t).get("send_group_message", q("name", "新群", "content", "大家好"))
		checkSendReply(t, code, body)
	})
	t.Run("new_group_member", func(t *testing.T) {
		p := change(t, events.Injection{Event: events.EventNewGroupMember, GroupID: newGroup.ID, Member: &newcomer}, 2)
		m, g := object(t, p[0]), object(t, p[1])
		hasKeys(t, "new_group_member member", m, memberKeys...)
		hasKeys(t, "new_group_member group", g, append(groupKeys, "member")...)
		fields(t, "new_group_member member", m, map[string]any{"id": newcomer.ID, "uid": newcomer.UID, "name": "新人", "card": "新人卡片", "role": "member"})
		fields(t, "new_group_member group", g, map[string]any{"id": newGroup.ID, "member_count": 1})
		if byID(members(t, g), newcomer.ID) == nil {
			t.Errorf("new_group_member's group lacks the member: %v", g["member"])
		}
		got := byID(e.with(t).groupInfo(), newGroup.ID)
		if ms := members(t, got); len(ms) != 1 || byID(ms, newcomer.ID) == nil || intOf(t, got, "member_count") != 1 {
			t.Errorf("get_group_info: new group %v", got)
		}
		// Into a full group, too.
		p = change(t, events.Injection{Event: events.EventNewGroupMember, GroupID: perlGroupID, Member: &newcomer}, 2)
		fields(t, "new_group_member group", object(t, p[1]), map[string]any{"id": perlGroupID, "member_count": 312})
		perl := byID(e.with(t).groupInfo(), perlGroupID)
		if intOf(t, perl, "member_count") != 312 || byID(members(t, perl), newcomer.ID) == nil {
			t.Errorf("get_group_info: PERL学习交流 member_count %v", perl["member_count"])
		}
		// The newcomer can speak, and be written to.
		if r := e.with(t).inject(events.Injection{Type: events.GroupMessage, GroupID: perlGroupID, SenderID: newcomer.ID, Content: "我来了"}); r.Code != 0 {
			t.Errorf("message from the newcomer: %+v", r)
		}
		code, body := e.with(t).get("send_sess_message", q("group_id", itoa(perlGroupID), "uid", itoa(newcomer.UID), "content", "欢迎"))
		checkSendReply(t, code, body)
	})
	t.Run("lose_group_member", func(t *testing.T) {
		p := change(t, events.Injection{Event: events.EventLoseGroupMember, GroupID: perlGroupID, MemberID: perlMemberID}, 2)
		m, g := object(t, p[0]), object(t, p[1])
		hasKeys(t, "lose_group_member member", m, memberKeys...)
		fields(t, "lose_group_member member", m, map[string]any{"id": perlMemberID, "uid": perlMemberUID, "name": "邓宇航", "role": "member"})
		fields(t, "lose_group_member group", g, map[string]any{"id": perlGroupID, "member_count": 311})
		if ms := members(t, g); len(ms) != 311 || byID(ms, perlMemberID) != nil {
			t.Errorf("lose_group_member's group: %d members, lost member %v", len(ms), byID(ms, perlMemberID))
		}
		perl := byID(e.with(t).groupInfo(), perlGroupID)
		if intOf(t, perl, "member_count") != 311 || byID(members(t, perl), perlMemberID) != nil {
			t.Errorf("get_group_info: PERL学习交流 member_count %v", perl["member_count"])
		}
	})
	t.Run("lose_group", func(t *testing.T) {
		p := change(t, events.Injection{Event: events.EventLoseGroup, GroupID: hikeGroupID}, 1)
		g := object(t, p[0])
		hasKeys(t, "lose_group param", g, append(groupKeys, "member")...)
		fields(t, "lose_group param", g, map[string]any{"id": hikeGroupID, "uid": hikeGroupUID, "name": "周末爬山群", "member_count": 61})
		groups := e.with(t).groupInfo()
		if len(groups) != 3 || byID(groups, hikeGroupID) != nil {
			t.Errorf("get_group_info: %d groups, lost group %v", len(groups), byID(groups, hikeGroupID) != nil)
		}
		code, body := e.with(t).get("send_group_message", q("id", itoa(hikeGroupID), "content", "再见"))
		if code != 200 {
			t.Fatalf("status %d", code)
		}
		sameJSON(t, body, `{"code":101,"id":null,"status":"group not found"}`)
		if r := e.with(t).inject(events.Injection{Type: events.GroupMessage, GroupID: hikeGroupID, SenderID: hikeOwnerID, Content: "x"}); r.Code == 0 {
			t.Errorf("message in a lost group delivered: %+v", r)
		}
	})
}
