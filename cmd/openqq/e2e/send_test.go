package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

var (
	groupKeysOfMessage   = []string{"group", "group_id", "group_uid"}
	discussKeysOfMessage = []string{"discuss", "discuss_id"}
	receiverKeys         = []string{"receiver", "receiver_id", "receiver_uid"}
)

// checkSendReply checks a sync send's reply and returns its id.
func checkSendReply(t *testing.T, code int, body []byte) int64 {
	t.Helper()
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	r := object(t, body)
	fields(t, "reply", r, map[string]any{"code": 0, "status": "发送成功", "info": "发送正常"})
	id := intOf(t, r, "id")
	if id <= 0 {
		t.Fatalf("reply id %d: %s", id, body)
	}
	return id
}

// checkSendReport checks what every send_message report carries.
func checkSendReport(t *testing.T, m map[string]any, typ, content string, began time.Time) {
	t.Helper()
	fields(t, "report", m, map[string]any{
		"post_type": "send_message", "class": "send", "type": typ, "content": content,
		"sender": "小灰", "sender_id": meID, "sender_uid": meUID,
		"code": 0, "status": "发送成功", "msg": "发送成功", "info": "发送正常",
	})
	intOf(t, m, "id")
	if tm := intOf(t, m, "time"); tm < began.Unix()-1 || tm > time.Now().Unix()+1 {
		t.Errorf("report time %d, want about %d", tm, began.Unix())
	}
}

// Each way of naming a target reaches it, and the send_message report names it as Mojo did.
func TestSendTargets(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	friendRecv := func(name string, id, uid int64) map[string]any {
		return map[string]any{"receiver": name, "receiver_id": id, "receiver_uid": uid}
	}
	group := func(name string, id, uid int64) map[string]any {
		return map[string]any{"group": name, "group_id": id, "group_uid": uid}
	}
	wang := friendRecv("老王", friendID, friendUID)
	perl := group("PERL学习交流", perlGroupID, perlGroupUID)
	dev := group("开发组", devGroupID, devGroupUID)
	discuss := map[string]any{"discuss": "周末聚餐", "discuss_id": discussID}
	cases := []struct {
		name   string
		route  string
		kv     []string
		typ    string
		want   map[string]any
		absent []string
	}{
		{"friend by id", "send_friend_message", []string{"id", "2372835507"}, "friend_message", wang, append(groupKeysOfMessage, discussKeysOfMessage...)},
		{"friend by uid", "send_friend_message", []string{"uid", "456789"}, "friend_message", wang, groupKeysOfMessage},
		{"friend by name", "send_friend_message", []string{"name", "夏梓轩"}, "friend_message", wang, groupKeysOfMessage},
		{"friend by displayname", "send_friend_message", []string{"displayname", "老王"}, "friend_message", wang, groupKeysOfMessage},
		{"friend by markname", "send_friend_message", []string{"markname", "老王"}, "friend_message", wang, groupKeysOfMessage},
		{"friend by id and uid", "send_friend_message", []string{"id", "2372835507", "uid", "456789"}, "friend_message", wang, nil},
		{"friend by every key", "send_friend_message",
			[]string{"id", "2372835507", "uid", "456789", "name", "夏梓轩", "displayname", "老王", "markname", "老王"}, "friend_message", wang, nil},
		{"friend without markname by name", "send_friend_message", []string{"name", "邵秀兰"}, "friend_message",
			friendRecv("邵秀兰", friend2ID, friend2UID), nil},
		{"friend without markname by displayname", "send_friend_message", []string{"displayname", "邵秀兰", "uid", "456920"}, "friend_message",
			friendRecv("邵秀兰", friend2ID, friend2UID), nil},

		{"group by id", "send_group_message", []string{"id", "2617047292"}, "group_message", perl, append(receiverKeys, discussKeysOfMessage...)},
		{"group by uid", "send_group_message", []string{"uid", "67890"}, "group_message", perl, discussKeysOfMessage},
		{"group by name", "send_group_message", []string{"name", "PERL学习交流"}, "group_message", perl, nil},
		{"group by displayname", "send_group_message", []string{"displayname", "PERL学习交流"}, "group_message", perl, nil},
		{"group with markname by name", "send_group_message", []string{"name", "openqq开发组"}, "group_message", dev, nil},
		{"group with markname by displayname", "send_group_message", []string{"displayname", "开发组"}, "group_message", dev, nil},
		{"group by every key", "send_group_message",
			[]string{"id", "2617055211", "uid", "67891", "name", "openqq开发组", "displayname", "开发组"}, "group_message", dev, nil},
		{"group where the account is a plain member", "send_group_message", []string{"id", "2617063130"}, "group_message",
			group("周末爬山群", hikeGroupID, hikeGroupUID), nil},

		{"discuss by id", "send_discuss_message", []string{"id", "4118239384"}, "discuss_message", discuss, groupKeysOfMessage},

		{"sess by group_id and id", "send_sess_message", []string{"group_id", "2617047292", "id", strconv.Itoa(perlMemberID)}, "sess_message",
			merge(perl, friendRecv("邓宇航", perlMemberID, perlMemberUID), map[string]any{"via": "group"}), discussKeysOfMessage},
		{"sess by group_uid and uid", "send_sess_message", []string{"group_uid", "67890", "uid", strconv.Itoa(perlMemberUID)}, "sess_message",
			merge(perl, friendRecv("邓宇航", perlMemberID, perlMemberUID)), discussKeysOfMessage},
		{"sess to a member with a card", "send_sess_message", []string{"group_id", "2617047292", "uid", strconv.Itoa(perlCardedUID)}, "sess_message",
			merge(perl, friendRecv("测试-邱涛", perlCardedID, perlCardedUID)), nil},
		{"sess by discuss_id and id", "send_sess_message", []string{"discuss_id", "4118239384", "id", strconv.Itoa(discussMemberID)}, "sess_message",
			merge(discuss, friendRecv("魏雨桐", discussMemberID, discussMemberUID), map[string]any{"via": "discuss"}), groupKeysOfMessage},
		{"sess by discuss_id and uid", "send_sess_message", []string{"discuss_id", "4118239384", "uid", strconv.Itoa(discussMemberUID)}, "sess_message",
			merge(discuss, friendRecv("魏雨桐", discussMemberID, discussMemberUID)), groupKeysOfMessage},
	}
	for i, c := range cases {
		for _, v := range vias {
			t.Run(c.name+"/"+string(v), func(t *testing.T) {
				content := fmt.Sprintf("测试 %d %s\n", i, v)
				began := time.Now()
				code, body := e.with(t).call(v, c.route, append(c.kv, "content", content)...)
				id := checkSendReply(t, code, body)
				m := awaitID(t, reports.with(t), c.typ, id)
				checkSendReport(t, m, c.typ, content, began)
				fields(t, "report", m, c.want)
				lacksKeys(t, "report", m, c.absent...)
			})
		}
	}
}

// A target that is not there: Mojo's exact replies, "id" present and null.
func TestSendNotFound(t *testing.T) {
	t.Parallel()
	e := start(t)
	const (
		friend  = `{"code":100,"id":null,"status":"friend not found"}`
		group   = `{"code":101,"id":null,"status":"group not found"}`
		discuss = `{"code":102,"id":null,"status":"discuss not found"}`
		gmember = `{"code":103,"id":null,"status":"group member not found"}`
		dmember = `{"code":104,"id":null,"status":"discuss member not found"}`
		either  = `{"code":105,"id":null,"status":"discuss member or group member  not found"}`
	)
	pm, dm := strconv.Itoa(perlMemberID), strconv.Itoa(discussMemberID)
	cases := []struct {
		name  string
		route string
		kv    []string
		want  string
	}{
		{"friend unknown id", "send_friend_message", []string{"id", "1"}, friend},
		{"friend unknown uid", "send_friend_message", []string{"uid", "1"}, friend},
		{"friend unknown name", "send_friend_message", []string{"name", "没有这个人"}, friend},
		{"friend name is not the markname", "send_friend_message", []string{"name", "老王"}, friend},
		{"friend displayname is the markname, not the name", "send_friend_message", []string{"displayname", "夏梓轩"}, friend},
		{"friend unknown markname", "send_friend_message", []string{"markname", "表哥"}, friend},
		{"friend id with another's uid", "send_friend_message", []string{"id", "2372835507", "uid", "456920"}, friend},
		{"friend id with another's name", "send_friend_message", []string{"id", "2372835507", "name", "邵秀兰"}, friend},
		{"friend every key but one mismatch", "send_friend_message",
			[]string{"id", "2372835507", "uid", "456789", "name", "夏梓轩", "displayname", "老王", "markname", "班长"}, friend},
		{"friend a group member who is no friend", "send_friend_message", []string{"id", pm}, friend},
		{"friend no key", "send_friend_message", nil, friend},
		{"friend name with a trailing space", "send_friend_message", []string{"name", "夏梓轩 "}, friend},

		{"group unknown id", "send_group_message", []string{"id", "1"}, group},
		{"group unknown uid", "send_group_message", []string{"uid", "1"}, group},
		{"group name is not the markname", "send_group_message", []string{"name", "开发组"}, group},
		{"group displayname is the markname", "send_group_message", []string{"displayname", "openqq开发组"}, group},
		{"group id with another's uid", "send_group_message", []string{"id", "2617047292", "uid", "67891"}, group},
		{"group no key", "send_group_message", nil, group},

		{"discuss unknown id", "send_discuss_message", []string{"id", "1"}, discuss},
		{"discuss a group's id", "send_discuss_message", []string{"id", "2617047292"}, discuss},
		{"discuss no key", "send_discuss_message", nil, discuss},

		{"sess unknown member in group", "send_sess_message", []string{"group_id", "2617047292", "id", "1"}, gmember},
		{"sess unknown group", "send_sess_message", []string{"group_id", "1", "id", pm}, gmember},
		{"sess unknown group_uid", "send_sess_message", []string{"group_uid", "1", "uid", strconv.Itoa(perlMemberUID)}, gmember},
		{"sess group without member", "send_sess_message", []string{"group_id", "2617047292"}, gmember},
		{"sess member of another group", "send_sess_message", []string{"group_id", "2617047292", "id", strconv.Itoa(hikeMemberID)}, gmember},
		{"sess group id with a mismatched uid", "send_sess_message", []string{"group_id", "2617047292", "id", pm, "uid", "1"}, gmember},
		{"sess unknown member in discuss", "send_sess_message", []string{"discuss_id", "4118239384", "id", "1"}, dmember},
		{"sess unknown discuss", "send_sess_message", []string{"discuss_id", "1", "id", dm}, dmember},
		{"sess group member not in discuss", "send_sess_message", []string{"discuss_id", "4118239384", "id", pm}, dmember},
		{"sess discuss without member", "send_sess_message", []string{"discuss_id", "4118239384"}, dmember},
		{"sess neither group nor discuss", "send_sess_message", []string{"id", pm}, either},
		{"sess no key", "send_sess_message", nil, either},
	}
	for _, c := range cases {
		for _, v := range vias {
			t.Run(c.name+"/"+string(v), func(t *testing.T) {
				code, body := e.with(t).call(v, c.route, append(c.kv, "content", "hello")...)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, c.want)
				if id, ok := object(t, body)["id"]; !ok || id != nil {
					t.Errorf(`"id" must be present and null: %s`, body)
				}
			})
		}
	}
}

// Empty content is refused with code 106 once the target is found; a missing target still wins.
func TestSendEmptyContent(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	const empty = `{"code":106,"id":null,"status":"content empty"}`
	cases := []struct {
		name  string
		route string
		kv    []string
		want  string
	}{
		{"friend empty", "send_friend_message", []string{"id", "2372835507", "content", ""}, empty},
		{"friend missing", "send_friend_message", []string{"id", "2372835507"}, empty},
		{"friend async", "send_friend_message", []string{"id", "2372835507", "content", "", "async", "1"}, empty},
		{"group empty", "send_group_message", []string{"uid", "67890", "content", ""}, empty},
		{"group async", "send_group_message", []string{"uid", "67890", "async", "1"}, empty},
		{"discuss empty", "send_discuss_message", []string{"id", "4118239384", "content", ""}, empty},
		{"discuss async", "send_discuss_message", []string{"id", "4118239384", "content", "", "async", "1"}, empty},
		{"sess group empty", "send_sess_message", []string{"group_id", "2617047292", "id", strconv.Itoa(perlMemberID), "content", ""}, empty},
		{"sess discuss missing", "send_sess_message", []string{"discuss_id", "4118239384", "id", strconv.Itoa(discussMemberID)}, empty},
		{"unknown friend and empty content", "send_friend_message", []string{"id", "1", "content", ""},
			`{"code":100,"id":null,"status":"friend not found"}`},
	}
	for _, c := range cases {
		for _, v := range vias {
			t.Run(c.name+"/"+string(v), func(t *testing.T) {
				code, body := e.with(t).call(v, c.route, c.kv...)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, c.want)
			})
		}
	}
	// Nothing was sent: the first item after them all is the sentinel.
	if before := sentinel(t, e, reports); len(before) != 0 {
		t.Errorf("refused sends published %d items, first %s", len(before), before[0].Data)
	}
}

// Ids and uids work as JSON numbers and as JSON strings (and an integral float, as JavaScript
// may send it).
func TestSendIDTypes(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	cases := []struct {
		name  string
		route string
		body  map[string]any
		typ   string
		want  map[string]any
	}{
		{"friend id number", "send_friend_message", map[string]any{"id": friendID}, "friend_message", map[string]any{"receiver_id": friendID}},
		{"friend id string", "send_friend_message", map[string]any{"id": "2372835507"}, "friend_message", map[string]any{"receiver_id": friendID}},
		{"friend uid number", "send_friend_message", map[string]any{"uid": friendUID}, "friend_message", map[string]any{"receiver_uid": friendUID}},
		{"friend id and uid mixed", "send_friend_message", map[string]any{"id": friendID, "uid": "456789"}, "friend_message", map[string]any{"receiver_id": friendID}},
		{"friend id as float", "send_friend_message", map[string]any{"id": json.RawMessage("2.372835507e9")}, "friend_message", map[string]any{"receiver_id": friendID}},
		{"group id number", "send_group_message", map[string]any{"id": perlGroupID}, "group_message", map[string]any{"group_id": perlGroupID}},
		{"group uid number", "send_group_message", map[string]any{"uid": perlGroupUID}, "group_message", map[string]any{"group_uid": perlGroupUID}},
		{"group uid string", "send_group_message", map[string]any{"uid": "67890"}, "group_message", map[string]any{"group_uid": perlGroupUID}},
		{"discuss id number", "send_discuss_message", map[string]any{"id": discussID}, "discuss_message", map[string]any{"discuss_id": discussID}},
		{"discuss id string", "send_discuss_message", map[string]any{"id": "4118239384"}, "discuss_message", map[string]any{"discuss_id": discussID}},
		{"sess group numbers", "send_sess_message", map[string]any{"group_id": perlGroupID, "id": perlMemberID}, "sess_message",
			map[string]any{"group_id": perlGroupID, "receiver_id": perlMemberID}},
		{"sess group_uid and uid numbers", "send_sess_message", map[string]any{"group_uid": perlGroupUID, "uid": perlMemberUID}, "sess_message",
			map[string]any{"group_uid": perlGroupUID, "receiver_uid": perlMemberUID}},
		{"sess group strings", "send_sess_message", map[string]any{"group_id": "2617047292", "id": strconv.Itoa(perlMemberID)}, "sess_message",
			map[string]any{"receiver_id": perlMemberID}},
		{"sess discuss numbers", "send_sess_message", map[string]any{"discuss_id": discussID, "id": discussMemberID}, "sess_message",
			map[string]any{"discuss_id": discussID, "receiver_id": discussMemberID}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			content := fmt.Sprintf("数字 %d", i)
			body := map[string]any{"content": content}
			for k, v := range c.body {
				body[k] = v
			}
			began := time.Now()
			code, reply := e.with(t).postJSON(c.route, body)
			id := checkSendReply(t, code, reply)
			m := awaitID(t, reports.with(t), c.typ, id)
			checkSendReport(t, m, c.typ, content, began)
			fields(t, "report", m, c.want)
		})
	}
}

// async=1 answers at once and still reports the send; async=0 is a sync send; send_sess_message
// ignores async.
func TestSendAsync(t *testing.T) {
	t.Parallel()
	e := start(t)
	reports := e.subscribe("")
	const inExecution = `{"code":0,"status":"request already in execution"}`
	cases := []struct {
		route string
		kv    []string
		typ   string
		want  map[string]any
	}{
		{"send_friend_message", []string{"id", "2372835507"}, "friend_message", map[string]any{"receiver": "老王", "receiver_id": friendID}},
		{"send_group_message", []string{"uid", "67890"}, "group_message", map[string]any{"group": "PERL学习交流", "group_id": perlGroupID}},
		{"send_discuss_message", []string{"id", "4118239384"}, "discuss_message", map[string]any{"discuss": "周末聚餐", "discuss_id": discussID}},
	}
	for i, c := range cases {
		for _, v := range vias {
			t.Run(c.route+"/async=1/"+string(v), func(t *testing.T) {
				content := fmt.Sprintf("异步 %d %s", i, v)
				began := time.Now()
				code, body := e.with(t).call(v, c.route, append(c.kv, "content", content, "async", "1")...)
				if code != 200 {
					t.Fatalf("status %d: %s", code, body)
				}
				sameJSON(t, body, inExecution)
				m := awaitContent(t, reports.with(t), c.typ, content)
				checkSendReport(t, m, c.typ, content, began)
				fields(t, "report", m, c.want)
			})
			t.Run(c.route+"/async=0/"+string(v), func(t *testing.T) {
				content := fmt.Sprintf("同步 %d %s", i, v)
				began := time.Now()
				code, body := e.with(t).call(v, c.route, append(c.kv, "content", content, "async", "0")...)
				id := checkSendReply(t, code, body)
				m := awaitID(t, reports.with(t), c.typ, id)
				checkSendReport(t, m, c.typ, content, began)
			})
		}
		t.Run(c.route+"/async true in JSON", func(t *testing.T) {
			content := fmt.Sprintf("异步 JSON %d", i)
			body := map[string]any{"content": content, "async": true}
			body[c.kv[0]] = c.kv[1]
			code, reply := e.with(t).postJSON(c.route, body)
			if code != 200 {
				t.Fatalf("status %d: %s", code, reply)
			}
			sameJSON(t, reply, inExecution)
			awaitContent(t, reports.with(t), c.typ, content)
		})
		t.Run(c.route+"/async=1 unknown target", func(t *testing.T) {
			code, body := e.with(t).call(viaGET, c.route, c.kv[0], "1", "content", "x", "async", "1")
			if code != 200 || object(t, body)["code"] == num(0) {
				t.Errorf("status %d: %s, want a not-found reply", code, body)
			}
		})
	}
	for _, kv := range [][]string{
		{"group_id", "2617047292", "id", strconv.Itoa(perlMemberID)},
		{"discuss_id", "4118239384", "id", strconv.Itoa(discussMemberID)},
	} {
		for _, v := range vias {
			t.Run("send_sess_message/async=1 "+kv[0]+"/"+string(v), func(t *testing.T) {
				content := fmt.Sprintf("临时 %s %s", kv[0], v)
				began := time.Now()
				code, body := e.with(t).call(v, "send_sess_message", append(kv, "content", content, "async", "1")...)
				id := checkSendReply(t, code, body)
				m := awaitID(t, reports.with(t), "sess_message", id)
				checkSendReport(t, m, "sess_message", content, began)
			})
		}
	}
}
