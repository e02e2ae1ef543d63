package wxroster

import (
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// attrs reads the attributes of an object by their JSON names, as search_* matches them.
type attrs[T any] map[string]func(*T) string

var (
	friendAttrs = attrs[wx.Friend]{
		"account":     func(f *wx.Friend) string { return f.Account },
		"category":    func(f *wx.Friend) string { return f.Category },
		"city":        func(f *wx.Friend) string { return f.City },
		"display":     func(f *wx.Friend) string { return f.Display },
		"displayname": func(f *wx.Friend) string { return f.DisplayName() },
		"id":          func(f *wx.Friend) string { return f.ID },
		"markname":    func(f *wx.Friend) string { return f.Markname },
		"name":        func(f *wx.Friend) string { return f.Name },
		"province":    func(f *wx.Friend) string { return f.Province },
		"sex":         func(f *wx.Friend) string { return f.Sex },
		"signature":   func(f *wx.Friend) string { return f.Signature },
		"uid":         func(f *wx.Friend) string { return f.UID },
	}
	groupAttrs = attrs[wx.Group]{
		"displayname": func(g *wx.Group) string { return g.DisplayName() },
		"id":          func(g *wx.Group) string { return g.ID },
		"name":        func(g *wx.Group) string { return g.Name },
		"owner_uid":   func(g *wx.Group) string { return g.OwnerUID },
		"uid":         func(g *wx.Group) string { return g.UID },
	}
	memberAttrs = attrs[wx.Member]{
		"account":     func(m *wx.Member) string { return m.Account },
		"city":        func(m *wx.Member) string { return m.City },
		"display":     func(m *wx.Member) string { return m.Display },
		"displayname": func(m *wx.Member) string { return m.DisplayName() },
		"id":          func(m *wx.Member) string { return m.ID },
		"markname":    func(m *wx.Member) string { return m.Markname },
		"name":        func(m *wx.Member) string { return m.Name },
		"province":    func(m *wx.Member) string { return m.Province },
		"sex":         func(m *wx.Member) string { return m.Sex },
		"signature":   func(m *wx.Member) string { return m.Signature },
		"uid":         func(m *wx.Member) string { return m.UID },
	}
)

// Selectors are the parameters that name a send's target, as Openwx reads them: a friend by
// id, account, displayname or markname; a group by id or displayname.
var (
	FriendSelectors = []string{"id", "account", "displayname", "markname"}
	GroupSelectors  = []string{"id", "displayname"}
)

// filter is one attribute an object must have.
type filter[T any] struct {
	read func(*T) string
	want string
}

// filters picks the parameters of keys out of p. An attribute the object does not have reads
// as "" (Perl's undef eq "").
func filters[T any](a attrs[T], p events.Params, keys []string) []filter[T] {
	var fs []filter[T]
	for _, k := range keys {
		v, ok := p[k]
		if !ok {
			continue
		}
		read := a[k]
		if read == nil {
			read = func(*T) string { return "" }
		}
		fs = append(fs, filter[T]{read, v})
	}
	return fs
}

func matchAll[T any](x *T, fs []filter[T]) bool {
	for _, f := range fs {
		if f.read(x) != f.want {
			return false
		}
	}
	return true
}

// first returns the first object every filter matches; nil when none does or no filter was
// given.
func first[T any](list []T, fs []filter[T]) *T {
	if len(fs) == 0 {
		return nil
	}
	for i := range list {
		if matchAll(&list[i], fs) {
			return &list[i]
		}
	}
	return nil
}

// all returns the objects every filter matches (all of them when there is no filter).
func all[T any](list []T, fs []filter[T]) []T {
	var out []T
	for i := range list {
		if matchAll(&list[i], fs) {
			out = append(out, list[i])
		}
	}
	return out
}

// searchKeys are the parameters search_* matches: every one but client and the transport's.
func searchKeys(p events.Params) []string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k == "client" || events.ReservedParams[k] {
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

// FindFriend finds a send's target friend by the FriendSelectors given (all must match).
func (r *Roster) FindFriend(p events.Params) *wx.Friend {
	return first(r.Friends, filters(friendAttrs, p, FriendSelectors))
}

// FindGroup finds a send's target group by the GroupSelectors given (all must match).
func (r *Roster) FindGroup(p events.Params) *wx.Group {
	return first(r.Groups, filters(groupAttrs, p, GroupSelectors))
}

// SearchFriends is search_friend: the friends whose attributes equal every parameter given
// (client and the transport's parameters aside); all friends when none is given.
func (r *Roster) SearchFriends(p events.Params) []wx.Friend {
	return all(r.Friends, filters(friendAttrs, p, searchKeys(p)))
}

// SearchGroups is search_group: the groups whose attributes equal every parameter given.
func (r *Roster) SearchGroups(p events.Params) []wx.Group {
	return all(r.Groups, filters(groupAttrs, p, searchKeys(p)))
}

// SearchMembers returns the members of g whose attributes equal every parameter given.
func SearchMembers(g *wx.Group, p events.Params) []wx.Member {
	return all(g.Member, filters(memberAttrs, p, searchKeys(p)))
}
