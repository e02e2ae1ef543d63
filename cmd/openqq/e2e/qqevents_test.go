package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver/onebot"
	"github.com/openqq/openqq/services/session/driver/onebot/onebottest"
)

// The events Mojo reports only when listed: the property changes and the discuss events.
var listedOnlyEvents = []string{
	events.EventUserPropertyChange, events.EventFriendPropertyChange, events.EventGroupPropertyChange,
	events.EventGroupMemberPropertyChange, events.EventNewDiscuss, events.EventLoseDiscuss,
	events.EventNewDiscussMember, events.EventLoseDiscussMember,
}

// startPostAPI runs a reporter posting every event of list to a post_api receiver.
func startPostAPI(t *testing.T, e *env, list []string) *proctest.Receiver {
	t.Helper()
	post := proctest.StartReceiver(t, proctest.ReceiverOptions{})
	rep, err := reporter.New(e.nc, reporter.Config{PostAPI: []string{post.URL}, PostEvent: true, PostEventList: list,
		PostRetryMin: 20 * time.Millisecond, PostRetryMax: 100 * time.Millisecond}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rep.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return post
}

// postedEvents waits until post_api has received every event of names (in any order) and
// returns each one's report, the first of its name.
func postedEvents(t *testing.T, post *proctest.Receiver, names ...string) map[string]map[string]any {
	t.Helper()
	got := map[string]map[string]any{}
	collect := func(rs []proctest.Request) bool {
		clear(got)
		for _, r := range rs {
			m := object(t, r.Body)
			if name, _ := m["event"].(string); m["post_type"] == "event" && got[name] == nil {
				got[name] = m
			}
		}
		for _, n := range names {
			if got[n] == nil {
				return false
			}
		}
		return true
	}
	if rs, ok := post.Wait(10*time.Second, collect); !ok {
		collect(rs)
		t.Fatalf("post_api got events %v, want all of %v", keys(got), names)
	}
	return got
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// postedParams is an event report's params, failing unless there are n.
func postedParams(t *testing.T, ev map[string]any, n int) []any {
	t.Helper()
	ps, _ := ev["params"].([]any)
	if len(ps) != n {
		t.Fatalf("%v: %d params, want %d: %v", ev["event"], len(ps), n, ev["params"])
	}
	return ps
}

// propertyParams checks a *_property_change's [object, property, old, new] and returns the
// object.
func propertyParams(t *testing.T, ev map[string]any, objKeys []string, property, old, new string) map[string]any {
	t.Helper()
	ps := postedParams(t, ev, 4)
	obj, _ := ps[0].(map[string]any)
	if obj == nil {
		t.Fatalf("%v: object %v", ev["event"], ps[0])
	}
	hasKeys(t, ev["event"].(string)+" object", obj, objKeys...)
	if ps[1] != property || ps[2] != old || ps[3] != new {
		t.Errorf("%v params %v, want [object, %q, %q, %q]", ev["event"], ps[1:], property, old, new)
	}
	return obj
}

// Each property change and discuss event injected into the simulated account reaches the
// stream, post_api and check_event in the seeds' shapes, and the info routes agree afterwards
// (their cached replies are dropped).
func TestPropertyAndDiscussEvents(t *testing.T) {
	t.Parallel()
	const hold = 500 * time.Millisecond
	list := append(slices.Clone(events.DefaultPostEventList), listedOnlyEvents...)
	e := start(t, func(s *session.Config, g *gateway.Config) {
		s.Hold, g.CheckEventHold = hold, hold
		s.PostEvent, s.PostEventList = true, list
	})
	post := startPostAPI(t, e, list)
	reports := e.subscribe("")

	// Read every info route first, so that a stale cached reply would show.
	code, body := e.get("get_user_info", nil)
	if code != http.StatusOK {
		t.Fatalf("get_user_info: %d %s", code, body)
	}
	me := object(t, body)
	oldName, _ := me["name"].(string)
	oldSignature, _ := me["signature"].(string)
	perl := byID(e.groupInfo(), perlGroupID)
	oldGroupName, _ := perl["name"].(string)
	admins := intOf(t, perl, "admin_count")
	if perl["role"] != events.GroupRoleManage {
		t.Fatalf("the account's role in PERL学习交流 is %v, want manage", perl["role"])
	}
	oldCard, _ := byID(members(t, perl), perlMemberID)["card"].(string)
	oldMarkname, _ := byID(e.friendInfo(), friendID)["markname"].(string)
	discusses := func() []map[string]any {
		t.Helper()
		code, body := e.get("get_discuss_info", nil)
		if code != http.StatusOK {
			t.Fatalf("get_discuss_info: %d %s", code, body)
		}
		return array(t, body)
	}
	before := len(discusses())

	newDiscuss := events.Discuss{ID: 9300001, Name: "新讨论组", OwnerID: friendID,
		Member: []events.DiscussMember{{ID: friendID, UID: friendUID, Name: "夏梓轩", State: "online"}}}
	newcomer := events.GroupMember{ID: 9400001, UID: 9401, Name: "新成员", State: "online", ClientType: "pc"}
	steps := []events.Injection{
		{Event: events.EventUserPropertyChange, Property: "name", Value: "新名字"},
		{Event: events.EventUserPropertyChange, Property: "signature", Value: "新签名"},
		{Event: events.EventFriendPropertyChange, FriendID: friendID, Property: "markname", Value: "王哥"},
		{Event: events.EventGroupPropertyChange, GroupID: perlGroupID, Property: "name", Value: "Perl 学习"},
		{Event: events.EventGroupMemberPropertyChange, GroupID: perlGroupID, MemberID: perlMemberID, Property: "card", Value: "新名片"},
		{Event: events.EventGroupMemberPropertyChange, GroupID: perlGroupID, MemberID: perlMemberID, Property: "role", Value: "admin"},
		{Event: events.EventNewDiscuss, Discuss: &newDiscuss},
		{Event: events.EventNewDiscussMember, DiscussID: discussID, Member: &newcomer},
		{Event: events.EventLoseDiscussMember, DiscussID: discussID, MemberID: newcomer.ID},
		{Event: events.EventLoseDiscuss, DiscussID: newDiscuss.ID},
	}
	for _, in := range steps {
		if r := e.inject(in); r.Code != 0 || r.Status != "success" {
			t.Fatalf("inject %+v: %+v", in, r)
		}
		// On the stream, under the event's subject, in the order injected.
		raw := await(t, reports, in.Event, nil)
		if raw.Subject != "qq.events."+in.Event {
			t.Errorf("%s published on %s", in.Event, raw.Subject)
		}
	}

	// The roster agrees.
	_, body = e.get("get_user_info", nil)
	fields(t, "get_user_info", object(t, body), map[string]any{"name": "新名字", "signature": "新签名"})
	fields(t, "get_friend_info", byID(e.friendInfo(), friendID), map[string]any{"markname": "王哥"})
	perl = byID(e.groupInfo(), perlGroupID)
	fields(t, "get_group_info", perl, map[string]any{"name": "Perl 学习", "admin_count": admins + 1})
	fields(t, "get_group_info member", byID(members(t, perl), perlMemberID), map[string]any{"card": "新名片", "role": "admin"})

	// The account's own role is the group's role: no longer an admin, it attends.
	selfID, err := me["id"].(json.Number).Int64()
	if err != nil {
		t.Fatal(err)
	}
	in := events.Injection{Event: events.EventGroupMemberPropertyChange, GroupID: perlGroupID, MemberID: selfID, Property: "role", Value: "member"}
	if r := e.inject(in); r.Code != 0 {
		t.Fatalf("inject %+v: %+v", in, r)
	}
	await(t, reports, in.Event, nil)
	fields(t, "get_group_info after the account's demotion", byID(e.groupInfo(), perlGroupID),
		map[string]any{"role": events.GroupRoleAttend, "admin_count": admins})
	ds := discusses()
	if len(ds) != before || byID(ds, newDiscuss.ID) != nil {
		t.Errorf("get_discuss_info after new and lose_discuss: %d discusses (want %d), the lost one %v", len(ds), before, byID(ds, newDiscuss.ID))
	}
	if d := byID(ds, discussID); d == nil || byID(members(t, d), newcomer.ID) != nil {
		t.Errorf("get_discuss_info: the member who came and went is there: %v", d)
	}

	// post_api: the seeds' params.
	got := postedEvents(t, post, listedOnlyEvents...)
	user := propertyParams(t, got[events.EventUserPropertyChange], userKeys, "name", oldName, "新名字")
	if user["name"] != "新名字" || user["signature"] != oldSignature {
		t.Errorf("user_property_change's account: %v", user)
	}
	friend := propertyParams(t, got[events.EventFriendPropertyChange], friendKeys, "markname", oldMarkname, "王哥")
	fields(t, "friend_property_change friend", friend, map[string]any{"id": num(friendID), "markname": "王哥"})
	group := propertyParams(t, got[events.EventGroupPropertyChange], groupKeys, "name", oldGroupName, "Perl 学习")
	fields(t, "group_property_change group", group, map[string]any{"id": num(perlGroupID), "name": "Perl 学习"})
	member := propertyParams(t, got[events.EventGroupMemberPropertyChange], memberKeys, "card", oldCard, "新名片")
	fields(t, "group_member_property_change member", member, map[string]any{"id": num(perlMemberID), "card": "新名片"})

	d := postedParams(t, got[events.EventNewDiscuss], 1)[0].(map[string]any)
	hasKeys(t, "new_discuss discuss", d, discussKeys...)
	fields(t, "new_discuss discuss", d, map[string]any{"id": num(newDiscuss.ID), "name": "新讨论组", "owner_id": num(friendID)})
	for _, name := range []string{events.EventNewDiscussMember, events.EventLoseDiscussMember} {
		ps := postedParams(t, got[name], 2)
		m, _ := ps[0].(map[string]any)
		d, _ := ps[1].(map[string]any)
		if m == nil || d == nil {
			t.Fatalf("%s params %v, want [member, discuss]", name, ps)
		}
		hasKeys(t, name+" member", m, discussMemberKeys...)
		lacksKeys(t, name+" member", m, "card", "role")
		fields(t, name+" member", m, map[string]any{"id": num(newcomer.ID), "uid": num(newcomer.UID), "name": "新成员", "state": "online", "client_type": "pc"})
		hasKeys(t, name+" discuss", d, discussKeys...)
		fields(t, name+" discuss", d, map[string]any{"id": num(discussID)})
		if has := byID(members(t, d), newcomer.ID) != nil; has != (name == events.EventNewDiscussMember) {
			t.Errorf("%s's discuss has the member: %v", name, has)
		}
	}
	lost := postedParams(t, got[events.EventLoseDiscuss], 1)[0].(map[string]any)
	fields(t, "lose_discuss discuss", lost, map[string]any{"id": num(newDiscuss.ID), "name": "新讨论组"})

	// check_event hands them out too.
	ceSettle(e)
	code, body = e.get("check_event", nil)
	if code != http.StatusOK {
		t.Fatalf("check_event: %d %s", code, body)
	}
	var names []string
	for _, it := range ceItems(t, body) {
		if n, ok := it["event"].(string); ok {
			names = append(names, n)
		}
	}
	for _, in := range steps {
		if !slices.Contains(names, in.Event) {
			t.Errorf("check_event lacks %s: %v", in.Event, names)
		}
	}
}

// What changes nothing, names no such property or object, or is not a role, is refused with
// a JSON status and publishes nothing.
func TestPropertyInjectionRefused(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, in := range []events.Injection{
		{Event: events.EventUserPropertyChange, Property: "card", Value: "x"},
		{Event: events.EventUserPropertyChange, Property: "", Value: "x"},
		{Event: events.EventFriendPropertyChange, FriendID: 9999, Property: "markname", Value: "x"},
		{Event: events.EventFriendPropertyChange, FriendID: friendID, Property: "role", Value: "admin"},
		{Event: events.EventGroupPropertyChange, GroupID: 9999, Property: "name", Value: "x"},
		{Event: events.EventGroupMemberPropertyChange, GroupID: perlGroupID, MemberID: 9999, Property: "card", Value: "x"},
		{Event: events.EventGroupMemberPropertyChange, GroupID: perlGroupID, MemberID: perlMemberID, Property: "role", Value: "boss"},
		{Event: events.EventGroupMemberPropertyChange, GroupID: perlGroupID, MemberID: perlMemberID, Property: "role", Value: "member"},
		{Event: "discuss_property_change", DiscussID: discussID, Property: "name", Value: "x"},
		{Event: events.EventNewDiscuss},
		{Event: events.EventNewDiscuss, Discuss: &events.Discuss{ID: discussID, Name: "已有"}},
		{Event: events.EventLoseDiscuss, DiscussID: 9999},
		{Event: events.EventNewDiscussMember, DiscussID: discussID},
		{Event: events.EventNewDiscussMember, DiscussID: 9999, Member: &events.GroupMember{ID: 1, UID: 1, Name: "x"}},
		{Event: events.EventLoseDiscussMember, DiscussID: discussID, MemberID: 9999},
	} {
		if r := e.inject(in); r.Code == 0 {
			t.Errorf("inject %+v: %+v, want a refusal", in, r)
		}
	}
	b, _ := json.Marshal(events.Injection{Event: events.EventNewDiscuss, Discuss: &events.Discuss{ID: -1}})
	if r := e.injectRaw(b); r.Code == 0 {
		t.Errorf("a discuss id out of range: %+v", r)
	}
}

// postedProperty waits until post_api has received the event name changing property, and
// returns its report.
func postedProperty(t *testing.T, post *proctest.Receiver, name, property string) map[string]any {
	t.Helper()
	var got map[string]any
	find := func(rs []proctest.Request) bool {
		for _, r := range rs {
			m := object(t, r.Body)
			if ps, _ := m["params"].([]any); m["event"] == name && len(ps) == 4 && ps[1] == property {
				got = m
				return true
			}
		}
		return false
	}
	if _, ok := post.Wait(10*time.Second, find); !ok {
		t.Fatalf("post_api got no %s of %s", name, property)
	}
	return got
}

// The OneBot implementation's notices (group_card, group_admin, NapCat's notify group_name)
// and the periodic roster comparison (nicknames, NapCat's signature, group names elsewhere)
// reach post_api as property changes, and the info routes agree.
func TestOneBotPropertyEvents(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		e, peer := startOneBot(t, fl, func(s *session.Config, _ *gateway.Config) {
			c := s.DriverConfig.(onebot.Config)
			c.UpdateInterval = 100 * time.Millisecond
			s.DriverConfig = c
		})
		post := startPostAPI(t, e, listedOnlyEvents)
		peer.SetCard(obGroup, obWang, "王校长")
		peer.SetAdmin(obGroup, obStranger, true)
		peer.SetGroupName(obGroup, "改名群")
		peer.SetNickname("新机器人")
		peer.SetFriendNickname(obLi, "李四")
		if fl == onebottest.NapCat {
			peer.SetSignature("新签名")
		}

		m := propertyParams(t, postedProperty(t, post, events.EventGroupMemberPropertyChange, "card"), memberKeys, "card", "王老师", "王校长")
		fields(t, "card change member", m, map[string]any{"id": num(obWang), "card": "王校长"})
		m = propertyParams(t, postedProperty(t, post, events.EventGroupMemberPropertyChange, "role"), memberKeys, "role", "member", "admin")
		fields(t, "role change member", m, map[string]any{"id": num(obStranger), "role": "admin"})
		g := propertyParams(t, postedProperty(t, post, events.EventGroupPropertyChange, "name"), groupKeys, "name", "测试群", "改名群")
		fields(t, "group_property_change group", g, map[string]any{"id": num(obGroup)})
		u := propertyParams(t, postedProperty(t, post, events.EventUserPropertyChange, "name"), userKeys, "name", "机器人", "新机器人")
		fields(t, "user_property_change user", u, map[string]any{"id": num(obSelf)})
		f := propertyParams(t, postedProperty(t, post, events.EventFriendPropertyChange, "name"), friendKeys, "name", "小李", "李四")
		fields(t, "friend_property_change friend", f, map[string]any{"id": num(obLi)})
		if fl == onebottest.NapCat {
			propertyParams(t, postedProperty(t, post, events.EventUserPropertyChange, "signature"), userKeys, "signature", "", "新签名")
		}

		group := byID(e.groupInfo(), obGroup)
		fields(t, "get_group_info", group, map[string]any{"name": "改名群", "admin_count": 2})
		fields(t, "get_group_info card", byID(members(t, group), obWang), map[string]any{"card": "王校长"})
		fields(t, "get_group_info role", byID(members(t, group), obStranger), map[string]any{"role": "admin"})
		fields(t, "get_friend_info", byID(e.friendInfo(), obLi), map[string]any{"name": "李四"})
		_, body := e.get("get_user_info", nil)
		fields(t, "get_user_info", object(t, body), map[string]any{"name": "新机器人"})
	})
}
