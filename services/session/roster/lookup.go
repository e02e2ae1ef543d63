package roster

import (
	"encoding/json"
	"slices"
	"strconv"

	"github.com/openqq/openqq/pkg/events"
)

// keys names the attributes a route may look an object up by, each read as the text a
// parameter is compared with. Comparison is exact, as in Mojo-Webqq.
type keys[T any] map[string]func(*T) string

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

var (
	friendKeys = keys[events.Friend]{
		"id":          func(f *events.Friend) string { return itoa(f.ID) },
		"uid":         func(f *events.Friend) string { return itoa(f.UID) },
		"name":        func(f *events.Friend) string { return f.Name },
		"displayname": (*events.Friend).DisplayName,
		"markname":    func(f *events.Friend) string { return f.Markname },
	}
	groupKeys = keys[events.Group]{
		"id":          func(g *events.Group) string { return itoa(g.ID) },
		"uid":         func(g *events.Group) string { return itoa(g.UID) },
		"name":        func(g *events.Group) string { return g.Name },
		"displayname": (*events.Group).DisplayName,
	}
	groupMemberKeys = keys[events.GroupMember]{
		"id":  func(m *events.GroupMember) string { return itoa(m.ID) },
		"uid": func(m *events.GroupMember) string { return itoa(m.UID) },
	}
	discussKeys = keys[events.Discuss]{
		"id": func(d *events.Discuss) string { return itoa(d.ID) },
	}
	discussMemberKeys = keys[events.DiscussMember]{
		"id":  func(m *events.DiscussMember) string { return itoa(m.ID) },
		"uid": func(m *events.DiscussMember) string { return itoa(m.UID) },
	}
)

// find returns the first object that every given lookup parameter matches, or nil when none
// matches or no lookup parameter was given.
func find[T any](list []T, k keys[T], p events.Params) *T {
	type filter struct {
		read func(*T) string
		want string
	}
	var fs []filter
	for name, read := range k {
		if v, ok := p[name]; ok {
			fs = append(fs, filter{read, v})
		}
	}
	if len(fs) == 0 {
		return nil
	}
next:
	for i := range list {
		for _, f := range fs {
			if f.read(&list[i]) != f.want {
				continue next
			}
		}
		return &list[i]
	}
	return nil
}

// rename picks parameters under other names: rename(p, "group_id", "id") reads group_id as id.
func rename(p events.Params, pairs ...string) events.Params {
	out := events.Params{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if v, ok := p[pairs[i]]; ok {
			out[pairs[i+1]] = v
		}
	}
	return out
}

// FindFriend finds send_friend_message's target by id, uid, name, displayname or markname.
func (r *Roster) FindFriend(p events.Params) *events.Friend { return find(r.Friends, friendKeys, p) }

// FindGroup finds send_group_message's target by id, uid, name or displayname.
func (r *Roster) FindGroup(p events.Params) *events.Group { return find(r.Groups, groupKeys, p) }

// FindGroupRef finds a group by group_id and group_uid, as sess, shutup and kick name it.
func (r *Roster) FindGroupRef(p events.Params) *events.Group {
	return find(r.Groups, groupKeys, rename(p, "group_id", "id", "group_uid", "uid"))
}

// FindDiscuss finds send_discuss_message's target by id.
func (r *Roster) FindDiscuss(p events.Params) *events.Discuss {
	return find(r.Discusses, discussKeys, p)
}

// FindDiscussRef finds a discuss by discuss_id.
func (r *Roster) FindDiscussRef(p events.Params) *events.Discuss {
	return find(r.Discusses, discussKeys, rename(p, "discuss_id", "id"))
}

// FindGroupMember finds a member of g by id and uid.
func FindGroupMember(g *events.Group, p events.Params) *events.GroupMember {
	return find(g.Member, groupMemberKeys, p)
}

// FindDiscussMember finds a member of d by id and uid.
func FindDiscussMember(d *events.Discuss, p events.Params) *events.DiscussMember {
	return find(d.Member, discussMemberKeys, p)
}

// Friend returns the friend with id, or nil.
func (r *Roster) Friend(id int64) *events.Friend {
	return byID(r.Friends, func(f *events.Friend) int64 { return f.ID }, id)
}

// Group returns the group with id, or nil.
func (r *Roster) Group(id int64) *events.Group {
	return byID(r.Groups, func(g *events.Group) int64 { return g.ID }, id)
}

// Discuss returns the discuss with id, or nil.
func (r *Roster) Discuss(id int64) *events.Discuss {
	return byID(r.Discusses, func(d *events.Discuss) int64 { return d.ID }, id)
}

// GroupMember returns the member with id of g, or nil.
func GroupMember(g *events.Group, id int64) *events.GroupMember {
	return byID(g.Member, func(m *events.GroupMember) int64 { return m.ID }, id)
}

// DiscussMember returns the member with id of d, or nil.
func DiscussMember(d *events.Discuss, id int64) *events.DiscussMember {
	return byID(d.Member, func(m *events.DiscussMember) int64 { return m.ID }, id)
}

func byID[T any](list []T, id func(*T) int64, want int64) *T {
	i := slices.IndexFunc(list, func(x T) bool { return id(&x) == want })
	if i < 0 {
		return nil
	}
	return &list[i]
}

// aliases are attribute names Mojo's objects answered to besides their JSON keys.
var aliases = map[string]string{"qq": "uid", "nick": "name", "number": "uid"}

// SearchFriends returns every friend that all filters match. Each parameter but the reserved
// ones is a filter on an attribute: a JSON key of the friend, the computed displayname, or an
// alias (qq, nick). An unknown attribute matches nothing, and no filter finds nothing.
func (r *Roster) SearchFriends(p events.Params) []events.Friend {
	return search(r.Friends, p, (*events.Friend).DisplayName)
}

// SearchGroups is SearchFriends for groups; results include their members. A member
// parameter is not a filter (Mojo dropped it too).
func (r *Roster) SearchGroups(p events.Params) []events.Group {
	q := make(events.Params, len(p))
	for k, v := range p {
		if k != "member" {
			q[k] = v
		}
	}
	return search(r.Groups, q, (*events.Group).DisplayName)
}

func search[T any](list []T, p events.Params, display func(*T) string) []T {
	// Each parameter is a filter of its own, an alias too: qq=1&uid=2 matches nothing.
	type filter struct{ attr, want string }
	var filters []filter
	for k, v := range p {
		if events.ReservedParams[k] {
			continue
		}
		if a, ok := aliases[k]; ok {
			k = a
		}
		filters = append(filters, filter{k, v})
	}
	if len(filters) == 0 {
		return nil
	}
	var out []T
	for i := range list {
		attrs := attributes(&list[i])
		attrs["displayname"] = display(&list[i])
		match := true
		for _, f := range filters {
			if got, ok := attrs[f.attr]; !ok || got != f.want {
				match = false
				break
			}
		}
		if match {
			out = append(out, list[i])
		}
	}
	return out
}

// attributes reads an object's scalar JSON fields as text, the way a parameter spells them.
func attributes(v any) map[string]string {
	b, err := json.Marshal(v)
	if err != nil {
		return map[string]string{}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return map[string]string{}
	}
	out := make(map[string]string, len(raw)+1)
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		if len(v) > 0 && v[0] != '[' && v[0] != '{' && string(v) != "null" {
			out[k] = string(v)
		}
	}
	return out
}
