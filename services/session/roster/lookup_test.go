package roster

import (
	"slices"
	"strconv"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

type P = events.Params

// index returns the position of the element p points at in list, or -1.
func index[T any](list []T, p *T) int {
	for i := range list {
		if &list[i] == p {
			return i
		}
	}
	return -1
}

func TestFindFriend(t *testing.T) {
	tests := []struct {
		name   string
		params P
		want   int64 // 0: not found
	}{
		{"by id", P{"id": "102"}, 102},
		{"by uid", P{"uid": "203"}, 103},
		{"by name", P{"name": "李四"}, 102},
		{"by name, first in list order", P{"name": "张三"}, 101},
		{"by displayname = markname", P{"displayname": "老张"}, 101},
		{"by displayname = name without markname", P{"displayname": "张三"}, 103},
		{"by displayname, first in list order", P{"displayname": "李四"}, 102},
		{"displayname is not the name when a markname exists", P{"displayname": "王五"}, 0},
		{"by markname", P{"markname": "李四"}, 104},
		{"by markname 老张", P{"markname": "老张"}, 101},
		{"AND of name and uid", P{"name": "张三", "uid": "203"}, 103},
		{"AND of id, uid, name, displayname, markname", P{"id": "101", "uid": "201", "name": "张三", "displayname": "老张", "markname": "老张"}, 101},
		{"AND that fails", P{"id": "101", "name": "李四"}, 0},
		{"AND of displayname and name", P{"displayname": "李四", "name": "王五"}, 104},
		{"other params are not keys", P{"id": "101", "content": "hi", "async": "1", "category": "同事"}, 101},
		{"no key", P{}, 0},
		{"nil params", nil, 0},
		{"only non-keys", P{"content": "hi", "category": "同事"}, 0},
		{"empty name is a real filter", P{"name": ""}, 0},
		{"empty id is a real filter", P{"id": ""}, 0},
		{"empty name with a matching id", P{"id": "101", "name": ""}, 0},
		{"empty markname matches a friend without one", P{"markname": ""}, 102},
		{"unknown id", P{"id": "999"}, 0},
		{"exact: leading zero", P{"id": "0101"}, 0},
		{"exact: float text", P{"id": "101.0"}, 0},
		{"exact: surrounding space", P{"name": " 李四"}, 0},
		{"id of a group", P{"id": "301"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			got := r.FindFriend(tc.params)
			if tc.want == 0 {
				if got != nil {
					t.Errorf("FindFriend(%q) = %d, want nil", tc.params, got.ID)
				}
				return
			}
			if got == nil {
				t.Fatalf("FindFriend(%q) = nil, want %d", tc.params, tc.want)
			}
			if got.ID != tc.want {
				t.Errorf("FindFriend(%q) = %d, want %d", tc.params, got.ID, tc.want)
			}
			if index(r.Friends, got) < 0 {
				t.Errorf("FindFriend(%q) does not point into the roster", tc.params)
			}
		})
	}
}

func TestFindGroup(t *testing.T) {
	tests := []struct {
		name   string
		params P
		want   int64
	}{
		{"by id", P{"id": "302"}, 302},
		{"by uid", P{"uid": "403"}, 303},
		{"by name", P{"name": "测试群"}, 301},
		{"by name that is another group's markname", P{"name": "工作群"}, 303},
		{"by displayname = markname, first in list order", P{"displayname": "工作群"}, 301},
		{"by displayname = name", P{"displayname": "闲聊"}, 302},
		{"displayname is not the name when a markname exists", P{"displayname": "测试群"}, 0},
		{"markname is not a key", P{"markname": "工作群"}, 0},
		{"markname ignored beside a key", P{"markname": "工作群", "id": "303"}, 303},
		{"AND of id and uid", P{"id": "301", "uid": "401"}, 301},
		{"AND that fails", P{"id": "301", "uid": "402"}, 0},
		{"AND of displayname and name", P{"displayname": "工作群", "name": "工作群"}, 303},
		{"group_id is not a key here", P{"group_id": "301"}, 0},
		{"no key", P{}, 0},
		{"empty name is a real filter", P{"name": ""}, 0},
		{"unknown id", P{"id": "101"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			got := r.FindGroup(tc.params)
			if tc.want == 0 {
				if got != nil {
					t.Errorf("FindGroup(%q) = %d, want nil", tc.params, got.ID)
				}
				return
			}
			if got == nil || got.ID != tc.want {
				t.Fatalf("FindGroup(%q) = %v, want %d", tc.params, got, tc.want)
			}
			if index(r.Groups, got) < 0 {
				t.Errorf("FindGroup(%q) does not point into the roster", tc.params)
			}
		})
	}
}

func TestFindGroupRef(t *testing.T) {
	tests := []struct {
		name   string
		params P
		want   int64
	}{
		{"by group_id", P{"group_id": "302"}, 302},
		{"by group_uid", P{"group_uid": "401"}, 301},
		{"both matching", P{"group_id": "303", "group_uid": "403"}, 303},
		{"both, different groups", P{"group_id": "301", "group_uid": "402"}, 0},
		{"member keys are not group keys", P{"group_id": "301", "id": "501", "uid": "999"}, 301},
		{"id alone is not group_id", P{"id": "301"}, 0},
		{"name is not a ref key", P{"name": "测试群"}, 0},
		{"no key", P{}, 0},
		{"empty group_id", P{"group_id": ""}, 0},
		{"unknown group", P{"group_id": "399"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			got := r.FindGroupRef(tc.params)
			if tc.want == 0 {
				if got != nil {
					t.Errorf("FindGroupRef(%q) = %d, want nil", tc.params, got.ID)
				}
				return
			}
			if got == nil || got.ID != tc.want {
				t.Fatalf("FindGroupRef(%q) = %v, want %d", tc.params, got, tc.want)
			}
			if index(r.Groups, got) < 0 {
				t.Errorf("FindGroupRef(%q) does not point into the roster", tc.params)
			}
		})
	}
}

func TestFindDiscuss(t *testing.T) {
	tests := []struct {
		name string
		find func(*Roster, P) *events.Discuss
		p    P
		want int64
	}{
		{"FindDiscuss by id", (*Roster).FindDiscuss, P{"id": "701"}, 701},
		{"FindDiscuss by name is no key", (*Roster).FindDiscuss, P{"name": "讨论组"}, 0},
		{"FindDiscuss by discuss_id is no key", (*Roster).FindDiscuss, P{"discuss_id": "701"}, 0},
		{"FindDiscuss unknown", (*Roster).FindDiscuss, P{"id": "702"}, 0},
		{"FindDiscuss empty id", (*Roster).FindDiscuss, P{"id": ""}, 0},
		{"FindDiscuss no key", (*Roster).FindDiscuss, P{}, 0},
		{"FindDiscussRef by discuss_id", (*Roster).FindDiscussRef, P{"discuss_id": "701"}, 701},
		{"FindDiscussRef by id is no key", (*Roster).FindDiscussRef, P{"id": "701"}, 0},
		{"FindDiscussRef unknown", (*Roster).FindDiscussRef, P{"discuss_id": "301"}, 0},
		{"FindDiscussRef no key", (*Roster).FindDiscussRef, P{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			got := tc.find(r, tc.p)
			if tc.want == 0 {
				if got != nil {
					t.Errorf("got %d, want nil", got.ID)
				}
				return
			}
			if got == nil || got.ID != tc.want {
				t.Fatalf("got %v, want %d", got, tc.want)
			}
			if index(r.Discusses, got) < 0 {
				t.Error("result does not point into the roster")
			}
		})
	}
}

func TestFindGroupMember(t *testing.T) {
	tests := []struct {
		name string
		p    P
		want int64
	}{
		{"by id", P{"id": "501"}, 501},
		{"by uid", P{"uid": "602"}, 502},
		{"id and uid", P{"id": "1000", "uid": "2000"}, 1000},
		{"id and uid of different members", P{"id": "501", "uid": "602"}, 0},
		{"name is not a key", P{"name": "成员甲"}, 0},
		{"card is not a key", P{"card": "乙卡"}, 0},
		{"member_id is not a key", P{"member_id": "501"}, 0},
		{"group keys beside", P{"group_id": "301", "id": "502"}, 502},
		{"member of another group", P{"id": "101"}, 0},
		{"empty id", P{"id": ""}, 0},
		{"no key", P{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			g := &r.Groups[0]
			got := FindGroupMember(g, tc.p)
			if tc.want == 0 {
				if got != nil {
					t.Errorf("FindGroupMember(%q) = %d, want nil", tc.p, got.ID)
				}
				return
			}
			if got == nil || got.ID != tc.want {
				t.Fatalf("FindGroupMember(%q) = %v, want %d", tc.p, got, tc.want)
			}
			if index(g.Member, got) < 0 {
				t.Error("result does not point into the group")
			}
		})
	}
	t.Run("group without members", func(t *testing.T) {
		r := testRoster()
		if got := FindGroupMember(&r.Groups[2], P{"id": "501"}); got != nil {
			t.Errorf("got %d, want nil", got.ID)
		}
	})
}

func TestFindDiscussMember(t *testing.T) {
	tests := []struct {
		name string
		p    P
		want int64
	}{
		{"by id", P{"id": "802"}, 802},
		{"by uid", P{"uid": "901"}, 801},
		{"id and uid", P{"id": "801", "uid": "901"}, 801},
		{"id and uid of different members", P{"id": "801", "uid": "902"}, 0},
		{"name is not a key", P{"name": "甲"}, 0},
		{"discuss_id is not a member key", P{"discuss_id": "701"}, 0},
		{"empty uid", P{"uid": ""}, 0},
		{"no key", P{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			d := &r.Discusses[0]
			got := FindDiscussMember(d, tc.p)
			if tc.want == 0 {
				if got != nil {
					t.Errorf("FindDiscussMember(%q) = %d, want nil", tc.p, got.ID)
				}
				return
			}
			if got == nil || got.ID != tc.want {
				t.Fatalf("FindDiscussMember(%q) = %v, want %d", tc.p, got, tc.want)
			}
			if index(d.Member, got) < 0 {
				t.Error("result does not point into the discuss")
			}
		})
	}
}

func TestByID(t *testing.T) {
	r := testRoster()
	g := r.Group(301)
	d := r.Discuss(701)
	tests := []struct {
		name  string
		found bool
		want  bool
	}{
		{"friend 103", r.Friend(103) != nil && r.Friend(103).UID == 203, true},
		{"friend 999", r.Friend(999) != nil, false},
		{"friend 0", r.Friend(0) != nil, false},
		{"group 301", g != nil && g.Name == "测试群", true},
		{"group 101", r.Group(101) != nil, false},
		{"discuss 701", d != nil && d.Name == "讨论组", true},
		{"discuss 702", r.Discuss(702) != nil, false},
		{"group member 502", GroupMember(g, 502) != nil && GroupMember(g, 502).Card == "乙卡", true},
		{"group member 801", GroupMember(g, 801) != nil, false},
		{"discuss member 802", DiscussMember(d, 802) != nil && DiscussMember(d, 802).Name == "乙", true},
		{"discuss member 501", DiscussMember(d, 501) != nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.found != tc.want {
				t.Errorf("found = %v, want %v", tc.found, tc.want)
			}
		})
	}
	t.Run("pointer into the roster", func(t *testing.T) {
		r.Friend(102).Markname = "小李"
		if r.Friends[1].Markname != "小李" {
			t.Error("Friend(102) is not the roster's entry")
		}
	})
}

func friendIDs(fs []events.Friend) []int64 {
	var ids []int64
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

func groupIDs(gs []events.Group) []int64 {
	var ids []int64
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	return ids
}

func TestSearchFriends(t *testing.T) {
	tests := []struct {
		name   string
		params P
		want   []int64 // nil: no match
	}{
		{"string attribute", P{"category": "同事"}, []int64{102, 103}},
		{"number attribute", P{"vip_level": "6"}, []int64{101}},
		{"zero number attribute", P{"vip_level": "0"}, []int64{102, 103, 104}},
		{"is_vip", P{"is_vip": "1"}, []int64{101}},
		{"flag", P{"flag": "8"}, []int64{104}},
		{"face", P{"face": "241"}, []int64{101}},
		{"id", P{"id": "103"}, []int64{103}},
		{"uid", P{"uid": "202"}, []int64{102}},
		{"name, all matches in order", P{"name": "张三"}, []int64{101, 103}},
		{"markname", P{"markname": "老张"}, []int64{101}},
		{"empty markname", P{"markname": ""}, []int64{102, 103}},
		{"state", P{"state": "online"}, []int64{101, 103}},
		{"client_type", P{"client_type": "pc"}, []int64{101, 104}},
		{"computed displayname", P{"displayname": "李四"}, []int64{102, 104}},
		{"computed displayname from markname", P{"displayname": "老张"}, []int64{101}},
		{"alias qq is uid", P{"qq": "204"}, []int64{104}},
		{"alias nick is name", P{"nick": "张三"}, []int64{101, 103}},
		{"AND of filters", P{"name": "张三", "category": "同事"}, []int64{103}},
		{"AND of alias and attribute", P{"nick": "张三", "state": "online", "client_type": "mobile"}, []int64{103}},
		{"AND that fails", P{"name": "张三", "category": "我的家人"}, nil},
		{"reserved params ignored", P{"name": "张三", "client": "bot", "datatype": "jsonp", "callback": "cb", "access_token": "secret", "_": "1479787946"}, []int64{101, 103}},
		{"only reserved params", P{"client": "bot", "datatype": "json", "callback": "cb", "access_token": "t", "_": "1"}, nil},
		{"no filters", P{}, nil},
		{"nil params", nil, nil},
		{"unknown attribute", P{"foo": "bar"}, nil},
		{"unknown attribute, empty value", P{"foo": ""}, nil},
		{"unknown attribute beside a match", P{"name": "张三", "foo": "bar"}, nil},
		{"group-only attribute", P{"role": "create"}, nil},
		{"exact: number text", P{"vip_level": "6.0"}, nil},
		{"exact: leading zero", P{"uid": "0202"}, nil},
		{"exact: case", P{"client_type": "PC"}, nil},
		{"empty uid", P{"uid": ""}, nil},
		{"attribute names are case sensitive", P{"Name": "张三"}, nil},
		// Every parameter is its own filter (COMPAT.md): qq=201 and uid=202 cannot both hold.
		{"alias and attribute disagree", P{"qq": "201", "uid": "202"}, nil},
		{"nick and name disagree", P{"nick": "张三", "name": "李四"}, nil},
		{"alias and attribute agree", P{"qq": "201", "uid": "201"}, []int64{101}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			before := testRoster()
			// Map order varies from call to call; the answer must not.
			for range 20 {
				got := friendIDs(r.SearchFriends(tc.params))
				if !slices.Equal(got, tc.want) {
					t.Fatalf("SearchFriends(%q) = %v, want %v", tc.params, got, tc.want)
				}
			}
			if !slices.EqualFunc(r.Friends, before.Friends, func(a, b events.Friend) bool { return a == b }) {
				t.Error("SearchFriends changed the roster")
			}
		})
	}
	t.Run("results are copies", func(t *testing.T) {
		r := testRoster()
		got := r.SearchFriends(P{"id": "101"})
		got[0].Name = "changed"
		if r.Friends[0].Name != "张三" {
			t.Error("changing a result changed the roster")
		}
	})
}

func TestSearchGroups(t *testing.T) {
	tests := []struct {
		name   string
		params P
		want   []int64
	}{
		{"role", P{"role": "create"}, []int64{301}},
		{"id", P{"id": "302"}, []int64{302}},
		{"uid", P{"uid": "403"}, []int64{303}},
		{"code", P{"code": "501"}, []int64{301}},
		{"name", P{"name": "工作群"}, []int64{303}},
		{"computed displayname, all matches", P{"displayname": "工作群"}, []int64{301, 303}},
		{"markname", P{"markname": "工作群"}, []int64{301}},
		{"empty markname", P{"markname": ""}, []int64{302, 303}},
		{"memo with html", P{"memo": "<公告>"}, []int64{301}},
		{"member_count", P{"member_count": "3"}, []int64{301}},
		{"member_count 0", P{"member_count": "0"}, []int64{303}},
		{"owner_id", P{"owner_id": "101"}, []int64{302}},
		{"owner_uid", P{"owner_uid": "2000"}, []int64{301}},
		{"max_member", P{"max_member": "500"}, []int64{301}},
		{"alias qq is uid", P{"qq": "402"}, []int64{302}},
		{"alias number is uid", P{"number": "401"}, []int64{301}},
		{"alias nick is name", P{"nick": "闲聊"}, []int64{302}},
		{"AND of filters", P{"displayname": "工作群", "role": "manage"}, []int64{303}},
		{"member param ignored", P{"name": "测试群", "member": "whatever"}, []int64{301}},
		{"only a member param", P{"member": "501"}, nil},
		{"reserved params ignored", P{"role": "attend", "client": "c", "datatype": "jsonp", "callback": "f", "access_token": "t", "_": "9"}, []int64{302}},
		{"only reserved params", P{"callback": "f"}, nil},
		{"no filters", P{}, nil},
		{"unknown attribute", P{"gnumber": "401"}, nil},
		{"friend-only attribute", P{"category": "同事"}, nil},
		{"AND that fails", P{"id": "301", "uid": "402"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			for range 20 {
				got := groupIDs(r.SearchGroups(tc.params))
				if !slices.Equal(got, tc.want) {
					t.Fatalf("SearchGroups(%q) = %v, want %v", tc.params, got, tc.want)
				}
			}
		})
	}
	t.Run("results include members", func(t *testing.T) {
		r := testRoster()
		got := r.SearchGroups(P{"displayname": "工作群"})
		if len(got) != 2 {
			t.Fatalf("got %d groups, want 2", len(got))
		}
		if !slices.Equal(got[0].Member, r.Groups[0].Member) || len(got[0].Member) != 3 {
			t.Errorf("members of 301 = %+v, want the roster's 3", got[0].Member)
		}
		if got[1].Member == nil || len(got[1].Member) != 0 {
			t.Errorf("members of 303 = %#v, want an empty, non-nil list", got[1].Member)
		}
	})
	t.Run("params not changed", func(t *testing.T) {
		r := testRoster()
		p := P{"id": "301", "member": "x"}
		r.SearchGroups(p)
		if p["member"] != "x" || len(p) != 2 {
			t.Errorf("SearchGroups changed its params: %q", p)
		}
	})
}

// friendAttr and groupAttr read a lookup key of a friend or group independently of the code under test.
func friendAttr(f *events.Friend, key string) (string, bool) {
	switch key {
	case "id":
		return strconv.FormatInt(f.ID, 10), true
	case "uid":
		return strconv.FormatInt(f.UID, 10), true
	case "name":
		return f.Name, true
	case "markname":
		return f.Markname, true
	case "displayname":
		if f.Markname != "" {
			return f.Markname, true
		}
		return f.Name, true
	}
	return "", false
}

func groupAttr(g *events.Group, key string) (string, bool) {
	switch key {
	case "id":
		return strconv.FormatInt(g.ID, 10), true
	case "uid":
		return strconv.FormatInt(g.UID, 10), true
	case "name":
		return g.Name, true
	case "displayname":
		if g.Markname != "" {
			return g.Markname, true
		}
		return g.Name, true
	}
	return "", false
}

func FuzzFind(f *testing.F) {
	ro := loadDefaultRoster(f)
	fr, gr := ro.Friends[0], ro.Groups[0]
	seeds := [][2]string{
		{"id", strconv.FormatInt(fr.ID, 10)},
		{"uid", strconv.FormatInt(fr.UID, 10)},
		{"name", fr.Name},
		{"displayname", fr.DisplayName()},
		{"markname", fr.Markname},
		{"markname", ""},
		{"id", strconv.FormatInt(gr.ID, 10)},
		{"name", gr.Name},
		{"displayname", gr.DisplayName()},
		{"qq", strconv.FormatInt(fr.UID, 10)},
		{"nick", fr.Name},
		{"number", strconv.FormatInt(gr.UID, 10)},
		{"category", fr.Category},
		{"vip_level", "0"},
		{"member", "1"},
		{"member_count", strconv.Itoa(gr.MemberCount)},
		{"client", "x"},
		{"_", ""},
		{"foo", "bar"},
		{"", ""},
		{"id", "1.0"},
		{"name", "\xff"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		p := P{key: value}

		_, isKey := friendAttr(&events.Friend{}, key)
		friend := ro.FindFriend(p)
		if friend != nil {
			if !isKey {
				t.Fatalf("FindFriend(%q) found %d by a key that is not a lookup key", p, friend.ID)
			}
			if got, _ := friendAttr(friend, key); got != value {
				t.Fatalf("FindFriend(%q) found %d whose %s is %q", p, friend.ID, key, got)
			}
			i := index(ro.Friends, friend)
			if i < 0 {
				t.Fatalf("FindFriend(%q) does not point into the roster", p)
			}
			for j := range ro.Friends[:i] {
				if got, _ := friendAttr(&ro.Friends[j], key); got == value {
					t.Fatalf("FindFriend(%q) = %d, but %d comes first", p, friend.ID, ro.Friends[j].ID)
				}
			}
		} else if isKey {
			for j := range ro.Friends {
				if got, _ := friendAttr(&ro.Friends[j], key); got == value {
					t.Fatalf("FindFriend(%q) = nil, but %d matches", p, ro.Friends[j].ID)
				}
			}
		}

		_, isGroupKey := groupAttr(&events.Group{}, key)
		group := ro.FindGroup(p)
		if group != nil {
			if !isGroupKey {
				t.Fatalf("FindGroup(%q) found %d by a key that is not a lookup key", p, group.ID)
			}
			if got, _ := groupAttr(group, key); got != value {
				t.Fatalf("FindGroup(%q) found %d whose %s is %q", p, group.ID, key, got)
			}
			if index(ro.Groups, group) < 0 {
				t.Fatalf("FindGroup(%q) does not point into the roster", p)
			}
		} else if isGroupKey {
			for j := range ro.Groups {
				if got, _ := groupAttr(&ro.Groups[j], key); got == value {
					t.Fatalf("FindGroup(%q) = nil, but %d matches", p, ro.Groups[j].ID)
				}
			}
		}

		friends := ro.SearchFriends(p)
		if events.ReservedParams[key] && friends != nil {
			t.Fatalf("SearchFriends(%q) filtered on a reserved param: %v", p, friendIDs(friends))
		}
		if isKey {
			var want []int64
			for j := range ro.Friends {
				if got, _ := friendAttr(&ro.Friends[j], key); got == value {
					want = append(want, ro.Friends[j].ID)
				}
			}
			if got := friendIDs(friends); !slices.Equal(got, want) {
				t.Fatalf("SearchFriends(%q) = %v, want %v", p, got, want)
			}
		}
		for _, fr := range friends {
			if ro.Friend(fr.ID) == nil || *ro.Friend(fr.ID) != fr {
				t.Fatalf("SearchFriends(%q) returned %+v, not in the roster", p, fr)
			}
		}

		groups := ro.SearchGroups(p)
		if (events.ReservedParams[key] || key == "member") && groups != nil {
			t.Fatalf("SearchGroups(%q) filtered on %q: %v", p, key, groupIDs(groups))
		}
		if isGroupKey {
			var want []int64
			for j := range ro.Groups {
				if got, _ := groupAttr(&ro.Groups[j], key); got == value {
					want = append(want, ro.Groups[j].ID)
				}
			}
			if got := groupIDs(groups); !slices.Equal(got, want) {
				t.Fatalf("SearchGroups(%q) = %v, want %v", p, got, want)
			}
		}
		for _, g := range groups {
			orig := ro.Group(g.ID)
			if orig == nil || len(g.Member) != len(orig.Member) {
				t.Fatalf("SearchGroups(%q) returned group %d unlike the roster's", p, g.ID)
			}
		}
	})
}
