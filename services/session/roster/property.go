package roster

import "github.com/openqq/openqq/pkg/events"

// The properties a *_property_change names, as Mojo-Webqq named them: the objects' own field
// names.
const (
	PropertyCard      = "card"      // a member's group card
	PropertyRole      = "role"      // a member's role (owner, admin, member)
	PropertyName      = "name"      // the nickname of the account, a friend or a member; a group's name
	PropertyMarkname  = "markname"  // a friend's remark; the account's remark of a group
	PropertySignature = "signature" // the account's signature (个性签名)
)

// The fields below are what a property change may change, one table for the session and for
// the drivers that keep a roster of their own (the simulated account). Each returns nil for
// a property its object does not have.

// UserField is the account's field named by property (name, signature).
func UserField(u *events.User, property string) *string {
	switch property {
	case PropertyName:
		return &u.Name
	case PropertySignature:
		return &u.Signature
	}
	return nil
}

// FriendField is a friend's field named by property (name, markname).
func FriendField(f *events.Friend, property string) *string {
	switch property {
	case PropertyName:
		return &f.Name
	case PropertyMarkname:
		return &f.Markname
	}
	return nil
}

// GroupField is a group's field named by property (name, markname).
func GroupField(g *events.Group, property string) *string {
	switch property {
	case PropertyName:
		return &g.Name
	case PropertyMarkname:
		return &g.Markname
	}
	return nil
}

// MemberField is a group member's field named by property (name, card, role).
func MemberField(m *events.GroupMember, property string) *string {
	switch property {
	case PropertyName:
		return &m.Name
	case PropertyCard:
		return &m.Card
	case PropertyRole:
		return &m.Role
	}
	return nil
}

// ValidRole tells whether role is a member role (owner, admin, member).
func ValidRole(role string) bool {
	switch role {
	case events.MemberRoleOwner, events.MemberRoleAdmin, events.MemberRoleMember:
		return true
	}
	return false
}
