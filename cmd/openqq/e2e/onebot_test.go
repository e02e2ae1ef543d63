package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/cmd/openqq/allinone"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/onebot"
	"github.com/openqq/openqq/services/session/driver/onebot/onebottest"
)

// The fake OneBot peer's account and roster (services/session/driver/onebot/onebottest).
const (
	obSelf     = 10001
	obWang     = 20001 // a friend (remark 王哥), card 王老师 in obGroup
	obLi       = 20002 // a friend in no group
	obOwner    = 40001 // owner of obGroup
	obStranger = 40002 // a plain member of obGroup, not a friend
	obGroup    = 30001 // 测试群: the account is an admin
)

func obOptions(f onebottest.Flavour) onebottest.Options {
	return onebottest.Options{
		Flavour: f, Token: "e2e-s3cret", SelfID: obSelf, Nickname: "机器人", Heartbeat: time.Second,
		Friends: []onebottest.Friend{
			{UserID: obWang, Nickname: "老王", Remark: "王哥", Category: "同学"},
			{UserID: obLi, Nickname: "小李"},
		},
		Groups: []onebottest.Group{{GroupID: obGroup, Name: "测试群", Members: []onebottest.Member{
			{UserID: obSelf, Nickname: "机器人", Role: "admin"},
			{UserID: obWang, Nickname: "老王", Card: "王老师"},
			{UserID: obOwner, Nickname: "群主", Role: "owner"},
			{UserID: obStranger, Nickname: "陌生人"},
		}}},
	}
}

// withOneBot runs the session's onebot driver against the peer's forward WebSocket.
func withOneBot(peerURL, token string) option {
	return func(s *session.Config, _ *gateway.Config) {
		s.Driver = "onebot"
		s.DriverConfig = onebot.Config{URL: peerURL, AccessToken: token, CallTimeout: 2 * time.Second,
			ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond}
	}
}

// startOneBot starts openqq against a fresh fake peer of flavour f and waits for running.
func startOneBot(t *testing.T, f onebottest.Flavour, opts ...option) (*env, *onebottest.Peer) {
	t.Helper()
	o := obOptions(f)
	peer := onebottest.New(o)
	e := start(t, append([]option{withOneBot(peer.Serve(t), o.Token)}, opts...)...)
	return e, peer
}

func eachFlavour(t *testing.T, f func(t *testing.T, fl onebottest.Flavour)) {
	for _, fl := range onebottest.Flavours {
		t.Run(string(fl), func(t *testing.T) {
			t.Parallel()
			f(t, fl)
		})
	}
}

// Every route answers as COMPAT.md says, through the gateway, with each flavour; sends,
// mutes and kicks become the right OneBot actions.
func TestOneBotRoutes(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		e, peer := startOneBot(t, fl)
		type reply = map[string]any
		getObj := func(route string, kv ...string) reply {
			t.Helper()
			code, body := e.get(route, q(kv...))
			if code != 200 {
				t.Fatalf("%s: HTTP %d %s", route, code, body)
			}
			return decode[reply](t, body)
		}
		getList := func(route string, kv ...string) []reply {
			t.Helper()
			code, body := e.get(route, q(kv...))
			if code != 200 {
				t.Fatalf("%s: HTTP %d %s", route, code, body)
			}
			return decode[[]reply](t, body)
		}
		expect := func(route string, want string, kv ...string) {
			t.Helper()
			if code, body := e.get(route, q(kv...)); code != 200 || string(body) != want {
				t.Errorf("%s %v: HTTP %d %s, want %s", route, kv, code, body, want)
			}
		}

		if u := getObj("get_user_info"); u["id"] != float64(obSelf) || u["uid"] != float64(obSelf) || u["name"] != "机器人" || u["account"] != "10001" {
			t.Errorf("get_user_info %v", u)
		}
		friends := getList("get_friend_info")
		if len(friends) != 2 || friends[0]["uid"] != float64(obWang) || friends[0]["markname"] != "王哥" || friends[0]["name"] != "老王" {
			t.Errorf("get_friend_info %v", friends)
		}
		groups := getList("get_group_info")
		if len(groups) != 1 || groups[0]["role"] != "manage" || groups[0]["owner_uid"] != float64(obOwner) || len(groups[0]["member"].([]any)) != 4 {
			t.Errorf("get_group_info %v", groups)
		}
		if basic := getList("get_group_basic_info"); len(basic) != 1 || basic[0]["member"] != nil || basic[0]["name"] != "测试群" {
			t.Errorf("get_group_basic_info %v", basic)
		}
		expect("get_discuss_info", "[]")
		if found := getList("search_friend", "markname", "王哥"); len(found) != 1 || found[0]["id"] != float64(obWang) {
			t.Errorf("search_friend %v", found)
		}
		expect("search_friend", `{"code":100,"status":"object not found"}`, "name", "nobody")
		if found := getList("search_group", "name", "测试群"); len(found) != 1 {
			t.Errorf("search_group %v", found)
		}

		sent := getObj("send_friend_message", "uid", "20001", "content", "[CQ:face,id=14] hi\n")
		if sent["code"] != float64(0) || sent["status"] != "发送成功" || sent["info"] != "发送正常" || sent["id"] == nil {
			t.Errorf("send_friend_message %v", sent)
		}
		if c := peer.WaitCall(t, "send_private_msg", 1); c.Text() != "[CQ:face,id=14] hi\n" || c.Int("user_id") != obWang {
			t.Errorf("send_private_msg %v", c.Params)
		}
		expect("send_friend_message", `{"code":100,"id":null,"status":"friend not found"}`, "uid", "999", "content", "x")
		if sent := getObj("send_group_message", "name", "测试群", "content", "大家好"); sent["code"] != float64(0) {
			t.Errorf("send_group_message %v", sent)
		}
		if c := peer.WaitCall(t, "send_group_msg", 1); c.Text() != "大家好" || c.Int("group_id") != obGroup {
			t.Errorf("send_group_msg %v", c.Params)
		}
		expect("send_group_message", `{"code":0,"status":"request already in execution"}`, "uid", "30001", "content", "async", "async", "1")
		if c := peer.WaitCall(t, "send_group_msg", 2); c.Text() != "async" {
			t.Errorf("async send_group_msg %v", c.Params)
		}
		expect("send_group_message", `{"code":101,"id":null,"status":"group not found"}`, "uid", "1", "content", "x")
		expect("send_discuss_message", `{"code":102,"id":null,"status":"discuss not found"}`, "id", "1", "content", "x")
		if sent := getObj("send_sess_message", "group_uid", "30001", "uid", "40002", "content", "临时会话"); sent["code"] != float64(0) {
			t.Errorf("send_sess_message %v", sent)
		}
		if c := peer.WaitCall(t, "send_private_msg", 2); c.Int("user_id") != obStranger || c.Int("group_id") != obGroup || c.Text() != "临时会话" {
			t.Errorf("temp send_private_msg %v", c.Params)
		}
		expect("send_sess_message", `{"code":103,"id":null,"status":"group member not found"}`, "group_uid", "30001", "uid", "1", "content", "x")
		expect("send_sess_message", `{"code":104,"id":null,"status":"discuss member not found"}`, "discuss_id", "1", "uid", "1", "content", "x")

		expect("shutup_group_member", `{"code":0,"status":"success"}`, "group_uid", "30001", "member_uid", "40002", "time", "2")
		if c := peer.WaitCall(t, "set_group_ban", 1); c.Int("duration") != 120 || c.Int("user_id") != obStranger || c.Int("group_id") != obGroup {
			t.Errorf("set_group_ban %v", c.Params)
		}
		expect("shutup_group_member", `{"code":201,"status":"failure"}`, "group_uid", "30001", "member_uid", "40001", "time", "2")
		expect("kick_group_member", `{"code":0,"status":"success"}`, "group_uid", "30001", "member_uid", "40002")
		if c := peer.WaitCall(t, "set_group_kick", 1); c.Int("user_id") != obStranger {
			t.Errorf("set_group_kick %v", c.Params)
		}
		expect("answer_friend_request", `{"code":100,"status":"request not found"}`, "uid", "123")
		expect("answer_friend_request", `{"code":201,"status":"failure"}`, "flag", "no-such-flag")
		if info := getObj("get_client_info"); info["code"] != float64(0) || info["state"] != "running" {
			t.Errorf("get_client_info %v", info)
		}
	})
}

// Incoming private, group and temporary-session messages reach qq.events.* in the Openqq
// shape (garbage frames before them are skipped); requests arrive as extension events and are
// answered through the new routes.
func TestOneBotEvents(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		e, peer := startOneBot(t, fl)
		it := e.subscribe("")
		peer.SendRaw([]byte("garbage {"), false)
		peer.SendRaw([]byte{0xde, 0xad}, true)
		peer.Private(obWang, onebottest.Text("你好"), onebottest.Face(14))
		peer.Group(obGroup, obWang, onebottest.Text("群消息 "), onebottest.Image())
		peer.Temp(obGroup, obStranger, onebottest.Text("临时"))

		m := it.message(events.FriendMessage)
		if m.PostType != "receive_message" || m.Class != "recv" || m.Content != "你好[微笑]" || m.Sender.Name != "王哥" ||
			m.Sender.ID != obWang || m.Sender.UID != obWang || m.Receiver.Name != "机器人" || m.Receiver.UID != obSelf || m.ID == 0 || m.Time == 0 {
			t.Errorf("friend_message %+v %+v %+v", m, m.Sender, m.Receiver)
		}
		if !strings.Contains(string(m.RawContent), `"type":"face"`) {
			t.Errorf("raw_content %s", m.RawContent)
		}
		g := it.message(events.GroupMessage)
		if g.Content != "群消息 [图片]" || g.Sender.Name != "王老师" || g.GroupRef == nil || g.GroupRef.Name != "测试群" || g.GroupRef.UID != obGroup {
			t.Errorf("group_message %+v %+v %+v", g, g.Sender, g.GroupRef)
		}
		s := it.message(events.SessMessage)
		if s.Content != "临时" || s.Via != "group" || s.Sender.UID != obStranger || s.GroupRef == nil || s.GroupRef.ID != obGroup {
			t.Errorf("sess_message %+v %+v", s, s.GroupRef)
		}

		flag := peer.FriendRequest(60001, "加我")
		ev := it.event(events.EventFriendRequest)
		fr := decode[events.FriendRequest](t, ev.Params[0])
		if fr.Flag != flag || fr.UID != 60001 || fr.Comment != "加我" {
			t.Errorf("friend_request %s", ev.Params[0])
		}
		if code, body := e.get("answer_friend_request", q("flag", flag, "approve", "1", "remark", "新朋友")); code != 200 || string(body) != `{"code":0,"status":"success"}` {
			t.Errorf("answer_friend_request: %d %s", code, body)
		}
		nf := it.event(events.EventNewFriend)
		if f := decode[events.Friend](t, nf.Params[0]); f.UID != 60001 || f.Markname != "新朋友" {
			t.Errorf("new_friend %s", nf.Params[0])
		}
		peer.GroupRequest(obGroup, 60002, "add", "让我进")
		gr := decode[events.GroupRequest](t, it.event(events.EventGroupRequest).Params[0])
		if gr.Group != "测试群" || gr.SubType != "add" {
			t.Errorf("group_request %+v", gr)
		}
		if code, body := e.get("answer_group_request", q("uid", "60002", "group_uid", "30001", "approve", "0", "reason", "不行")); code != 200 || string(body) != `{"code":0,"status":"success"}` {
			t.Errorf("answer_group_request: %d %s", code, body)
		}
		if c := peer.WaitCall(t, "set_group_add_request", 1); c.Params["approve"] != false || c.Params["reason"] != "不行" {
			t.Errorf("set_group_add_request %v", c.Params)
		}
	})
}

// post_api sees the messages in the Openqq shape, and its answers go back through OneBot: a
// reply as send_group_msg, a shutup as set_group_ban in seconds.
func TestOneBotPostAPI(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		post := proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: func(r *proctest.Request) proctest.Answer {
			var m map[string]any
			_ = json.Unmarshal(r.Body, &m)
			a := proctest.Answer{ContentType: "application/json"}
			if m["type"] == events.GroupMessage && m["post_type"] == "receive_message" {
				a.Body = `{"reply":"收到: ` + m["content"].(string) + `","shutup":1,"shutup_time":90}`
			}
			return a
		}})
		e, peer := startOneBot(t, fl)
		rep, err := reporter.New(e.nc, reporter.Config{PostAPI: []string{post.URL}, PostEvent: true,
			PostRetryMin: 20 * time.Millisecond, PostRetryMax: 100 * time.Millisecond}, natstest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- rep.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })

		peer.Group(obGroup, obStranger, onebottest.Text("刷屏"))
		if c := peer.WaitCall(t, "send_group_msg", 1); c.Text() != "收到: 刷屏" || c.Int("group_id") != obGroup {
			t.Errorf("reply %v", c.Params)
		}
		if c := peer.WaitCall(t, "set_group_ban", 1); c.Int("duration") != 90 || c.Int("user_id") != obStranger {
			t.Errorf("shutup %v", c.Params)
		}
		var got map[string]any
		for _, r := range post.Requests() {
			var p map[string]any
			_ = json.Unmarshal(r.Body, &p)
			if p["type"] == events.GroupMessage && p["class"] == "recv" {
				got = p
			}
		}
		if got == nil || got["group"] != "测试群" || got["sender_uid"] != float64(obStranger) || got["sender"] != "陌生人" || got["content"] != "刷屏" {
			t.Errorf("post_api got %v", got)
		}
	})
}

// The peer dropping its socket mid-traffic is survived: loading while away (the API says so
// at once), the roster fetched again, login [0] and running; no crash, sends work after.
func TestOneBotReconnect(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		e, peer := startOneBot(t, fl)
		it := e.subscribe("")
		var wg sync.WaitGroup
		wg.Go(func() { // traffic while it happens
			for range 20 {
				if resp, err := e.http.Get(e.base + "/openqq/send_group_message?uid=30001&content=busy"); err == nil {
					resp.Body.Close()
				}
			}
		})
		peer.RemoveFriend(obLi)            // only a fresh roster knows
		peer.Stall("get_login_info", true) // hold the reconnection in "updating"
		peer.Drop()
		changes := [][2]events.State{}
		for len(changes) < 2 {
			ev := it.event(events.EventStateChange)
			changes = append(changes, [2]events.State{decode[events.State](t, ev.Params[0]), decode[events.State](t, ev.Params[1])})
		}
		if changes[0] != [2]events.State{events.StateRunning, events.StateLoading} || changes[1] != [2]events.State{events.StateLoading, events.StateUpdating} {
			t.Errorf("state changes %v", changes)
		}
		if code, body := e.get("get_friend_info", nil); code != 200 || string(body) != `{"code":-2,"status":"client not ready: updating"}` {
			t.Errorf("while away: %d %s", code, body)
		}
		peer.Stall("get_login_info", false) // the held call times out; the next connection works
		login := it.event(events.EventLogin)
		if string(login.Params[0]) != "0" {
			t.Errorf("login %s", login.Params)
		}
		e.waitState(events.StateRunning)
		wg.Wait()
		if friends := e.friendInfo(); len(friends) != 1 || fmt.Sprint(friends[0]["uid"]) != "20001" {
			t.Errorf("roster not fetched again: %v", friends)
		}
		if code, body := e.get("send_friend_message", q("uid", "20001", "content", "back")); code != 200 || !strings.Contains(string(body), `"code":0`) {
			t.Errorf("send after reconnect: %d %s", code, body)
		}
	})
}

// The reverse WebSocket through the gateway: the peer dials openqq with its own token scheme.
func TestOneBotReverse(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		o := obOptions(fl)
		peer := onebottest.New(o)
		var once sync.Once
		e := start(t, func(s *session.Config, _ *gateway.Config) {
			s.Driver = "onebot"
			s.DriverConfig = onebot.Config{ReverseAddr: "127.0.0.1:0", AccessToken: o.Token, CallTimeout: 2 * time.Second,
				OnListen: func(a net.Addr) {
					once.Do(func() { peer.DialReverse(t, "ws://"+a.String()+"/onebot/v11/ws", 50*time.Millisecond) })
				}}
		})
		it := e.subscribe("")
		peer.Private(obWang, onebottest.Text("反向你好"))
		if m := it.message(events.FriendMessage); m.Content != "反向你好" {
			t.Errorf("message %+v", m)
		}
		if code, body := e.get("send_friend_message", q("uid", "20001", "content", "回")); code != 200 || !strings.Contains(string(body), `"code":0`) {
			t.Errorf("send: %d %s", code, body)
		}
	})
}

// A wrong token stops openqq at start with an error that names the setting.
func TestOneBotWrongToken(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		peer := onebottest.New(obOptions(fl))
		cfg := allinone.Config{
			NATS: embednats.Config{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir(), DontListen: true},
			Session: session.Config{Driver: "onebot", ControlDelay: 100 * time.Millisecond,
				DriverConfig: onebot.Config{URL: peer.Serve(t), AccessToken: "wrong", CallTimeout: 2 * time.Second}},
			Gateway: gateway.Config{Addr: "127.0.0.1:0", APITimeout: 2 * time.Second, MaxBodyBytes: 1 << 20},
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := allinone.Run(ctx, cfg, natstest.Logger(t))
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "refused the access token (ONEBOT_ACCESS_TOKEN") {
			t.Fatalf("Run: %v", err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("ran into the time-out instead of stopping")
		}
	})
}
