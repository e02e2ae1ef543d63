package wxroster

import (
	"errors"
	"fmt"
	"slices"

	"github.com/openqq/openqq/pkg/events/wx"
)

// Errors of the changes.
var (
	// ErrNotFound: the object to change is not in the roster.
	ErrNotFound = errors.New("not in the roster")
	// ErrNoProperty: the object has no such (settable) attribute.
	ErrNoProperty = errors.New("no such property")
)

// AddFriend adds f unless a friend has its id; it reports whether it did.
func (r *Roster) AddFriend(f wx.Friend) bool {
	if f.ID == "" || r.Friend(f.ID) != nil {
		return false
	}
	r.Friends = append(r.Friends, f)
	return true
}

// RemoveFriend removes the friend with id and returns it.
func (r *Roster) RemoveFriend(id string) (wx.Friend, bool) {
	delete(r.Stuck, id)
	return remove(&r.Friends, func(f *wx.Friend) bool { return f.ID == id })
}

// AddGroup adds g (a copy of its members) unless a group has its id.
func (r *Roster) AddGroup(g wx.Group) bool {
	if !wx.IsGroupID(g.ID) || r.Group(g.ID) != nil {
		return false
	}
	g.Member = slices.Clone(g.Member)
	if g.Member == nil {
		g.Member = []wx.Member{}
	}
	r.Groups = append(r.Groups, g)
	return true
}

// RemoveGroup removes the group with id and returns it.
func (r *Roster) RemoveGroup(id string) (wx.Group, bool) {
	delete(r.Stuck, id)
	return remove(&r.Groups, func(g *wx.Group) bool { return g.ID == id })
}

// AddMember adds m to a group unless it is there; it returns the group (nil if unknown).
func (r *Roster) AddMember(groupID string, m wx.Member) (*wx.Group, bool) {
	g := r.Group(groupID)
	if g == nil || m.ID == "" || GroupMember(g, m.ID) != nil {
		return g, false
	}
	g.Member = append(g.Member, m)
	return g, true
}

// RemoveMember removes a member from a group and returns it and the group.
func (r *Roster) RemoveMember(groupID, memberID string) (wx.Member, *wx.Group, bool) {
	g := r.Group(groupID)
	if g == nil {
		return wx.Member{}, nil, false
	}
	m, ok := remove(&g.Member, func(m *wx.Member) bool { return m.ID == memberID })
	return m, g, ok
}

func remove[T any](list *[]T, match func(*T) bool) (T, bool) {
	var zero T
	for i := range *list {
		if match(&(*list)[i]) {
			x := (*list)[i]
			*list = slices.Delete(*list, i, i+1)
			return x, true
		}
	}
	return zero, false
}

// Target names the object of a property: a member (GroupID and MemberID), a group
// (GroupID), a friend (FriendID) or, with no id, the user.
type Target struct {
	GroupID, MemberID, FriendID string
}

// personFields are the settable attributes of a user, friend or member.
func personFields(account, city, display, markname, name, province, sex, signature *string) map[string]*string {
	return map[string]*string{
		"account": account, "city": city, "display": display, "markname": markname, "name": name,
		"province": province, "sex": sex, "signature": signature,
	}
}

// field returns the object t names (a copy is taken later) and a pointer to its attribute.
func (r *Roster) field(t Target, property string) (*string, func() any, error) {
	var fields map[string]*string
	var obj func() any
	switch {
	case t.MemberID != "":
		m := r.Member(t.GroupID, t.MemberID)
		if m == nil {
			return nil, nil, fmt.Errorf("member %s of group %s: %w", t.MemberID, t.GroupID, ErrNotFound)
		}
		fields = personFields(&m.Account, &m.City, &m.Display, &m.Markname, &m.Name, &m.Province, &m.Sex, &m.Signature)
		obj = func() any { return *m }
	case t.GroupID != "":
		g := r.Group(t.GroupID)
		if g == nil {
			return nil, nil, fmt.Errorf("group %s: %w", t.GroupID, ErrNotFound)
		}
		fields = map[string]*string{"name": &g.Name, "owner_uid": &g.OwnerUID}
		obj = func() any { c := *g; c.Member = slices.Clone(g.Member); return c }
	case t.FriendID != "":
		f := r.Friend(t.FriendID)
		if f == nil {
			return nil, nil, fmt.Errorf("friend %s: %w", t.FriendID, ErrNotFound)
		}
		fields = personFields(&f.Account, &f.City, &f.Display, &f.Markname, &f.Name, &f.Province, &f.Sex, &f.Signature)
		fields["category"] = &f.Category
		obj = func() any { return *f }
	default:
		u := &r.User
		fields = personFields(&u.Account, &u.City, &u.Display, &u.Markname, &u.Name, &u.Province, &u.Sex, &u.Signature)
		obj = func() any { return *u }
	}
	p, ok := fields[property]
	if !ok {
		return nil, nil, fmt.Errorf("%q: %w", property, ErrNoProperty)
	}
	return p, obj, nil
}

// SetProperty sets an attribute of the object t names. It returns the object after the
// change (a wx.User, wx.Friend, wx.Group or wx.Member, as *_property_change carries it), the
// old value, and whether anything changed.
func (r *Roster) SetProperty(t Target, property, value string) (obj any, old string, changed bool, err error) {
	p, get, err := r.field(t, property)
	if err != nil {
		return nil, "", false, err
	}
	old = *p
	*p = value
	return get(), old, old != value, nil
}

// Property reads an attribute of the object t names.
func (r *Roster) Property(t Target, property string) (string, error) {
	p, _, err := r.field(t, property)
	if err != nil {
		return "", err
	}
	return *p, nil
}

// SetStick pins or unpins a friend or group; it reports whether that changed anything.
func (r *Roster) SetStick(id string, on bool) (bool, error) {
	if r.Friend(id) == nil && r.Group(id) == nil {
		return false, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if r.Stuck[id] == on {
		return false, nil
	}
	if on {
		if r.Stuck == nil {
			r.Stuck = map[string]bool{}
		}
		r.Stuck[id] = true
	} else {
		delete(r.Stuck, id)
	}
	return true, nil
}

// RenewIDs gives every contact and group a new id, as a QR login does, and returns the
// mapping old → new. A person who is a friend and a member, or a member of several groups,
// keeps one id across them, and so does the user, who is a member of its groups; the system
// accounts' ids (filehelper, ...: any id not starting with '@') stay. newID makes an id: a group's when group is true.
func (r *Roster) RenewIDs(newID func(group bool) string) map[string]string {
	m := map[string]string{}
	renew := func(id string, group bool) string {
		if id == "" || id[0] != '@' {
			return id
		}
		if n, ok := m[id]; ok {
			return n
		}
		n := newID(group)
		m[id] = n
		return n
	}
	r.User.ID = renew(r.User.ID, false)
	for i := range r.Friends {
		r.Friends[i].ID = renew(r.Friends[i].ID, false)
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		g.ID = renew(g.ID, true)
		for j := range g.Member {
			g.Member[j].ID = renew(g.Member[j].ID, false)
		}
	}
	if len(r.Stuck) > 0 {
		stuck := make(map[string]bool, len(r.Stuck))
		for id := range r.Stuck {
			stuck[renew(id, false)] = true
		}
		r.Stuck = stuck
	}
	return m
}
