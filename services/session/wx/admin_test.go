package wx

import (
	"bytes"
	"image"
	_ "image/jpeg" // the groups' avatars
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

func TestRevokeMessage(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	id := sentID(t, "send", v.call(wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "说错了"}), wang.ID)

	r := v.call(wx.RouteRevokeMessage, events.Params{"id": id})
	if code(t, r) != 0 || r["status"] != "revoke success" || r["id"] != id {
		t.Errorf("revoke: %v", r)
	}
	if got := v.sentTo(wang.ID); len(got) != 1 || !got[0].Revoked {
		t.Errorf("WeChat's copy: %+v, want revoked", got)
	}
	// A failure is not code 0 (Mojo's was).
	for name, x := range map[string]string{
		"again":           id,
		"unknown message": "123:" + wang.ID,
		"other peer":      strings.Split(id, ":")[0] + ":" + v.friend("表妹").ID,
		"not MsgID:peer":  "12345",
	} {
		r := v.call(wx.RouteRevokeMessage, events.Params{"id": x})
		if code(t, r) != events.CodeFailure || r["status"] != "revoke failure" || r["id"] != x {
			t.Errorf("revoke %s: %v, want code 201 revoke failure with the id", name, r)
		}
	}
	for _, p := range []events.Params{{}, {"id": ""}} {
		r := v.call(wx.RouteRevokeMessage, p)
		if idv, ok := r["id"]; code(t, r) != -1 || r["status"] != "msg id not found" || !ok || idv != nil {
			t.Errorf("revoke %v: %v, want {id:null, code:-1, msg id not found}", p, r)
		}
	}
}

func TestCreateGroup(t *testing.T) {
	v := start(t, nil)
	a, b := v.friend("老王"), v.friend("表妹")
	r := v.call(wx.RouteCreateGroup, events.Params{"friends": a.ID + "," + b.ID + "," + a.ID, "displayname": "新群"})
	gid, _ := r["group_id"].(string)
	if code(t, r) != 0 || r["status"] != "success" || !wx.IsGroupID(gid) {
		t.Fatalf("create_group: %v", r)
	}
	g := v.group("新群")
	if g.ID != gid || len(g.Member) != 3 {
		t.Errorf("the new group in the roster: %+v", g)
	}
	ev := v.item(events.EventNewGroup, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), gid) })
	if ev["post_type"] != events.PostEvent {
		t.Errorf("new_group: %v", ev)
	}
	// The seed's spelling.
	r = v.call(wx.RouteCreateGroup, events.Params{"friend": a.ID, "displayname": "旧拼写"})
	want(t, "create_group friend=", r, 0, "success")

	want(t, "no friends", v.call(wx.RouteCreateGroup, events.Params{"displayname": "x"}), events.CodeMemberEmpty, "friend id empty")
	want(t, "blank friends", v.call(wx.RouteCreateGroup, events.Params{"friends": " , ,"}), events.CodeMemberEmpty, "friend id empty")
	want(t, "unknown friend", v.call(wx.RouteCreateGroup, events.Params{"friends": a.ID + ",@nobody"}), 100, "friend id @nobody not found")
	// WeChat refuses a group with an official account.
	r = v.call(wx.RouteCreateGroup, events.Params{"friends": v.friend(sim.XiaoiceAccount).ID})
	if idv, ok := r["id"]; code(t, r) != events.CodeFailure || r["status"] != "failure" || !ok || idv != nil {
		t.Errorf("refused create_group: %v", r)
	}
	// Over MEMBERS_MAX.
	var many []string
	for range 101 {
		many = append(many, "@x"+strings.Repeat("a", len(many)+1))
	}
	want(t, "too many friends", v.call(wx.RouteCreateGroup, events.Params{"friends": strings.Join(many, ",")}), events.CodeBadRequest, "")
}

func TestInviteAndKick(t *testing.T) {
	v := start(t, nil)
	own := v.group(sim.OwnGroupName)
	newcomer := v.friend("班长") // a friend not in the group
	r := v.call(wx.RouteInviteFriend, events.Params{"id": own.ID, "friends": newcomer.ID})
	want(t, "invite_friend", r, 0, "success")
	if v.p.ro == nil || !inGroup(v, own.ID, newcomer.ID) {
		t.Fatal("the invited friend is not a member")
	}
	v.item(events.EventNewGroupMember, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), newcomer.ID) })

	want(t, "invite to an unknown group", v.call(wx.RouteInviteFriend, events.Params{"id": "@@nope", "friends": newcomer.ID}), 100, "object not found")
	want(t, "invite nobody", v.call(wx.RouteInviteFriend, events.Params{"displayname": sim.OwnGroupName}), events.CodeMemberEmpty, "friend id empty")
	want(t, "invite a stranger", v.call(wx.RouteInviteFriend, events.Params{"id": own.ID, "friend": "@nobody"}), 100, "friend id @nobody not found")

	// Kick, both spellings.
	r = v.call(wx.RouteKickGroupMember, events.Params{"displayname": sim.OwnGroupName, "members": newcomer.ID})
	want(t, "kick_group_member", r, 0, "success")
	if inGroup(v, own.ID, newcomer.ID) {
		t.Error("the kicked member is still in the group")
	}
	v.item(events.EventLoseGroupMember, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), newcomer.ID) })
	stranger := own.Member[len(own.Member)-1]
	want(t, "kick member=", v.call(wx.RouteKickGroupMember, events.Params{"id": own.ID, "member": stranger.ID}), 0, "success")

	want(t, "kick nobody", v.call(wx.RouteKickGroupMember, events.Params{"id": own.ID}), events.CodeMemberEmpty, "member id empty")
	want(t, "kick a non-member", v.call(wx.RouteKickGroupMember, events.Params{"id": own.ID, "members": "@nobody"}), 100, "member id @nobody not found")
	want(t, "kick in an unknown group", v.call(wx.RouteKickGroupMember, events.Params{"id": "@@nope", "members": "@x"}), 100, "object not found")
	// Only the owner may kick: WeChat refuses in another's group.
	perl := v.group("PERL学习交流")
	want(t, "kick in another's group", v.call(wx.RouteKickGroupMember, events.Params{"id": perl.ID, "members": perl.Member[1].ID}), events.CodeFailure, "failure")
}

func inGroup(v *env, gid, id string) bool {
	for _, g := range v.ro().Groups {
		if g.ID == gid {
			for _, m := range g.Member {
				if m.ID == id {
					return true
				}
			}
		}
	}
	return false
}

func TestSetGroupDisplayname(t *testing.T) {
	v := start(t, nil)
	own := v.group(sim.OwnGroupName)
	want(t, "rename", v.call(wx.RouteSetGroupDisplayname, events.Params{"id": own.ID, "new_displayname": "改名了"}), 0, "success")
	if v.group("改名了").ID != own.ID {
		t.Error("the group was not renamed")
	}
	ev := v.item(events.EventGroupPropertyChange, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), "改名了") })
	if ps := ev["params"].([]any); len(ps) != 4 || ps[1] != "name" || ps[2] != sim.OwnGroupName || ps[3] != "改名了" {
		t.Errorf("group_property_change: %v", ps)
	}
	want(t, "rename unknown", v.call(wx.RouteSetGroupDisplayname, events.Params{"id": "@@nope", "new_displayname": "x"}), 100, "object not found")
	want(t, "rename without a name", v.call(wx.RouteSetGroupDisplayname, events.Params{"id": own.ID}), events.CodeBadRequest, "")
}

func TestStick(t *testing.T) {
	v := start(t, nil)
	wang, g := v.friend("老王"), v.group("PERL学习交流")
	for _, route := range []string{wx.RouteStick, wx.RouteStickyGroup} {
		want(t, route+" friend", v.call(route, events.Params{"id": wang.ID, "op": "1"}), 0, "success")
		if !v.ro().IsStuck(wang.ID) {
			t.Errorf("%s: the friend is not stuck", route)
		}
		want(t, route+" group, op absent", v.call(route, events.Params{"id": g.ID}), 0, "success")
		if !v.ro().IsStuck(g.ID) {
			t.Errorf("%s: the group is not stuck", route)
		}
		want(t, route+" unstick", v.call(route, events.Params{"id": g.ID, "op": "0"}), 0, "success")
		want(t, route+" unstick friend", v.call(route, events.Params{"id": wang.ID, "op": "0"}), 0, "success")
		if v.ro().IsStuck(g.ID) || v.ro().IsStuck(wang.ID) {
			t.Errorf("%s op=0: still stuck", route)
		}
		want(t, route+" unknown", v.call(route, events.Params{"id": "@nobody", "op": "1"}), 100, "object not found")
		want(t, route+" a friend's id as a group's", v.call(route, events.Params{"id": "@" + wang.ID, "op": "1"}), 100, "object not found")
		want(t, route+" bad op", v.call(route, events.Params{"id": wang.ID, "op": "2"}), events.CodeBadRequest, "")
	}
}

func TestSetMarkname(t *testing.T) {
	v := start(t, nil)
	wang := v.friend("老王")
	want(t, "set_markname friend", v.call(wx.RouteSetMarkname, events.Params{"id": wang.ID, "new_markname": "王哥"}), 0, "success")
	if v.friend("王哥").ID != wang.ID {
		t.Error("markname not set")
	}
	ev := v.item(events.EventFriendPropertyChange, func(m map[string]any) bool { return has(string(events.MustMarshal(m)), "王哥") })
	if ps := ev["params"].([]any); len(ps) != 4 || ps[1] != "markname" || ps[2] != "老王" || ps[3] != "王哥" {
		t.Errorf("friend_property_change: %v", ps)
	}
	want(t, "set_friend_markname by markname", v.call(wx.RouteSetFriendMarkname, events.Params{"markname": "王哥", "new_markname": "老王"}), 0, "success")
	want(t, "set_markname by account", v.call(wx.RouteSetMarkname, events.Params{"account": sim.XiaoiceAccount, "new_markname": "冰"}), 0, "success")

	g := v.group("PERL学习交流")
	m := g.Member[len(g.Member)-1]
	want(t, "set_markname member", v.call(wx.RouteSetMarkname, events.Params{"id": m.ID, "group_id": g.ID, "new_markname": "群友"}), 0, "success")
	if got := v.ro().Member(g.ID, m.ID); got == nil || got.Markname != "群友" {
		t.Errorf("member markname: %+v", got)
	}
	want(t, "unknown group", v.call(wx.RouteSetMarkname, events.Params{"id": m.ID, "group_id": "@@nope", "new_markname": "x"}), 100, "group not found")
	want(t, "unknown member", v.call(wx.RouteSetMarkname, events.Params{"id": "@nobody", "group_id": g.ID, "new_markname": "x"}), 100, "object not found")
	want(t, "unknown friend", v.call(wx.RouteSetMarkname, events.Params{"id": "@nobody", "new_markname": "x"}), 100, "object not found")
	// set_friend_markname names friends only: group_id is not a selector there.
	want(t, "set_friend_markname a member", v.call(wx.RouteSetFriendMarkname, events.Params{"id": m.ID, "group_id": g.ID, "new_markname": "x"}), 100, "object not found")
	want(t, "no new_markname", v.call(wx.RouteSetMarkname, events.Params{"id": wang.ID}), events.CodeBadRequest, "")
}

func TestMakeFriend(t *testing.T) {
	v := start(t, nil)
	ro := v.ro()
	want(t, "yourself", v.call(wx.RouteMakeFriend, events.Params{"id": ro.User.ID}), events.CodeGroupMissing, "can not be yourself")
	want(t, "a friend", v.call(wx.RouteMakeFriend, events.Params{"id": v.friend("老王").ID}), events.CodeGroupMissing, "already a friend")
	want(t, "nobody", v.call(wx.RouteMakeFriend, events.Params{"id": "@nobody"}), 100, "object not found")
	want(t, "no id", v.call(wx.RouteMakeFriend, events.Params{}), 100, "object not found")
	g := v.group("PERL学习交流")
	m := g.Member[len(g.Member)-1] // met in the group only
	want(t, "a member", v.call(wx.RouteMakeFriend, events.Params{"id": m.ID, "verify": "你好"}), 0, "success")
	if reqs := v.sim.FriendRequestsSent(); len(reqs) != 1 || reqs[0].ID != m.ID || reqs[0].Verify != "你好" {
		t.Errorf("WeChat got %+v", reqs)
	}
	v.item(events.EventNewFriend, func(e map[string]any) bool { return has(string(events.MustMarshal(e)), m.ID) })
}

func TestAcceptFriendRequest(t *testing.T) {
	v := start(t, nil)
	rep := v.inject(wx.Injection{Event: events.EventFriendRequest, Friend: &wx.Friend{Name: "陌生人"}, Verify: "我是陌生人"})
	if rep.Code != 0 || rep.Ticket == "" {
		t.Fatalf("inject friend_request: %+v", rep)
	}
	ev := v.item(events.EventFriendRequest, func(m map[string]any) bool { return true })
	ps := ev["params"].([]any)
	if len(ps) != 4 || ps[0] != rep.ID || ps[1] != "陌生人" || ps[2] != "我是陌生人" || ps[3] != rep.Ticket {
		t.Fatalf("friend_request params %v, want [id, displayname, verify, ticket]", ps)
	}
	p := events.Params{"id": rep.ID, "displayname": "陌生人", "ticket": rep.Ticket}
	r := v.call(wx.RouteAcceptFriendRequest, p)
	if code(t, r) != 0 || r["status"] != "success" || r["id"] != rep.ID || r["displayname"] != "陌生人" || r["ticket"] != rep.Ticket {
		t.Errorf("accept_friend_request: %v", r)
	}
	if v.friend("陌生人").ID != rep.ID {
		t.Error("not a friend after accepting")
	}
	// Again, or with a wrong ticket: failure, -1, and the request echoed, as Mojo.
	for _, p := range []events.Params{p, {"id": rep.ID, "ticket": "nope"}, {}} {
		r := v.call(wx.RouteAcceptFriendRequest, p)
		if code(t, r) != -1 || r["status"] != "failure" || r["ticket"] != p["ticket"] {
			t.Errorf("accept %v: %v", p, r)
		}
	}
}

func TestGetAvatar(t *testing.T) {
	v := start(t, nil)
	ro := v.ro()
	g := v.group("PERL学习交流")
	m := g.Member[len(g.Member)-1]
	for name, c := range map[string]struct {
		p    events.Params
		mime string
	}{
		"user":                {events.Params{"id": ro.User.ID}, "image/png"},
		"friend by id":        {events.Params{"id": v.friend("老王").ID}, "image/png"},
		"friend by account":   {events.Params{"account": sim.XiaoiceAccount}, "image/png"},
		"group":               {events.Params{"id": g.ID}, "image/jpeg"},
		"member with a group": {events.Params{"id": m.ID, "group_id": g.ID}, "image/png"},
	} {
		r := v.raw(wx.RouteGetAvatar, c.p)
		if r.Header.Get(events.HeaderContentType) != c.mime || r.Header.Get(events.HeaderCacheControl) != "max-age=3600" {
			t.Errorf("get_avatar %s: headers %v", name, r.Header)
		}
		if _, _, err := image.Decode(bytes.NewReader(r.Data)); err != nil {
			t.Errorf("get_avatar %s: not an image: %v", name, err)
		}
	}
	for name, p := range map[string]events.Params{
		"unknown":          {"id": "@nobody"},
		"unknown group":    {"id": "@@nope"},
		"member elsewhere": {"id": m.ID, "group_id": v.group(sim.OwnGroupName).ID},
		"no id":            {},
		"member no group":  {"id": m.ID},
	} {
		r := v.call(wx.RouteGetAvatar, p)
		if idv, ok := r["id"]; code(t, r) != 100 || r["status"] != "object not found" || !ok || idv != nil {
			t.Errorf("get_avatar %s: %v", name, r)
		}
	}
}

// A driver that cannot answer within get_avatar's wait: HTTP 503 with an empty body, as Mojo.
func TestGetAvatarTooSlow(t *testing.T) {
	v := start(t, func(c *Config, _ *sim.Config) { c.Driver = "slowavatars" })
	v.p.avatarWait.Store(int64(50 * time.Millisecond))
	r := v.raw(wx.RouteGetAvatar, events.Params{"id": v.friend("老王").ID})
	if r.Header.Get(events.HeaderServiceErrorCode) != "503" || len(r.Data) != 0 {
		t.Errorf("slow avatar: headers %v, body %q; want a 503 and no body", r.Header, r.Data)
	}
	// Not found still answers at once, in JSON.
	want(t, "unknown", v.call(wx.RouteGetAvatar, events.Params{"id": "@nobody"}), 100, "object not found")
}
