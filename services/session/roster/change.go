package roster

import (
	"slices"

	"github.com/openqq/openqq/pkg/events"
)

// The mutations below report whether they changed anything, so that a change the session
// already made (its own kick) and then hears again from the driver is published once.

// AddFriend adds f unless a friend with its id exists.
func (r *Roster) AddFriend(f events.Friend) bool {
	if r.Friend(f.ID) != nil {
		return false
	}
	r.Friends = append(r.Friends, f)
	return true
}

// RemoveFriend removes the friend with id and returns it.
func (r *Roster) RemoveFriend(id int64) (events.Friend, bool) {
	return remove(&r.Friends, func(f *events.Friend) bool { return f.ID == id })
}

// AddGroup adds g unless a group with its id exists.
func (r *Roster) AddGroup(g events.Group) bool {
	if r.Group(g.ID) != nil {
		return false
	}
	g.Member = nonNil(slices.Clone(g.Member))
	g.MemberCount = len(g.Member)
	r.Groups = append(r.Groups, g)
	return true
}

// RemoveGroup removes the group with id and returns it.
func (r *Roster) RemoveGroup(id int64) (events.Group, bool) {
	return remove(&r.Groups, func(g *events.Group) bool { return g.ID == id })
}

// AddGroupMember adds m to the group with groupID unless it is there already. It returns the
// group as it is afterwards.
func (r *Roster) AddGroupMember(groupID int64, m events.GroupMember) (*events.Group, bool) {
	g := r.Group(groupID)
	if g == nil || GroupMember(g, m.ID) != nil {
		return g, false
	}
	g.Member = append(g.Member, m)
	g.MemberCount = len(g.Member)
	return g, true
}

// RemoveGroupMember removes the member with memberID from the group with groupID. It returns
// the member and the group as it is afterwards.
func (r *Roster) RemoveGroupMember(groupID, memberID int64) (events.GroupMember, *events.Group, bool) {
	g := r.Group(groupID)
	if g == nil {
		return events.GroupMember{}, nil, false
	}
	m, ok := remove(&g.Member, func(m *events.GroupMember) bool { return m.ID == memberID })
	g.MemberCount = len(g.Member)
	return m, g, ok
}

// AddDiscuss adds d unless a discuss with its id exists.
func (r *Roster) AddDiscuss(d events.Discuss) bool {
	if r.Discuss(d.ID) != nil {
		return false
	}
	d.Member = nonNil(slices.Clone(d.Member))
	r.Discusses = append(r.Discusses, d)
	return true
}

// RemoveDiscuss removes the discuss with id and returns it.
func (r *Roster) RemoveDiscuss(id int64) (events.Discuss, bool) {
	return remove(&r.Discusses, func(d *events.Discuss) bool { return d.ID == id })
}

// AddDiscussMember adds m to the discuss with discussID unless it is there already. It
// returns the discuss as it is afterwards.
func (r *Roster) AddDiscussMember(discussID int64, m events.DiscussMember) (*events.Discuss, bool) {
	d := r.Discuss(discussID)
	if d == nil || DiscussMember(d, m.ID) != nil {
		return d, false
	}
	d.Member = append(d.Member, m)
	return d, true
}

// RemoveDiscussMember removes the member with memberID from the discuss with discussID. It
// returns the member and the discuss as it is afterwards.
func (r *Roster) RemoveDiscussMember(discussID, memberID int64) (events.DiscussMember, *events.Discuss, bool) {
	d := r.Discuss(discussID)
	if d == nil {
		return events.DiscussMember{}, nil, false
	}
	m, ok := remove(&d.Member, func(m *events.DiscussMember) bool { return m.ID == memberID })
	return m, d, ok
}

func remove[T any](list *[]T, match func(*T) bool) (T, bool) {
	for i := range *list {
		if match(&(*list)[i]) {
			x := (*list)[i]
			*list = slices.Delete(*list, i, i+1)
			return x, true
		}
	}
	var zero T
	return zero, false
}
