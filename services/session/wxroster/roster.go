// Package wxroster holds a WeChat account's roster (user, friends, groups with members) and
// answers the lookups of the Openwx API over it: Mojo-Weixin's selectors and search_*. A
// Roster is not safe for concurrent use; its owner guards it with a lock.
//
// Ids are WeChat's session ids, which change at every QR login: a new login hands over a
// whole new Roster, never a patch of the old one.
package wxroster

import (
	"errors"
	"fmt"
	"slices"

	"github.com/openqq/openqq/pkg/events/wx"
)

// Roster is everything the account knows about its contacts.
type Roster struct {
	User    wx.User     `json:"user"`
	Friends []wx.Friend `json:"friends"`
	Groups  []wx.Group  `json:"groups"`
	// Stuck holds the ids of the friends and groups pinned to the top of the chat list
	// (stick); WeChat's objects do not carry it, so neither do Openwx's.
	Stuck map[string]bool `json:"stuck,omitempty"`
}

// ErrInvalid is wrapped by every error of Validate.
var ErrInvalid = errors.New("invalid roster")

// Validate checks what the lookups rely on: every object has an id, friend and group ids are
// unique, group ids look like group ids, members are unique within their group.
func (r *Roster) Validate() error {
	if r.User.ID == "" {
		return fmt.Errorf("%w: the user has no id", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, f := range r.Friends {
		if f.ID == "" || seen[f.ID] {
			return fmt.Errorf("%w: friend id %q empty or repeated", ErrInvalid, f.ID)
		}
		seen[f.ID] = true
	}
	for _, g := range r.Groups {
		if !wx.IsGroupID(g.ID) || seen[g.ID] {
			return fmt.Errorf("%w: group id %q not a group id or repeated", ErrInvalid, g.ID)
		}
		seen[g.ID] = true
		ms := map[string]bool{}
		for _, m := range g.Member {
			if m.ID == "" || ms[m.ID] {
				return fmt.Errorf("%w: member id %q of group %s empty or repeated", ErrInvalid, m.ID, g.ID)
			}
			ms[m.ID] = true
		}
	}
	return nil
}

// Clone returns a deep copy.
func (r *Roster) Clone() *Roster {
	c := &Roster{User: r.User, Friends: slices.Clone(r.Friends), Groups: slices.Clone(r.Groups)}
	for i := range c.Groups {
		c.Groups[i].Member = slices.Clone(c.Groups[i].Member)
	}
	if r.Stuck != nil {
		c.Stuck = make(map[string]bool, len(r.Stuck))
		for k, v := range r.Stuck {
			c.Stuck[k] = v
		}
	}
	return c
}

// Friend returns the friend with id, or nil.
func (r *Roster) Friend(id string) *wx.Friend {
	i := slices.IndexFunc(r.Friends, func(f wx.Friend) bool { return f.ID == id })
	if i < 0 {
		return nil
	}
	return &r.Friends[i]
}

// Group returns the group with id, or nil.
func (r *Roster) Group(id string) *wx.Group {
	i := slices.IndexFunc(r.Groups, func(g wx.Group) bool { return g.ID == id })
	if i < 0 {
		return nil
	}
	return &r.Groups[i]
}

// Member returns the member memberID of group groupID, or nil.
func (r *Roster) Member(groupID, memberID string) *wx.Member {
	g := r.Group(groupID)
	if g == nil {
		return nil
	}
	return GroupMember(g, memberID)
}

// GroupMember returns the member of g with id, or nil.
func GroupMember(g *wx.Group, id string) *wx.Member {
	i := slices.IndexFunc(g.Member, func(m wx.Member) bool { return m.ID == id })
	if i < 0 {
		return nil
	}
	return &g.Member[i]
}

// BasicGroups returns the groups without their members, as get_group_basic_info renders them.
func (r *Roster) BasicGroups() []wx.Group {
	out := make([]wx.Group, len(r.Groups))
	for i := range r.Groups {
		out[i] = r.Groups[i].Basic()
	}
	return out
}

// IsStuck reports whether a friend or group is pinned.
func (r *Roster) IsStuck(id string) bool { return r.Stuck[id] }
