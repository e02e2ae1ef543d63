package wxroster

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// sample is a small roster: the user, a file assistant, an official account, three people
// (two named alike), two groups (one without a name), a member who is no friend.
func sample() *Roster {
	return &Roster{
		User: wx.User{ID: "@me", Name: "小灰", Account: "xiaohui"},
		Friends: []wx.Friend{
			{ID: wx.FileHelperID, Name: "文件传输助手", Category: wx.CategorySystem},
			{ID: "@pay", Account: "wxzhifu", Name: "微信支付", Category: wx.CategoryOfficial, Province: "广东"},
			{ID: "@wang", Name: "王伟", Markname: "老王", Category: wx.CategoryFriend, Province: "广东", City: "深圳"},
			{ID: "@li", Name: "李娜", Category: wx.CategoryFriend, Province: "广东", City: "广州", Account: "lina"},
			{ID: "@li2", Name: "李娜", Display: "小娜", Category: wx.CategoryFriend, Province: "北京"},
		},
		Groups: []wx.Group{
			{ID: "@@perl", Name: "PERL学习交流", UID: "1", Member: []wx.Member{{ID: "@me", Name: "小灰"}, {ID: "@wang", Name: "王伟"}, {ID: "@zhao", Name: "赵敏"}}},
			{ID: "@@anon", Member: []wx.Member{{ID: "@me", Name: "小灰"}, {ID: "@li", Name: "李娜"}}},
		},
	}
}

func ids[T any](list []T, id func(T) string) []string {
	out := []string{}
	for _, x := range list {
		out = append(out, id(x))
	}
	return out
}

func friendIDs(fs []wx.Friend) []string { return ids(fs, func(f wx.Friend) string { return f.ID }) }

func TestFindFriend(t *testing.T) {
	cases := []struct {
		name string
		p    events.Params
		want string // "" for none
	}{
		{"by id", events.Params{"id": "@li"}, "@li"},
		{"by account", events.Params{"account": "wxzhifu"}, "@pay"},
		{"by markname", events.Params{"markname": "老王"}, "@wang"},
		{"by displayname (the markname)", events.Params{"displayname": "老王"}, "@wang"},
		{"by displayname (the display)", events.Params{"displayname": "小娜"}, "@li2"},
		{"file assistant", events.Params{"id": wx.FileHelperID}, wx.FileHelperID},
		{"selectors AND", events.Params{"id": "@li", "displayname": "李娜"}, "@li"},
		{"selectors AND, no match", events.Params{"id": "@li", "markname": "老王"}, ""},
		{"name is no selector", events.Params{"name": "李娜"}, ""},
		{"nothing given", events.Params{}, ""},
		{"unknown id", events.Params{"id": "@nobody"}, ""},
		{"a group id is no friend", events.Params{"id": "@@perl"}, ""},
	}
	ro := sample()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ro.FindFriend(c.p)
			switch {
			case c.want == "" && got != nil:
				t.Errorf("found %s, want none", got.ID)
			case c.want != "" && (got == nil || got.ID != c.want):
				t.Errorf("found %+v, want %s", got, c.want)
			}
		})
	}
}

func TestFindGroup(t *testing.T) {
	cases := []struct {
		name string
		p    events.Params
		want string
	}{
		{"by id", events.Params{"id": "@@perl"}, "@@perl"},
		{"by displayname", events.Params{"displayname": "PERL学习交流"}, "@@perl"},
		{"by derived displayname", events.Params{"displayname": "小灰、李娜"}, "@@anon"},
		{"uid is no selector", events.Params{"uid": "1"}, ""},
		{"nothing", events.Params{}, ""},
	}
	ro := sample()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ro.FindGroup(c.p)
			if (c.want == "") != (got == nil) || (got != nil && got.ID != c.want) {
				t.Errorf("found %+v, want %q", got, c.want)
			}
		})
	}
}

func TestSearch(t *testing.T) {
	cases := []struct {
		name string
		p    events.Params
		want []string
	}{
		{"every attribute: province and city", events.Params{"province": "广东", "city": "深圳"}, []string{"@wang"}},
		{"by name: several", events.Params{"name": "李娜"}, []string{"@li", "@li2"}},
		{"by category", events.Params{"category": wx.CategoryOfficial}, []string{"@pay"}},
		{"client and the transport's params are ignored", events.Params{"name": "李娜", "client": "x", "callback": "cb", "_": "1", "access_token": "t"}, []string{"@li", "@li2"}},
		{"no filter: everyone", events.Params{"client": "x"}, []string{wx.FileHelperID, "@pay", "@wang", "@li", "@li2"}},
		{"an attribute friends lack reads as empty", events.Params{"nosuch": ""}, []string{wx.FileHelperID, "@pay", "@wang", "@li", "@li2"}},
		{"an attribute friends lack matches no value", events.Params{"nosuch": "x"}, []string{}},
		{"exact, not partial", events.Params{"name": "李"}, []string{}},
	}
	ro := sample()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := friendIDs(ro.SearchFriends(c.p)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("SearchFriends = %v, want %v", got, c.want)
			}
		})
	}
	if got := ids(ro.SearchGroups(events.Params{"displayname": "小灰、李娜"}), func(g wx.Group) string { return g.ID }); !reflect.DeepEqual(got, []string{"@@anon"}) {
		t.Errorf("SearchGroups by derived displayname = %v", got)
	}
	if got := ro.SearchGroups(events.Params{"uid": "1", "name": "PERL学习交流"}); len(got) != 1 || len(got[0].Member) != 3 {
		t.Errorf("SearchGroups by uid and name = %+v", got)
	}
	if got := SearchMembers(ro.Group("@@perl"), events.Params{"name": "赵敏"}); len(got) != 1 || got[0].ID != "@zhao" {
		t.Errorf("SearchMembers = %+v", got)
	}
}

func TestChanges(t *testing.T) {
	cases := []struct {
		name   string
		change func(r *Roster) bool
		check  func(r *Roster) bool
	}{
		{"add friend", func(r *Roster) bool { return r.AddFriend(wx.Friend{ID: "@new", Name: "新"}) }, func(r *Roster) bool { return r.Friend("@new") != nil }},
		{"add friend twice", func(r *Roster) bool { return !r.AddFriend(wx.Friend{ID: "@li"}) }, func(r *Roster) bool { return len(r.Friends) == 5 }},
		{"add friend without id", func(r *Roster) bool { return !r.AddFriend(wx.Friend{Name: "x"}) }, func(r *Roster) bool { return len(r.Friends) == 5 }},
		{"lose friend", func(r *Roster) bool { f, ok := r.RemoveFriend("@li"); return ok && f.Name == "李娜" }, func(r *Roster) bool { return r.Friend("@li") == nil }},
		{"lose unknown friend", func(r *Roster) bool { _, ok := r.RemoveFriend("@x"); return !ok }, func(r *Roster) bool { return len(r.Friends) == 5 }},
		{"add group", func(r *Roster) bool { return r.AddGroup(wx.Group{ID: "@@new"}) }, func(r *Roster) bool { g := r.Group("@@new"); return g != nil && g.Member != nil }},
		{"add group with a contact id", func(r *Roster) bool { return !r.AddGroup(wx.Group{ID: "@x"}) }, func(r *Roster) bool { return len(r.Groups) == 2 }},
		{"lose group", func(r *Roster) bool { _, ok := r.RemoveGroup("@@anon"); return ok }, func(r *Roster) bool { return r.Group("@@anon") == nil }},
		{"add member", func(r *Roster) bool { _, ok := r.AddMember("@@perl", wx.Member{ID: "@n"}); return ok }, func(r *Roster) bool { return r.Member("@@perl", "@n") != nil }},
		{"add member twice", func(r *Roster) bool { _, ok := r.AddMember("@@perl", wx.Member{ID: "@zhao"}); return !ok }, func(r *Roster) bool { return len(r.Group("@@perl").Member) == 3 }},
		{"add member to no group", func(r *Roster) bool { g, ok := r.AddMember("@@x", wx.Member{ID: "@n"}); return !ok && g == nil }, func(*Roster) bool { return true }},
		{"lose member", func(r *Roster) bool {
			m, g, ok := r.RemoveMember("@@perl", "@zhao")
			return ok && m.Name == "赵敏" && g.ID == "@@perl"
		}, func(r *Roster) bool { return r.Member("@@perl", "@zhao") == nil }},
		{"stick a group", func(r *Roster) bool { ok, err := r.SetStick("@@perl", true); return ok && err == nil }, func(r *Roster) bool { return r.IsStuck("@@perl") }},
		{"stick unknown", func(r *Roster) bool { _, err := r.SetStick("@x", true); return errors.Is(err, ErrNotFound) }, func(r *Roster) bool { return len(r.Stuck) == 0 }},
		{"lose a stuck friend unsticks it", func(r *Roster) bool { r.SetStick("@li", true); _, ok := r.RemoveFriend("@li"); return ok }, func(r *Roster) bool { return !r.IsStuck("@li") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sample()
			if !c.change(r) {
				t.Error("the change did not answer as expected")
			}
			if !c.check(r) {
				t.Errorf("the roster after the change: %+v", r)
			}
			if err := r.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSetProperty(t *testing.T) {
	cases := []struct {
		name    string
		target  Target
		prop    string
		value   string
		old     string
		changed bool
		err     error
		obj     string // the JSON displayname of the object returned
	}{
		{"friend markname", Target{FriendID: "@li"}, "markname", "娜娜", "", true, nil, "娜娜"},
		{"same value", Target{FriendID: "@wang"}, "markname", "老王", "老王", false, nil, "老王"},
		{"group rename", Target{GroupID: "@@anon"}, "name", "新群名", "", true, nil, "新群名"},
		{"member display", Target{GroupID: "@@perl", MemberID: "@zhao"}, "display", "敏敏", "", true, nil, "敏敏"},
		{"user signature", Target{}, "signature", "新签名", "", true, nil, "小灰"},
		{"unknown friend", Target{FriendID: "@x"}, "markname", "x", "", false, ErrNotFound, ""},
		{"unknown member", Target{GroupID: "@@perl", MemberID: "@x"}, "display", "x", "", false, ErrNotFound, ""},
		{"id is not settable", Target{FriendID: "@li"}, "id", "@y", "", false, ErrNoProperty, ""},
		{"groups have no signature", Target{GroupID: "@@perl"}, "signature", "x", "", false, ErrNoProperty, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := sample()
			obj, old, changed, err := r.SetProperty(c.target, c.prop, c.value)
			if !errors.Is(err, c.err) || old != c.old || changed != c.changed {
				t.Fatalf("SetProperty = %v, %q, %v; want %q, %v, %v", err, old, changed, c.old, c.changed, c.err)
			}
			if err != nil {
				return
			}
			if got, _ := r.Property(c.target, c.prop); got != c.value {
				t.Errorf("the roster has %q, want %q", got, c.value)
			}
			b, _ := events.Marshal(obj)
			if want := fmt.Sprintf(`"displayname":%q`, c.obj); !strings.Contains(string(b), want) {
				t.Errorf("object %s, want %s", b, want)
			}
		})
	}
}

func TestRenewIDs(t *testing.T) {
	r := sample()
	r.SetStick("@@perl", true)
	n := 0
	m := r.RenewIDs(func(group bool) string {
		n++
		if group {
			return fmt.Sprintf("@@g%d", n)
		}
		return fmt.Sprintf("@c%d", n)
	})
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Friend(wx.FileHelperID) == nil {
		t.Error("filehelper's id changed")
	}
	if r.User.ID == "@me" || r.Groups[0].Member[0].ID != r.User.ID {
		t.Errorf("the user's id %q: not renewed, or not the same as a member", r.User.ID)
	}
	wang := r.FindFriend(events.Params{"markname": "老王"})
	if wang.ID != m["@wang"] || r.Member(m["@@perl"], wang.ID) == nil {
		t.Errorf("a friend who is a member has different ids: %s, %v", wang.ID, r.Group(m["@@perl"]))
	}
	if !wx.IsGroupID(m["@@anon"]) || r.Group(m["@@anon"]) == nil {
		t.Errorf("group ids: %v", m)
	}
	if !r.IsStuck(m["@@perl"]) || r.IsStuck("@@perl") {
		t.Error("the stuck group did not keep its pin under its new id")
	}
	for _, old := range []string{"@wang", "@li", "@@perl", "@zhao"} {
		if r.Friend(old) != nil || r.Group(old) != nil {
			t.Errorf("old id %s still names something", old)
		}
	}
}

func TestCloneAndBasic(t *testing.T) {
	r := sample()
	c := r.Clone()
	c.Groups[0].Member[0].Name = "x"
	c.Friends[0].Name = "x"
	c.SetStick("@li", true)
	if r.Groups[0].Member[0].Name == "x" || r.Friends[0].Name == "x" || r.IsStuck("@li") {
		t.Error("the clone shares data with the original")
	}
	b := r.BasicGroups()
	if b[0].Member != nil || b[1].DisplayName() != "小灰、李娜" {
		t.Errorf("BasicGroups = %+v", b)
	}
}

func TestValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Roster){
		"no user id":        func(r *Roster) { r.User.ID = "" },
		"repeated friend":   func(r *Roster) { r.Friends = append(r.Friends, r.Friends[2]) },
		"contact-id group":  func(r *Roster) { r.Groups[0].ID = "@x" },
		"repeated member":   func(r *Roster) { r.Groups[0].Member = append(r.Groups[0].Member, r.Groups[0].Member[0]) },
		"member without id": func(r *Roster) { r.Groups[0].Member[0].ID = "" },
	} {
		r := sample()
		mutate(r)
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
}

// search_* reads any parameter: nothing a bot sends makes it fail.
func FuzzSearch(f *testing.F) {
	f.Add("name", "李娜", "client", "x")
	f.Add("displayname", "小灰、李娜", "id", "@@anon")
	f.Add("", "", "_", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		r := sample()
		p := events.Params{k1: v1, k2: v2}
		for _, f := range r.SearchFriends(p) {
			if v, ok := p["id"]; ok && f.ID != v {
				t.Errorf("SearchFriends(%v) found %s", p, f.ID)
			}
		}
		r.SearchGroups(p)
		r.FindFriend(p)
		r.FindGroup(p)
	})
}
