package onebot

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/onebot/onebottest"
)

// The peer's account and roster in every test.
const (
	selfID    = 10001
	wangID    = 20001 // a friend (remark 王哥), a member of testGroup with card 王老师
	liID      = 20002 // a friend in no group
	ownerID   = 40001 // owner of testGroup
	strangeID = 40002 // a member of testGroup, not a friend
	otherID   = 40003 // a member of otherGroup only
	testGroup = 30001 // the account is an admin
	otherGrp  = 30002 // the account is a plain member
)

func peerOptions(f onebottest.Flavour) onebottest.Options {
	return onebottest.Options{
		Flavour: f, Token: "s3cret", SelfID: selfID, Nickname: "机器人", Heartbeat: time.Second,
		Friends: []onebottest.Friend{
			{UserID: wangID, Nickname: "老王", Remark: "王哥", Category: "同学"},
			{UserID: liID, Nickname: "小李", Category: "我的好友"},
		},
		Groups: []onebottest.Group{
			{GroupID: testGroup, Name: "测试群", Members: []onebottest.Member{
				{UserID: selfID, Nickname: "机器人", Role: "admin"},
				{UserID: wangID, Nickname: "老王", Card: "王老师"},
				{UserID: ownerID, Nickname: "群主", Role: "owner"},
				{UserID: strangeID, Nickname: "陌生人"},
			}},
			{GroupID: otherGrp, Name: "其他群", Members: []onebottest.Member{
				{UserID: selfID, Nickname: "机器人"},
				{UserID: otherID, Nickname: "路人甲", Role: "owner"},
			}},
		},
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type rig struct {
	peer *onebottest.Peer
	d    *Driver
	rec  *recorder
	done chan error
}

// start runs a driver against a fresh peer's forward WebSocket and waits for the login.
func start(t *testing.T, opts onebottest.Options, tune func(*Config)) *rig {
	t.Helper()
	peer := onebottest.New(opts)
	cfg := Config{URL: peer.Serve(t), AccessToken: opts.Token, CallTimeout: 2 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	r := run(t, cfg, peer)
	r.rec.running(t, 1)
	return r
}

func run(t *testing.T, cfg Config, peer *onebottest.Peer) *rig {
	t.Helper()
	d, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{peer: peer, d: d, rec: newRecorder(), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.done <- d.Run(ctx, r.rec) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not end within 5s")
		}
	})
	return r
}

func eachFlavour(t *testing.T, f func(t *testing.T, fl onebottest.Flavour)) {
	for _, fl := range onebottest.Flavours {
		t.Run(string(fl), func(t *testing.T) {
			t.Parallel()
			f(t, fl)
		})
	}
}

// The roster comes out in Mojo's shapes, with each flavour's extras where it has them.
func TestLoginRoster(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		ro := r.rec.logins[0]
		if ro.User.ID != selfID || ro.User.UID != selfID || ro.User.Name != "机器人" || ro.User.Account != "10001" {
			t.Errorf("user %+v", ro.User)
		}
		if want := []events.State{events.StateUpdating, events.StateRunning}; !slices.Equal(r.rec.states, want) {
			t.Errorf("states %v, want %v", r.rec.states, want)
		}
		wang := ro.Friend(wangID)
		if wang == nil || wang.Name != "老王" || wang.Markname != "王哥" || wang.DisplayName() != "王哥" {
			t.Fatalf("friend %+v", wang)
		}
		if wantCat := map[onebottest.Flavour]string{onebottest.NapCat: "同学"}[fl]; wang.Category != wantCat {
			t.Errorf("category %q, want %q", wang.Category, wantCat)
		}
		g := ro.Group(testGroup)
		if g == nil || g.Name != "测试群" || g.Role != events.GroupRoleManage || g.OwnerID != ownerID || g.MemberCount != 4 || g.MaxMember != 500 {
			t.Fatalf("group %+v", g)
		}
		if o := ro.Group(otherGrp); o.Role != events.GroupRoleAttend {
			t.Errorf("other group role %q", o.Role)
		}
		m := ro.Groups[0].Member[1]
		if m.ID != wangID || m.Card != "王老师" || m.Role != events.MemberRoleMember || m.DisplayName() != "王老师" {
			t.Errorf("member %+v", m)
		}
		if wantLevel := map[onebottest.Flavour]int{onebottest.NapCat: 5}[fl]; fl == onebottest.NapCat && m.Level != wantLevel {
			t.Errorf("level %d, want %d (NapCat's LV5)", m.Level, wantLevel)
		}
		if len(ro.Discusses) != 0 || ro.Discusses == nil {
			t.Errorf("discusses %v, want []", ro.Discusses)
		}
	})
}

// Private, group and temporary-session messages arrive as Openqq messages in every flavour,
// wherever the flavour puts a temporary session's group.
func TestIncomingMessages(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		r.peer.Private(wangID, onebottest.Text("你好 [CQ:face,id=1] &amp; "), onebottest.Face(14), onebottest.Image())
		r.peer.Group(testGroup, strangeID, onebottest.At(itoa(wangID)), onebottest.Text(" 在吗"))
		r.peer.Temp(testGroup, strangeID, onebottest.Text("临时"))
		r.rec.wait(t, "3 messages", func() bool { return len(r.rec.received) == 3 })
		want := []driver.Incoming{
			{Type: events.FriendMessage, SenderID: wangID, Content: "你好 [CQ:face,id=1] &amp; [微笑][图片]"},
			{Type: events.GroupMessage, SenderID: strangeID, GroupID: testGroup, Content: "@王老师 在吗"},
			{Type: events.SessMessage, SenderID: strangeID, GroupID: testGroup, Content: "临时"},
		}
		for i, w := range want {
			got := r.rec.received[i]
			if got.Type != w.Type || got.SenderID != w.SenderID || got.GroupID != w.GroupID || got.Content != w.Content {
				t.Errorf("message %d: %+v, want %+v", i, got, w)
			}
			if !strings.HasPrefix(string(got.Raw), `[{"type":`) {
				t.Errorf("message %d: raw %s, want the segments", i, got.Raw)
			}
			if time.Since(got.Time) > time.Minute {
				t.Errorf("message %d: time %v", i, got.Time)
			}
		}
	})
}

// The account's own messages from elsewhere are reported as sent, in both styles; the ones
// the driver sent itself are not reported twice.
func TestSelfMessages(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		opts := peerOptions(fl)
		opts.ReportSelf = true
		r := start(t, opts, nil)
		ctx := context.Background()
		if err := r.d.Send(ctx, driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "from the API"}); err != nil {
			t.Fatal(err)
		}
		r.peer.SentElsewhere("private", liID, 0, onebottest.Text("from my phone"))
		r.peer.SentElsewhere("group", 0, testGroup, onebottest.Text("in the group"))
		r.rec.wait(t, "2 own messages", func() bool { return len(r.rec.sent) >= 2 })
		got := r.rec.sent
		if len(got) != 2 || got[0].Type != events.FriendMessage || got[0].TargetID != liID || got[0].Content != "from my phone" ||
			got[1].Type != events.GroupMessage || got[1].GroupID != testGroup || got[1].Content != "in the group" {
			t.Errorf("sent %+v", got)
		}
		if len(r.rec.received) != 0 {
			t.Errorf("own messages reported as received: %+v", r.rec.received)
		}
	})
}

// Sends go out as text segments to the right action; mute is always an explicit number of
// seconds; kick does not block re-joining.
func TestActions(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		ctx := context.Background()
		sends := []struct {
			out    driver.Outgoing
			action string
			user   int64
			group  int64
		}{
			{driver.Outgoing{Type: events.FriendMessage, TargetID: wangID, Content: "[CQ:at,qq=all] hi"}, "send_private_msg", wangID, 0},
			{driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "群里好"}, "send_group_msg", 0, testGroup},
			{driver.Outgoing{Type: events.SessMessage, TargetID: strangeID, GroupID: testGroup, Content: "私聊"}, "send_private_msg", strangeID, testGroup},
		}
		for i, s := range sends {
			if err := r.d.Send(ctx, s.out); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			calls := r.peer.Calls(s.action)
			c := calls[len(calls)-1]
			if c.Text() != s.out.Content || c.Int("user_id") != s.user || c.Int("group_id") != s.group {
				t.Errorf("send %d: %s %v", i, c.Action, c.Params)
			}
		}
		var se *driver.SendError
		if err := r.d.Send(ctx, driver.Outgoing{Type: events.FriendMessage, TargetID: 999, Content: "x"}); !errors.As(err, &se) || se.Code != -3 {
			t.Errorf("send to a stranger: %v", err)
		}
		if err := r.d.Mute(ctx, testGroup, []int64{strangeID, wangID}, 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		bans := r.peer.Calls("set_group_ban")
		if len(bans) != 2 || bans[0].Int("duration") != 600 || bans[1].Int("user_id") != wangID {
			t.Errorf("bans %+v", bans)
		}
		if err := r.d.Kick(ctx, testGroup, []int64{strangeID}); err != nil {
			t.Fatal(err)
		}
		if k := r.peer.WaitCall(t, "set_group_kick", 1); k.Params["reject_add_request"] != false || k.Int("user_id") != strangeID {
			t.Errorf("kick %+v", k)
		}
		r.rec.wait(t, "lose_group_member", func() bool { return hasChange(r.rec.changes, events.EventLoseGroupMember, strangeID) })
	})
}

func hasChange(cs []driver.Change, kind string, id int64) bool {
	return slices.ContainsFunc(cs, func(c driver.Change) bool {
		return c.Kind == kind && (c.Member.ID == id || c.Friend.ID == id || c.Group.ID == id)
	})
}

// Notices become roster changes and property changes; a friend who is gone is found by the
// periodic comparison, as OneBot has no event for it.
func TestNotices(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), func(c *Config) { c.UpdateInterval = 50 * time.Millisecond })
		r.peer.Join(testGroup, onebottest.Member{UserID: 50001, Nickname: "新人"})
		r.peer.Leave(otherGrp, otherID)
		r.peer.AddFriend(onebottest.Friend{UserID: 50002, Nickname: "新朋友", Remark: "备注"})
		r.peer.SetCard(testGroup, wangID, "王校长")
		r.peer.SetAdmin(testGroup, strangeID, true)
		r.peer.RemoveFriend(liID)
		r.rec.wait(t, "changes", func() bool {
			return hasChange(r.rec.changes, events.EventNewGroupMember, 50001) && hasChange(r.rec.changes, events.EventLoseGroupMember, otherID) &&
				hasChange(r.rec.changes, events.EventNewFriend, 50002) && hasChange(r.rec.changes, events.EventLoseFriend, liID) &&
				len(r.rec.props) >= 2
		})
		for _, c := range r.rec.changes {
			switch {
			case c.Kind == events.EventNewGroupMember && (c.Member.Name != "新人" || c.GroupID != testGroup):
				t.Errorf("new member %+v", c)
			case c.Kind == events.EventNewFriend && (c.Friend.Name != "新朋友" || c.Friend.Markname != "备注"):
				t.Errorf("new friend %+v", c)
			}
		}
		want := []driver.PropertyChange{
			{GroupID: testGroup, MemberID: wangID, Property: driver.PropertyCard, New: "王校长"},
			{GroupID: testGroup, MemberID: strangeID, Property: driver.PropertyRole, New: events.MemberRoleAdmin},
		}
		if !slices.Equal(r.rec.props[:2], want) {
			t.Errorf("properties %+v, want %+v", r.rec.props, want)
		}
	})
}

// A group's new name comes from NapCat's notify group_name at once, and from the periodic
// comparison elsewhere; the account's nickname, its signature (NapCat's long_nick) and a
// friend's nickname come from the comparison, as no implementation tells of them.
func TestPropertiesFromThePeer(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		opts := peerOptions(fl)
		opts.Signature = "旧签名"
		r := start(t, opts, func(c *Config) { c.UpdateInterval = 50 * time.Millisecond })
		r.peer.SetGroupName(testGroup, "改名群")
		r.peer.SetNickname("新机器人")
		r.peer.SetSignature("新签名")
		r.peer.SetFriendNickname(liID, "李四改名")
		want := []driver.PropertyChange{
			{GroupID: testGroup, Property: driver.PropertyName, New: "改名群"},
			{User: true, Property: driver.PropertyName, New: "新机器人"},
			{FriendID: liID, Property: driver.PropertyName, New: "李四改名"},
		}
		if fl == onebottest.NapCat {
			want = append(want, driver.PropertyChange{User: true, Property: driver.PropertySignature, New: "新签名"})
		}
		r.rec.wait(t, "property changes", func() bool {
			for _, w := range want {
				if !slices.Contains(r.rec.props, w) {
					return false
				}
			}
			return true
		})
		r.rec.mu.Lock()
		defer r.rec.mu.Unlock()
		for _, p := range r.rec.props {
			if p.User && p.Property == driver.PropertySignature && fl != onebottest.NapCat {
				t.Errorf("%s reported a signature it does not have: %+v", fl, p)
			}
		}
	})
}

// Friend and group requests are published with a flag and answered through it (or through
// who asked).
func TestRequests(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		flag := r.peer.FriendRequest(60001, "加个好友")
		r.peer.GroupRequest(testGroup, 60002, "add", "让我进群")
		r.rec.wait(t, "2 requests", func() bool { return len(r.rec.pubs) == 2 })
		fr, ok := r.rec.params[0][0].(events.FriendRequest)
		if !ok || r.rec.pubs[0] != events.EventFriendRequest || fr.Flag != flag || fr.ID != 60001 || fr.Comment != "加个好友" || fr.Name == "" {
			t.Fatalf("friend request %v %+v", r.rec.pubs[0], r.rec.params[0])
		}
		gr, ok := r.rec.params[1][0].(events.GroupRequest)
		if !ok || gr.GroupID != testGroup || gr.Group != "测试群" || gr.SubType != "add" || gr.UID != 60002 {
			t.Fatalf("group request %+v", r.rec.params[1])
		}
		ctx := context.Background()
		if err := r.d.AnswerFriend(ctx, driver.FriendAnswer{Flag: flag, Approve: true, Remark: "新同学"}); err != nil {
			t.Fatal(err)
		}
		r.rec.wait(t, "new friend", func() bool { return hasChange(r.rec.changes, events.EventNewFriend, 60001) })
		if err := r.d.AnswerGroup(ctx, driver.GroupAnswer{UserID: 60002, GroupID: testGroup, Approve: false, Reason: "不行"}); err != nil {
			t.Fatal(err)
		}
		c := r.peer.WaitCall(t, "set_group_add_request", 1)
		if c.Params["flag"] != gr.Flag || c.Params["sub_type"] != "add" || c.Params["approve"] != false || c.Params["reason"] != "不行" {
			t.Errorf("answer %+v", c.Params)
		}
		if err := r.d.AnswerFriend(ctx, driver.FriendAnswer{UserID: 60001}); !errors.Is(err, driver.ErrUnknown) {
			t.Errorf("answering twice: %v, want ErrUnknown", err)
		}
	})
}

// Duplicate events from the peer are reported once; garbage frames are skipped without
// costing the connection; repeated answers to one call do no harm.
func TestFaultsKeepTheConnection(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		r.peer.Duplicate(true)
		r.peer.RepeatAnswers(true)
		r.peer.Private(wangID, onebottest.Text("once"))
		r.peer.Join(testGroup, onebottest.Member{UserID: 50001, Nickname: "新人"})
		for _, g := range [][]byte{[]byte("not json"), []byte(`{"foo":1}`), []byte(`[1,2]`), []byte(`{"post_type":"message","user_id":"x","message_id":{}}`), {0xff, 0xfe}} {
			r.peer.SendRaw(g, false)
		}
		r.peer.SendRaw([]byte{0, 1, 2}, true)
		r.peer.Duplicate(false)
		r.peer.Private(wangID, onebottest.Text("marker"))
		r.rec.wait(t, "marker", func() bool {
			return len(r.rec.received) > 0 && r.rec.received[len(r.rec.received)-1].Content == "marker"
		})
		if n := len(r.rec.received); n != 2 {
			t.Errorf("%d messages reported, want 2: %+v", n, r.rec.received)
		}
		joins := 0
		for _, c := range r.rec.changes {
			if c.Kind == events.EventNewGroupMember {
				joins++
			}
		}
		if joins != 1 {
			t.Errorf("%d new_group_member, want 1", joins)
		}
		if err := r.d.Send(context.Background(), driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "ok"}); err != nil {
			t.Errorf("send after faults: %v", err)
		}
		if len(r.rec.logins) != 1 {
			t.Errorf("%d logins, want 1: the connection must survive", len(r.rec.logins))
		}
	})
}

// A dropped socket is survived: loading, then a new connection, the roster fetched again,
// and running; sends fail clearly in between.
func TestReconnect(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		r.peer.RemoveFriend(liID) // the refetch shows it
		r.peer.Drop()
		ro := r.rec.running(t, 2)
		if ro.Friend(liID) != nil {
			t.Error("roster not fetched again")
		}
		want := []events.State{events.StateUpdating, events.StateRunning, events.StateLoading, events.StateUpdating, events.StateRunning}
		if !slices.Equal(r.rec.states, want) {
			t.Errorf("states %v, want %v", r.rec.states, want)
		}
		if err := r.d.Send(context.Background(), driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "back"}); err != nil {
			t.Errorf("send after reconnect: %v", err)
		}
	})
}

// A peer that hangs with its socket open is found by its missing heartbeats.
func TestSilentPeer(t *testing.T) {
	opts := peerOptions(onebottest.GoCQHTTP)
	opts.Heartbeat = 30 * time.Millisecond
	// The idle time-out stays at its 90s: only the heartbeats' interval finds this in time.
	r := start(t, opts, nil)
	r.peer.Freeze(true)
	r.rec.wait(t, "loading", func() bool { return slices.Contains(r.rec.states, events.StateLoading) })
	r.peer.Freeze(false)
	r.rec.running(t, 2)
}

// A stalled call times out and is not sent again; a send that timed out is "no result".
func TestStalledCall(t *testing.T) {
	r := start(t, peerOptions(onebottest.NapCat), func(c *Config) { c.CallTimeout = 200 * time.Millisecond })
	r.peer.Stall("send_group_msg", true)
	err := r.d.Send(context.Background(), driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "slow"})
	var se *driver.SendError
	if !errors.As(err, &se) || se.Code != -2 || !strings.Contains(se.Info, "no answer in time") {
		t.Fatalf("Send: %v", err)
	}
	if n := len(r.peer.Calls("send_group_msg")); n != 1 {
		t.Errorf("%d send_group_msg calls, want 1 (no blind resend)", n)
	}
	r.peer.Stall("send_group_msg", false)
	if err := r.d.Send(context.Background(), driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "fast"}); err != nil {
		t.Errorf("send after the stall: %v", err)
	}
}

// The account going offline behind a live connection is the same "away" state.
func TestOffline(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		opts := peerOptions(fl)
		opts.Heartbeat = 20 * time.Millisecond
		r := start(t, opts, nil)
		r.peer.SetOnline(false)
		r.rec.wait(t, "loading", func() bool { return slices.Contains(r.rec.states, events.StateLoading) })
		r.peer.SetOnline(true)
		r.rec.running(t, 2)
	})
}

// A wrong or missing token stops Run at start with a fatal error that says so, whichever way
// the flavour refuses it.
func TestWrongToken(t *testing.T) {
	for _, tok := range []string{"wrong", ""} {
		eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
			peer := onebottest.New(peerOptions(fl))
			d, err := New(Config{URL: peer.Serve(t), AccessToken: tok, CallTimeout: 2 * time.Second}, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = d.Run(ctx, newRecorder())
			if !errors.Is(err, driver.ErrFatal) || !errors.Is(err, errAuth) || !strings.Contains(err.Error(), "ONEBOT_ACCESS_TOKEN") {
				t.Fatalf("Run: %v", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// The reverse WebSocket takes each flavour's token scheme, serves the connection, and takes
// the next one when the peer reconnects.
func TestReverse(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		peer := onebottest.New(peerOptions(fl))
		addr := make(chan net.Addr, 1)
		r := run(t, Config{ReverseAddr: "127.0.0.1:0", AccessToken: "s3cret", CallTimeout: 2 * time.Second,
			OnListen: func(a net.Addr) { addr <- a }}, peer)
		peer.DialReverse(t, "ws://"+(<-addr).String()+"/onebot/v11/ws", 20*time.Millisecond)
		r.rec.running(t, 1)
		peer.Private(wangID, onebottest.Text("反向"))
		r.rec.wait(t, "message", func() bool { return len(r.rec.received) == 1 })
		peer.Drop()
		r.rec.running(t, 2)
		if err := r.d.Send(context.Background(), driver.Outgoing{Type: events.FriendMessage, TargetID: wangID, Content: "回"}); err != nil {
			t.Errorf("send: %v", err)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
