// Package roster holds an account's roster (user, friends, groups with members, discusses) and
// answers the lookups of the Openqq API over it. A Roster is not safe for concurrent use; the
// session guards its copy with a lock.
package roster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/openqq/openqq/pkg/events"
)

// Roster is everything the account knows about its contacts. Its JSON form is the sim driver's
// roster file.
type Roster struct {
	User      events.User      `json:"user"`
	Friends   []events.Friend  `json:"friends"`
	Groups    []events.Group   `json:"groups"`
	Discusses []events.Discuss `json:"discusses"`
}

// ErrInvalid is wrapped by every error of Validate and Decode.
var ErrInvalid = errors.New("invalid roster")

// maxID keeps ids exact in JavaScript clients, which read JSON numbers as doubles.
const maxID = 1<<53 - 1

// Decode reads a roster file and checks it with Validate.
func Decode(r io.Reader) (*Roster, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var ro Roster
	if err := dec.Decode(&ro); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := ro.Validate(); err != nil {
		return nil, err
	}
	ro.normalize()
	return &ro, nil
}

// Validate checks what the lookups rely on: ids and uids positive, below 2^53 and unique in
// their list.
func (r *Roster) Validate() error {
	check := func(what string, id, uid int64) error {
		if id <= 0 || id > maxID {
			return fmt.Errorf("%w: %s: id %d out of range 1..2^53-1", ErrInvalid, what, id)
		}
		// A uid may be unknown (0), as QQ numbers often were to WebQQ.
		if uid < 0 || uid > maxID {
			return fmt.Errorf("%w: %s %d: uid %d out of range 0..2^53-1", ErrInvalid, what, id, uid)
		}
		return nil
	}
	if err := check("user", r.User.ID, r.User.UID); err != nil {
		return err
	}
	seen := map[int64]bool{}
	unique := func(what string, id, uid int64) error {
		if err := check(what, id, uid); err != nil {
			return err
		}
		if seen[id] {
			return fmt.Errorf("%w: %s: duplicate id %d", ErrInvalid, what, id)
		}
		seen[id] = true
		return nil
	}
	for _, f := range r.Friends {
		if err := unique("friend", f.ID, f.UID); err != nil {
			return err
		}
	}
	clear(seen)
	for _, g := range r.Groups {
		if err := unique("group", g.ID, g.UID); err != nil {
			return err
		}
	}
	for _, g := range r.Groups {
		clear(seen)
		for _, m := range g.Member {
			if err := unique(fmt.Sprintf("group %d member", g.ID), m.ID, m.UID); err != nil {
				return err
			}
		}
	}
	clear(seen)
	for _, d := range r.Discusses {
		if err := unique("discuss", d.ID, 0); err != nil {
			return err
		}
	}
	for _, d := range r.Discusses {
		clear(seen)
		for _, m := range d.Member {
			if err := unique(fmt.Sprintf("discuss %d member", d.ID), m.ID, m.UID); err != nil {
				return err
			}
		}
	}
	return nil
}

// normalize gives every list a non-nil slice, so that an empty list renders as [] and a group's
// member key is present in get_group_info.
func (r *Roster) normalize() {
	r.Friends = nonNil(r.Friends)
	r.Groups = nonNil(r.Groups)
	r.Discusses = nonNil(r.Discusses)
	for i := range r.Groups {
		r.Groups[i].Member = nonNil(r.Groups[i].Member)
		r.Groups[i].MemberCount = len(r.Groups[i].Member)
	}
	for i := range r.Discusses {
		r.Discusses[i].Member = nonNil(r.Discusses[i].Member)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Clone returns a deep copy.
func (r *Roster) Clone() *Roster {
	c := &Roster{
		User:      r.User,
		Friends:   slices.Clone(r.Friends),
		Groups:    slices.Clone(r.Groups),
		Discusses: slices.Clone(r.Discusses),
	}
	for i := range c.Groups {
		c.Groups[i].Member = slices.Clone(c.Groups[i].Member)
	}
	for i := range c.Discusses {
		c.Discusses[i].Member = slices.Clone(c.Discusses[i].Member)
	}
	c.normalize()
	return c
}

// BasicGroups returns the groups without their members, as get_group_basic_info shows them.
func (r *Roster) BasicGroups() []events.Group {
	out := slices.Clone(r.Groups)
	for i := range out {
		out[i].Member = nil
	}
	return nonNil(out)
}
