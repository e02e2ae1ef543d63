package roster

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

func TestAddFriend(t *testing.T) {
	tests := []struct {
		name    string
		friend  events.Friend
		want    bool
		wantLen int
	}{
		{"new friend", events.Friend{ID: 105, UID: 205, Name: "赵六"}, true, 5},
		{"existing id", events.Friend{ID: 102, Name: "另一个李四"}, false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			if got := r.AddFriend(tc.friend); got != tc.want {
				t.Errorf("AddFriend = %v, want %v", got, tc.want)
			}
			if len(r.Friends) != tc.wantLen {
				t.Errorf("%d friends, want %d", len(r.Friends), tc.wantLen)
			}
			if tc.want && *r.Friend(tc.friend.ID) != tc.friend {
				t.Errorf("Friend(%d) = %+v, want %+v", tc.friend.ID, r.Friend(tc.friend.ID), tc.friend)
			}
			if !tc.want && r.Friend(tc.friend.ID).Name == tc.friend.Name {
				t.Error("AddFriend replaced the existing friend")
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		r := testRoster()
		f := events.Friend{ID: 106, Name: "新朋友"}
		if !r.AddFriend(f) {
			t.Fatal("first AddFriend = false")
		}
		if r.AddFriend(f) {
			t.Error("second AddFriend = true")
		}
		if len(r.Friends) != 5 {
			t.Errorf("%d friends, want 5", len(r.Friends))
		}
	})
}

func TestRemoveFriend(t *testing.T) {
	tests := []struct {
		name    string
		id      int64
		want    bool
		wantLen int
	}{
		{"first", 101, true, 3},
		{"middle", 102, true, 3},
		{"last", 104, true, 3},
		{"unknown", 999, false, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			orig := r.Friend(tc.id)
			var want events.Friend
			if orig != nil {
				want = *orig
			}
			got, ok := r.RemoveFriend(tc.id)
			if ok != tc.want || got != want {
				t.Errorf("RemoveFriend(%d) = %+v, %v; want %+v, %v", tc.id, got, ok, want, tc.want)
			}
			if len(r.Friends) != tc.wantLen {
				t.Errorf("%d friends, want %d", len(r.Friends), tc.wantLen)
			}
			if r.Friend(tc.id) != nil {
				t.Errorf("friend %d still there", tc.id)
			}
			if _, again := r.RemoveFriend(tc.id); again {
				t.Error("second RemoveFriend = true")
			}
		})
	}
}

func TestAddGroup(t *testing.T) {
	tests := []struct {
		name      string
		group     events.Group
		want      bool
		wantCount int
	}{
		{"nil members", events.Group{ID: 304, Name: "新群", MemberCount: 50}, true, 0},
		{"with members", events.Group{ID: 305, Member: []events.GroupMember{{ID: 1}, {ID: 2}}}, true, 2},
		{"existing id", events.Group{ID: 301, Name: "重复"}, false, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			if got := r.AddGroup(tc.group); got != tc.want {
				t.Fatalf("AddGroup = %v, want %v", got, tc.want)
			}
			g := r.Group(tc.group.ID)
			if g.Member == nil {
				t.Error("member list is nil")
			}
			if g.MemberCount != tc.wantCount || len(g.Member) != tc.wantCount {
				t.Errorf("member_count %d, %d members; want %d", g.MemberCount, len(g.Member), tc.wantCount)
			}
		})
	}
	t.Run("members are copied", func(t *testing.T) {
		r := testRoster()
		members := []events.GroupMember{{ID: 1, Name: "a"}}
		r.AddGroup(events.Group{ID: 306, Member: members})
		members[0].Name = "changed"
		if r.Group(306).Member[0].Name != "a" {
			t.Error("AddGroup kept the caller's member slice")
		}
	})
}

func TestRemoveGroup(t *testing.T) {
	r := testRoster()
	g, ok := r.RemoveGroup(302)
	if !ok || g.ID != 302 || len(g.Member) != 1 {
		t.Errorf("RemoveGroup(302) = %+v, %v", g, ok)
	}
	if r.Group(302) != nil || len(r.Groups) != 2 {
		t.Errorf("group 302 still there or wrong count: %d groups", len(r.Groups))
	}
	if _, ok := r.RemoveGroup(302); ok {
		t.Error("second RemoveGroup = true")
	}
}

func TestAddGroupMember(t *testing.T) {
	tests := []struct {
		name      string
		groupID   int64
		member    events.GroupMember
		want      bool
		wantGroup bool
		wantCount int
	}{
		{"new member", 301, events.GroupMember{ID: 503, Name: "成员丙"}, true, true, 4},
		{"into an empty group", 303, events.GroupMember{ID: 503}, true, true, 1},
		{"already a member", 301, events.GroupMember{ID: 501, Name: "又一个"}, false, true, 3},
		{"unknown group", 399, events.GroupMember{ID: 503}, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			g, ok := r.AddGroupMember(tc.groupID, tc.member)
			if ok != tc.want {
				t.Errorf("AddGroupMember = %v, want %v", ok, tc.want)
			}
			if (g != nil) != tc.wantGroup {
				t.Fatalf("group = %v, want found=%v", g, tc.wantGroup)
			}
			if g == nil {
				return
			}
			if g != r.Group(tc.groupID) {
				t.Error("returned group is not the roster's")
			}
			if g.MemberCount != tc.wantCount || len(g.Member) != tc.wantCount {
				t.Errorf("member_count %d, %d members; want %d", g.MemberCount, len(g.Member), tc.wantCount)
			}
			if m := GroupMember(g, tc.member.ID); m == nil || (tc.want && *m != tc.member) {
				t.Errorf("member %d = %+v", tc.member.ID, m)
			}
		})
	}
	t.Run("twice", func(t *testing.T) {
		r := testRoster()
		m := events.GroupMember{ID: 504}
		if _, ok := r.AddGroupMember(302, m); !ok {
			t.Fatal("first AddGroupMember = false")
		}
		g, ok := r.AddGroupMember(302, m)
		if ok || g.MemberCount != 2 {
			t.Errorf("second AddGroupMember = %v, member_count %d; want false, 2", ok, g.MemberCount)
		}
	})
}

func TestRemoveGroupMember(t *testing.T) {
	tests := []struct {
		name      string
		groupID   int64
		memberID  int64
		want      bool
		wantGroup bool
		wantCount int
	}{
		{"member", 301, 501, true, true, 2},
		{"last member", 302, 101, true, true, 0},
		{"not a member", 301, 999, false, true, 3},
		{"member of another group", 301, 101, false, true, 3},
		{"unknown group", 399, 501, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			m, g, ok := r.RemoveGroupMember(tc.groupID, tc.memberID)
			if ok != tc.want {
				t.Errorf("RemoveGroupMember = %v, want %v", ok, tc.want)
			}
			if ok && m.ID != tc.memberID {
				t.Errorf("removed member %d, want %d", m.ID, tc.memberID)
			}
			if !ok && m != (events.GroupMember{}) {
				t.Errorf("member %+v returned with false", m)
			}
			if (g != nil) != tc.wantGroup {
				t.Fatalf("group = %v, want found=%v", g, tc.wantGroup)
			}
			if g == nil {
				return
			}
			if g.MemberCount != tc.wantCount || len(g.Member) != tc.wantCount {
				t.Errorf("member_count %d, %d members; want %d", g.MemberCount, len(g.Member), tc.wantCount)
			}
			if GroupMember(g, tc.memberID) != nil && tc.want {
				t.Errorf("member %d still there", tc.memberID)
			}
		})
	}
}

func TestClone(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Roster)
	}{
		{"user", func(c *Roster) { c.User.Name = "x" }},
		{"friend field", func(c *Roster) { c.Friends[0].Name = "x" }},
		{"friend appended", func(c *Roster) { c.Friends = append(c.Friends, events.Friend{ID: 9}) }},
		{"group field", func(c *Roster) { c.Groups[0].Name = "x" }},
		{"group member field", func(c *Roster) { c.Groups[0].Member[0].Card = "x" }},
		{"group member appended", func(c *Roster) { c.AddGroupMember(301, events.GroupMember{ID: 9}) }},
		{"group member removed", func(c *Roster) { c.RemoveGroupMember(301, 1000) }},
		{"discuss member field", func(c *Roster) { c.Discusses[0].Member[1].Name = "x" }},
		{"friend removed", func(c *Roster) { c.RemoveFriend(101) }},
		{"group removed", func(c *Roster) { c.RemoveGroup(301) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			c := r.Clone()
			if !reflect.DeepEqual(c, r) {
				t.Fatalf("Clone differs from the original:\n got %+v\nwant %+v", c, r)
			}
			tc.mutate(c)
			if !reflect.DeepEqual(r, testRoster()) {
				t.Errorf("changing the clone changed the original: %+v", r)
			}
		})
	}
	t.Run("normalizes", func(t *testing.T) {
		r := &Roster{User: events.User{ID: 1}, Groups: []events.Group{{ID: 2, MemberCount: 7}}}
		c := r.Clone()
		if c.Friends == nil || c.Discusses == nil || c.Groups[0].Member == nil || c.Groups[0].MemberCount != 0 {
			t.Errorf("Clone did not normalize: %+v", c)
		}
	})
}

func TestBasicGroups(t *testing.T) {
	r := testRoster()
	basic := r.BasicGroups()
	if len(basic) != len(r.Groups) {
		t.Fatalf("%d basic groups, want %d", len(basic), len(r.Groups))
	}
	for i, g := range basic {
		if g.Member != nil {
			t.Errorf("group %d: Member = %v, want nil", g.ID, g.Member)
		}
		full := r.Groups[i]
		full.Member = nil
		if !reflect.DeepEqual(g, full) {
			t.Errorf("basic group %+v, want %+v", g, full)
		}
	}
	if !reflect.DeepEqual(r, testRoster()) {
		t.Error("BasicGroups changed the roster")
	}
	b, err := events.Marshal(basic)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"member"`) {
		t.Errorf("basic groups JSON has a member key: %s", b)
	}
	if !strings.Contains(string(b), `"member_count":3`) {
		t.Errorf("basic groups JSON lost member_count: %s", b)
	}
	full, _ := events.Marshal(r.Groups)
	var groups []map[string]json.RawMessage
	if err := json.Unmarshal(full, &groups); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if _, ok := g["member"]; !ok {
			t.Errorf("full group %s has no member key", g["id"])
		}
	}
	t.Run("no groups", func(t *testing.T) {
		empty := &Roster{}
		got := empty.BasicGroups()
		if got == nil {
			t.Fatal("BasicGroups of no groups = nil, want empty")
		}
		if b := events.MustMarshal(got); string(b) != "[]" {
			t.Errorf("JSON = %s, want []", b)
		}
	})
}

func TestDiscussChanges(t *testing.T) {
	newcomer := events.DiscussMember{ID: 803, UID: 903, Name: "丙"}
	tests := []struct {
		name        string
		change      func(*Roster) bool
		discusses   int
		members701  int // -1: discuss 701 gone
		wantChanged bool
	}{
		{"add discuss", func(r *Roster) bool { return r.AddDiscuss(events.Discuss{ID: 702, Name: "新讨论组"}) }, 2, 2, true},
		{"add existing discuss", func(r *Roster) bool { return r.AddDiscuss(events.Discuss{ID: 701, Name: "另一个"}) }, 1, 2, false},
		{"remove discuss", func(r *Roster) bool { _, ok := r.RemoveDiscuss(701); return ok }, 0, -1, true},
		{"remove unknown discuss", func(r *Roster) bool { _, ok := r.RemoveDiscuss(799); return ok }, 1, 2, false},
		{"add member", func(r *Roster) bool { _, ok := r.AddDiscussMember(701, newcomer); return ok }, 1, 3, true},
		{"add member twice", func(r *Roster) bool {
			r.AddDiscussMember(701, newcomer)
			_, ok := r.AddDiscussMember(701, newcomer)
			return ok
		}, 1, 3, false},
		{"add member to unknown discuss", func(r *Roster) bool { _, ok := r.AddDiscussMember(799, newcomer); return ok }, 1, 2, false},
		{"remove member", func(r *Roster) bool { _, _, ok := r.RemoveDiscussMember(701, 801); return ok }, 1, 1, true},
		{"remove unknown member", func(r *Roster) bool { _, _, ok := r.RemoveDiscussMember(701, 809); return ok }, 1, 2, false},
		{"remove member of unknown discuss", func(r *Roster) bool { _, _, ok := r.RemoveDiscussMember(799, 801); return ok }, 1, 2, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			if got := tc.change(r); got != tc.wantChanged {
				t.Errorf("changed = %v, want %v", got, tc.wantChanged)
			}
			if len(r.Discusses) != tc.discusses {
				t.Errorf("%d discusses, want %d", len(r.Discusses), tc.discusses)
			}
			d := r.Discuss(701)
			switch {
			case tc.members701 < 0 && d != nil:
				t.Error("discuss 701 still there")
			case tc.members701 >= 0 && (d == nil || len(d.Member) != tc.members701):
				t.Errorf("discuss 701 = %+v, want %d members", d, tc.members701)
			}
		})
	}
	t.Run("returned values", func(t *testing.T) {
		r := testRoster()
		m, d, ok := r.RemoveDiscussMember(701, 802)
		if !ok || m.Name != "乙" || d.ID != 701 || len(d.Member) != 1 {
			t.Errorf("RemoveDiscussMember = %+v, %+v, %v", m, d, ok)
		}
		got, ok := r.RemoveDiscuss(701)
		if !ok || got.Name != "讨论组" || len(got.Member) != 1 {
			t.Errorf("RemoveDiscuss = %+v, %v", got, ok)
		}
		if !r.AddDiscuss(events.Discuss{ID: 704}) || r.Discuss(704).Member == nil {
			t.Error("a new discuss without members has a nil member list (it must encode as [])")
		}
	})
}
