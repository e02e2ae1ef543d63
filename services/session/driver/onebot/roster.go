package onebot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// memberFetchers bounds the get_group_member_list calls at once: one per group (OneBot has no
// bulk call), and some implementations answer them slowly.
const memberFetchers = 4

// fetchRoster asks for the whole roster: the account, its friends, its groups and their
// members. A group whose member list could not be had is in partial, with no members: a
// comparison must not read that as everyone leaving. profile tells whether the account's
// profile (sex, signature) could be had, for the same reason.
func (s *session) fetchRoster(ctx context.Context) (ro *roster.Roster, partial map[int64]bool, profile bool, err error) {
	var login obLogin
	if err := s.c.call(ctx, "get_login_info", nil, &login); err != nil {
		return nil, nil, false, err
	}
	if login.UserID <= 0 {
		return nil, nil, false, fmt.Errorf("get_login_info: no user_id")
	}
	self := int64(login.UserID)
	ro = &roster.Roster{User: events.User{
		ID: self, UID: self, Account: strconv.FormatInt(self, 10), Name: login.Nickname, State: "online",
	}}
	var me obStranger
	if err := s.c.call(ctx, "get_stranger_info", map[string]any{"user_id": self}, &me); err == nil {
		// long_nick is NapCat's signature; the others leave it empty.
		ro.User.Sex, ro.User.Signature, profile = me.Sex, me.LongNick, true
	}
	if ro.Friends, err = s.fetchFriends(ctx); err != nil {
		return nil, nil, false, err
	}
	var groups []obGroup
	if err := s.c.call(ctx, "get_group_list", nil, &groups); err != nil {
		return nil, nil, false, err
	}
	groups = uniq(groups, func(g obGroup) int64 { return int64(g.GroupID) })
	members := make([][]events.GroupMember, len(groups))
	failed := make([]bool, len(groups))
	var wg sync.WaitGroup
	work := make(chan int)
	for range min(memberFetchers, len(groups)) {
		wg.Go(func() {
			for i := range work {
				members[i], failed[i] = s.fetchMembers(ctx, int64(groups[i].GroupID))
			}
		})
	}
	for i := range groups {
		work <- i
	}
	close(work)
	wg.Wait()
	partial = map[int64]bool{}
	ro.Groups = make([]events.Group, 0, len(groups))
	for i, g := range groups {
		ro.Groups = append(ro.Groups, groupOf(g, members[i], self))
		if failed[i] {
			partial[int64(g.GroupID)] = true
		}
	}
	ro.Discusses = []events.Discuss{} // gone from QQ: discuss routes answer their not-found codes
	return ro, partial, profile, nil
}

// fetchFriends reads the friend list with categories where the implementation has them
// (NapCat's get_friends_with_category), else the plain list.
func (s *session) fetchFriends(ctx context.Context) ([]events.Friend, error) {
	if !s.d.noCats {
		var cats []obCategory
		err := s.c.call(ctx, "get_friends_with_category", nil, &cats)
		if err == nil {
			var out []events.Friend
			for _, c := range cats {
				for _, f := range c.BuddyList {
					out = append(out, friendOf(f, c.CategoryName))
				}
			}
			return uniq(out, func(f events.Friend) int64 { return f.ID }), nil
		}
		var ce *CallError
		if !errors.As(err, &ce) {
			return nil, err
		}
		s.d.noCats = true // not NapCat: never ask again
	}
	var list []obFriend
	if err := s.c.call(ctx, "get_friend_list", nil, &list); err != nil {
		return nil, err
	}
	out := make([]events.Friend, 0, len(list))
	for _, f := range list {
		out = append(out, friendOf(f, ""))
	}
	return uniq(out, func(f events.Friend) int64 { return f.ID }), nil
}

// fetchMembers reads one group's member list; failed says it could not.
func (s *session) fetchMembers(ctx context.Context, groupID int64) (members []events.GroupMember, failed bool) {
	var list []obMember
	if err := s.c.call(ctx, "get_group_member_list", map[string]any{"group_id": groupID}, &list); err != nil {
		s.d.log.Warn("onebot: group members not fetched", "group", groupID, "err", err)
		return []events.GroupMember{}, true
	}
	out := make([]events.GroupMember, 0, len(list))
	for _, m := range list {
		if m.UserID > 0 {
			out = append(out, memberOf(m))
		}
	}
	return uniq(out, func(m events.GroupMember) int64 { return m.ID }), false
}

// uniq drops later entries with an id already seen, and ids the roster cannot hold: the
// session's lookups assume ids are unique and positive.
func uniq[T any](list []T, id func(T) int64) []T {
	seen := make(map[int64]bool, len(list))
	out := list[:0:0]
	for _, x := range list {
		if k := id(x); k > 0 && k < 1<<53 && !seen[k] {
			seen[k] = true
			out = append(out, x)
		}
	}
	return out
}

// The OneBot objects in Mojo's shapes: id = uid = the QQ or group number, stable under OneBot.

func friendOf(f obFriend, category string) events.Friend {
	id := int64(f.UserID)
	return events.Friend{ID: id, UID: id, Name: f.Nickname, Markname: f.Remark, Category: category, State: "online"}
}

func memberOf(m obMember) events.GroupMember {
	id := int64(m.UserID)
	role := m.Role
	if role != events.MemberRoleOwner && role != events.MemberRoleAdmin {
		role = events.MemberRoleMember
	}
	bad := 0
	if m.Unfriendly {
		bad = 1
	}
	return events.GroupMember{
		ID: id, UID: id, Name: m.Nickname, Card: m.Card, Sex: m.Sex, City: m.Area, Role: role,
		JoinTime: int64(m.JoinTime), LastSpeakTime: int64(m.LastSentTime), Level: int(m.Level), BadRecord: bad,
	}
}

// groupOf builds a group; its owner and the account's own role come from the members.
func groupOf(g obGroup, members []events.GroupMember, self int64) events.Group {
	id := int64(g.GroupID)
	out := events.Group{
		ID: id, UID: id, Name: g.GroupName, Markname: g.GroupRemark, MaxMember: int(g.MaxMemberCount),
		Createtime: int64(g.GroupCreateTime), Level: int(g.GroupLevel), Role: events.GroupRoleAttend,
		Member: members, MemberCount: len(members),
	}
	setRoles(&out, self)
	return out
}

// setRoles derives what the member list says about a group: owner, admins, the account's role.
func setRoles(g *events.Group, self int64) {
	g.AdminCount, g.OwnerID, g.OwnerUID, g.Role = 0, 0, 0, events.GroupRoleAttend
	for _, m := range g.Member {
		switch m.Role {
		case events.MemberRoleOwner:
			g.OwnerID, g.OwnerUID = m.ID, m.UID
		case events.MemberRoleAdmin:
			g.AdminCount++
		}
		if m.ID == self {
			switch m.Role {
			case events.MemberRoleOwner:
				g.Role = events.GroupRoleCreate
			case events.MemberRoleAdmin:
				g.Role = events.GroupRoleManage
			}
		}
	}
	g.MemberCount = len(g.Member)
}

// op is one difference between two rosters, as the session is told of it.
type op struct {
	change *driver.Change
	prop   *driver.PropertyChange
}

// scope says what a comparison looks at: the friend list, the group list, and the members
// of some groups, or of all.
type scope struct {
	user, friends, groups, allMembers bool
	members                           []int64
}

var everything = scope{user: true, friends: true, groups: true, allMembers: true}

// diff lists what changed from old to cur within sc: new and lost friends, groups and
// members, and changed properties: the account's nickname and signature, friends' nicknames
// and marknames, group names, members' nicknames, cards and roles. OneBot tells of few of
// these (group_card, group_admin, NapCat's group_name): the others are found here, by the
// periodic comparison.
func diff(old, cur *roster.Roster, sc scope) []op {
	var ops []op
	change := func(c driver.Change) { ops = append(ops, op{change: &c}) }
	prop := func(p driver.PropertyChange) { ops = append(ops, op{prop: &p}) }
	if sc.user && old.User.ID == cur.User.ID {
		if old.User.Name != cur.User.Name {
			prop(driver.PropertyChange{User: true, Property: driver.PropertyName, New: cur.User.Name})
		}
		if old.User.Signature != cur.User.Signature {
			prop(driver.PropertyChange{User: true, Property: driver.PropertySignature, New: cur.User.Signature})
		}
	}
	if sc.friends {
		was, is := index(old.Friends, friendID), index(cur.Friends, friendID)
		for _, f := range cur.Friends {
			o := was[f.ID]
			if o == nil {
				change(driver.Change{Kind: events.EventNewFriend, Friend: f})
				continue
			}
			if o.Name != f.Name {
				prop(driver.PropertyChange{FriendID: f.ID, Property: driver.PropertyName, New: f.Name})
			}
			if o.Markname != f.Markname {
				prop(driver.PropertyChange{FriendID: f.ID, Property: driver.PropertyMarkname, New: f.Markname})
			}
		}
		for _, f := range old.Friends {
			if is[f.ID] == nil {
				change(driver.Change{Kind: events.EventLoseFriend, Friend: f})
			}
		}
	}
	was, is := index(old.Groups, groupID), index(cur.Groups, groupID)
	if sc.groups {
		for _, g := range cur.Groups {
			if o := was[g.ID]; o == nil {
				change(driver.Change{Kind: events.EventNewGroup, Group: g})
			} else if o.Name != g.Name {
				prop(driver.PropertyChange{GroupID: g.ID, Property: driver.PropertyName, New: g.Name})
			}
		}
		for _, g := range old.Groups {
			if is[g.ID] == nil {
				change(driver.Change{Kind: events.EventLoseGroup, Group: g})
			}
		}
	}
	ids := sc.members
	if sc.allMembers {
		ids = nil
		for _, g := range cur.Groups {
			ids = append(ids, g.ID)
		}
	}
	for _, gid := range ids {
		og, cg := was[gid], is[gid]
		if og == nil || cg == nil {
			continue // a new or lost group is one event, not one per member
		}
		before, after := index(og.Member, memberID), index(cg.Member, memberID)
		for _, m := range cg.Member {
			o := before[m.ID]
			if o == nil {
				change(driver.Change{Kind: events.EventNewGroupMember, GroupID: gid, Member: m})
				continue
			}
			if o.Name != m.Name {
				prop(driver.PropertyChange{GroupID: gid, MemberID: m.ID, Property: driver.PropertyName, New: m.Name})
			}
			if o.Card != m.Card {
				prop(driver.PropertyChange{GroupID: gid, MemberID: m.ID, Property: driver.PropertyCard, New: m.Card})
			}
			if o.Role != m.Role {
				prop(driver.PropertyChange{GroupID: gid, MemberID: m.ID, Property: driver.PropertyRole, New: m.Role})
			}
		}
		for _, m := range og.Member {
			if after[m.ID] == nil {
				change(driver.Change{Kind: events.EventLoseGroupMember, GroupID: gid, Member: m})
			}
		}
	}
	return ops
}

func friendID(f *events.Friend) int64      { return f.ID }
func groupID(g *events.Group) int64        { return g.ID }
func memberID(m *events.GroupMember) int64 { return m.ID }

// index maps ids to the entries of a list (which it points into).
func index[T any](list []T, id func(*T) int64) map[int64]*T {
	m := make(map[int64]*T, len(list))
	for i := range list {
		m[id(&list[i])] = &list[i]
	}
	return m
}

// editable copies what sc says will change, so that old stays as it was for the comparison
// and no list is shared with a roster someone else reads.
func editable(ro *roster.Roster, sc scope) *roster.Roster {
	next := *ro
	if sc.friends {
		next.Friends = slices.Clone(ro.Friends)
	}
	next.Groups = slices.Clone(ro.Groups)
	for _, gid := range sc.members {
		if g := next.Group(gid); g != nil {
			g.Member = slices.Clone(g.Member)
		}
	}
	return &next
}
