package sim

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The admin calls change the simulated server's roster, then report the change to the sink
// (outside the lock: the sink may call back), before they return.

// unknown wraps ErrUnknown.
func unknown(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), wxdriver.ErrUnknown)
}

// CreateGroup makes a group of the account and the friends, the account its owner.
func (s *Sim) CreateGroup(ctx context.Context, name string, friendIDs []string) (string, error) {
	s.mu.Lock()
	sink, err := s.loggedIn()
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	if len(friendIDs) == 0 {
		s.mu.Unlock()
		return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "a group needs members"}
	}
	u := s.ro.User
	g := wx.Group{ID: newGroupID(), Name: name, OwnerUID: u.UID, Member: []wx.Member{{
		Account: u.Account, City: u.City, ID: u.ID, Name: u.Name, Province: u.Province, Sex: u.Sex, Signature: u.Signature, UID: u.UID,
	}}}
	for _, id := range friendIDs {
		f := s.ro.Friend(id)
		if f == nil || f.Category != wx.CategoryFriend {
			s.mu.Unlock()
			return "", unknown("friend %s", id)
		}
		if slices.ContainsFunc(g.Member, func(m wx.Member) bool { return m.ID == id }) {
			continue
		}
		g.Member = append(g.Member, memberOf(*f))
	}
	s.ro.AddGroup(g)
	s.mu.Unlock()
	return g.ID, s.report(ctx, sink, wxdriver.Change{Kind: events.EventNewGroup, Group: g})
}

// memberOf is a friend as a group member.
func memberOf(f wx.Friend) wx.Member {
	return wx.Member{Account: f.Account, City: f.City, ID: f.ID, Name: f.Name, Province: f.Province, Sex: f.Sex, Signature: f.Signature, UID: f.UID}
}

// report reports a change; ErrNoChange (the session applied it already) is no failure.
func (s *Sim) report(ctx context.Context, sink wxdriver.Sink, c wxdriver.Change) error {
	if err := sink.Change(ctx, c); err != nil && !isNoChange(err) {
		return fmt.Errorf("wx sim: report %s: %w", c.Kind, err)
	}
	return nil
}

func (s *Sim) reportProperty(ctx context.Context, sink wxdriver.Sink, c wxdriver.PropertyChange) error {
	if err := sink.ChangeProperty(ctx, c); err != nil && !isNoChange(err) {
		return fmt.Errorf("wx sim: report %s: %w", c.Kind(), err)
	}
	return nil
}

// Invite adds friends to a group; those already in it are skipped.
func (s *Sim) Invite(ctx context.Context, groupID string, friendIDs []string) error {
	s.mu.Lock()
	sink, err := s.loggedIn()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if s.ro.Group(groupID) == nil {
		s.mu.Unlock()
		return unknown("group %s", groupID)
	}
	var added []wx.Member
	for _, id := range friendIDs {
		f := s.ro.Friend(id)
		if f == nil || f.Category != wx.CategoryFriend {
			s.mu.Unlock()
			return unknown("friend %s", id)
		}
	}
	for _, id := range friendIDs {
		m := memberOf(*s.ro.Friend(id))
		if _, ok := s.ro.AddMember(groupID, m); ok {
			added = append(added, m)
		}
	}
	s.mu.Unlock()
	for _, m := range added {
		if err := s.report(ctx, sink, wxdriver.Change{Kind: events.EventNewGroupMember, GroupID: groupID, Member: m}); err != nil {
			return err
		}
	}
	return nil
}

// Kick removes members from a group the account owns.
func (s *Sim) Kick(ctx context.Context, groupID string, memberIDs []string) error {
	s.mu.Lock()
	sink, err := s.loggedIn()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	g := s.ro.Group(groupID)
	if g == nil {
		s.mu.Unlock()
		return unknown("group %s", groupID)
	}
	if g.OwnerUID != s.ro.User.UID {
		s.mu.Unlock()
		return &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "only the group's owner may remove members"}
	}
	for _, id := range memberIDs {
		if wxroster.GroupMember(g, id) == nil || id == s.ro.User.ID {
			s.mu.Unlock()
			return unknown("member %s of group %s", id, groupID)
		}
	}
	var gone []wx.Member
	for _, id := range memberIDs {
		if m, _, ok := s.ro.RemoveMember(groupID, id); ok {
			gone = append(gone, m)
		}
	}
	s.mu.Unlock()
	for _, m := range gone {
		if err := s.report(ctx, sink, wxdriver.Change{Kind: events.EventLoseGroupMember, GroupID: groupID, Member: m}); err != nil {
			return err
		}
	}
	return nil
}

// SetGroupName renames a group.
func (s *Sim) SetGroupName(ctx context.Context, groupID, name string) error {
	return s.setProperty(ctx, wxroster.Target{GroupID: groupID}, wxdriver.PropertyName, name)
}

// SetMarkname sets the remark of a friend or of a group member.
func (s *Sim) SetMarkname(ctx context.Context, id, groupID, markname string) error {
	t := wxroster.Target{FriendID: id}
	if groupID != "" {
		t = wxroster.Target{GroupID: groupID, MemberID: id}
	}
	return s.setProperty(ctx, t, wxdriver.PropertyMarkname, markname)
}

// setProperty sets an attribute on the server and reports it if it changed.
func (s *Sim) setProperty(ctx context.Context, t wxroster.Target, prop, value string) error {
	s.mu.Lock()
	sink, err := s.loggedIn()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	_, _, changed, err := s.ro.SetProperty(t, prop, value)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%w: %w", err, wxdriver.ErrUnknown)
	}
	if !changed {
		return nil
	}
	return s.reportProperty(ctx, sink, wxdriver.PropertyChange{GroupID: t.GroupID, MemberID: t.MemberID, FriendID: t.FriendID, Property: prop, New: value})
}

// Stick pins or unpins a friend or a group.
func (s *Sim) Stick(_ context.Context, id string, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.loggedIn(); err != nil {
		return err
	}
	if _, err := s.ro.SetStick(id, on); err != nil {
		return fmt.Errorf("%w: %w", err, wxdriver.ErrUnknown)
	}
	return nil
}

// MakeFriend asks a group member to be a friend; the simulated member accepts at once, and
// the new friend is reported.
func (s *Sim) MakeFriend(ctx context.Context, id, verify string) error {
	s.mu.Lock()
	sink, err := s.loggedIn()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if id == s.ro.User.ID || s.ro.Friend(id) != nil {
		s.mu.Unlock()
		return &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "already a friend or yourself"}
	}
	var m *wx.Member
	for i := range s.ro.Groups {
		if m = wxroster.GroupMember(&s.ro.Groups[i], id); m != nil {
			break
		}
	}
	if m == nil {
		s.mu.Unlock()
		return unknown("group member %s", id)
	}
	s.made = append(s.made, FriendRequestSent{ID: id, Name: m.Name, Verify: verify})
	f := friendOf(*m)
	s.ro.AddFriend(f)
	s.mu.Unlock()
	return s.report(ctx, sink, wxdriver.Change{Kind: events.EventNewFriend, Friend: f})
}

// friendOf is a member, or a stranger's card, as a new friend.
func friendOf(m wx.Member) wx.Friend {
	return wx.Friend{Account: m.Account, Category: wx.CategoryFriend, City: m.City, ID: m.ID, Name: m.Name,
		Province: m.Province, Sex: m.Sex, Signature: m.Signature, UID: m.UID}
}

// AcceptFriendRequest accepts a request injected as friend_request, named by its ticket.
func (s *Sim) AcceptFriendRequest(ctx context.Context, r wx.FriendRequest) error {
	s.mu.Lock()
	sink, err := s.loggedIn()
	if err != nil {
		s.mu.Unlock()
		return err
	}
	req, ok := s.requests[r.Ticket]
	if !ok || (r.ID != "" && r.ID != req.ID) {
		s.mu.Unlock()
		return unknown("friend request %q from %s", r.Ticket, r.ID)
	}
	delete(s.requests, r.Ticket)
	f := wx.Friend{Category: wx.CategoryFriend, ID: req.ID, Name: req.Displayname}
	s.ro.AddFriend(f)
	s.mu.Unlock()
	return s.report(ctx, sink, wxdriver.Change{Kind: events.EventNewFriend, Friend: f})
}

// Avatar draws a picture for the object: a PNG square for people, a JPEG one for groups, its
// colour from the name (ids change, faces do not).
func (s *Sim) Avatar(_ context.Context, id, groupID string) (string, []byte, error) {
	s.mu.Lock()
	var key string
	group := false
	switch {
	case groupID != "":
		if m := s.ro.Member(groupID, id); m != nil {
			key = "member:" + m.Name
		}
	case id == s.ro.User.ID:
		key = "user:" + s.ro.User.Name
	case s.ro.Friend(id) != nil:
		key = "friend:" + s.ro.Friend(id).Name
	case s.ro.Group(id) != nil:
		key, group = "group:"+s.ro.Group(id).DisplayName(), true
	}
	_, err := s.loggedIn()
	s.mu.Unlock()
	if err != nil {
		return "", nil, err
	}
	if key == "" {
		return "", nil, unknown("avatar of %s", id)
	}
	return avatar(key, group)
}

// avatar draws a 32×32 square in a colour of key.
func avatar(key string, jpg bool) (string, []byte, error) {
	h := fnv.New32a()
	h.Write([]byte(key))
	v := h.Sum32()
	c := color.RGBA{R: uint8(v), G: uint8(v >> 8), B: uint8(v >> 16), A: 255}
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			if (x/8+y/8)%2 == 0 {
				img.Set(x, y, c)
			} else {
				img.Set(x, y, color.White)
			}
		}
	}
	var buf bytes.Buffer
	if jpg {
		if err := jpeg.Encode(&buf, img, nil); err != nil {
			return "", nil, err
		}
		return "image/jpeg", buf.Bytes(), nil
	}
	if err := png.Encode(&buf, img); err != nil {
		return "", nil, err
	}
	return "image/png", buf.Bytes(), nil
}
