package sim

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

func isNoChange(err error) bool { return errors.Is(err, wxdriver.ErrNoChange) }

// Inject makes the simulated account receive a message, a roster change or a friend
// request, as WeChat would: it refuses strangers and changes that change nothing.
func (s *Sim) Inject(ctx context.Context, in wx.Injection) (wx.InjectReply, error) {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	ok := func(id string) wx.InjectReply { return wx.InjectReply{Code: events.CodeOK, ID: id, Status: "success"} }
	if sink == nil {
		return wx.InjectReply{}, events.NewStatus(events.CodeNotReady, "client not ready: the simulated account is not logged in")
	}
	switch {
	case in.Type != "" && in.Event != "":
		return wx.InjectReply{}, events.ErrBadRequest("injection: give type (a message) or event (a change), not both")
	case in.Type != "":
		id, err := s.message(ctx, sink, in)
		return ok(id), err
	case in.Event == events.EventFriendRequest:
		r, err := s.friendRequest(ctx, sink, in)
		if err != nil {
			return wx.InjectReply{}, err
		}
		rep := ok(r.ID)
		rep.Ticket = r.Ticket
		return rep, nil
	case in.Event != "":
		id, err := s.change(ctx, sink, in)
		return ok(id), err
	default:
		return wx.InjectReply{}, events.ErrBadRequest("injection: give type (a message) or event (a change)")
	}
}

// body checks and builds what a message says.
func body(in wx.Injection) (wxdriver.Body, error) {
	b := wxdriver.Body{Format: in.Format, Content: in.Content}
	if b.Format == "" {
		b.Format = wx.FormatText
	}
	bad := events.ErrBadRequest
	switch b.Format {
	case wx.FormatText, wx.FormatPayment:
		if in.Content == "" {
			return b, bad("injection: a %s message needs content", b.Format)
		}
	case wx.FormatMedia:
		if len(in.MediaData) == 0 {
			return b, bad("injection: a media message needs media_data (base64)")
		}
		mime := in.MediaMime
		if mime == "" {
			mime = "application/octet-stream"
		}
		typ := in.MediaType
		if typ == "" {
			typ = wx.MediaTypeOf(mime)
		}
		if _, known := wx.MediaCodes[typ]; !known {
			return b, bad("injection: unknown media_type %q", typ)
		}
		name := in.MediaName
		if name == "" {
			name = typ
		}
		b.Media = &wxdriver.IncomingMedia{Type: typ, Name: name, Mime: mime, Data: in.MediaData}
	case wx.FormatApp:
		if in.App == nil || in.App.Title == "" {
			return b, bad("injection: an app message needs app_title")
		}
		a := *in.App
		b.App = &a
		if b.Content == "" {
			b.Content = "[应用分享]标题:" + a.Title
		}
	case wx.FormatCard:
		if in.Card == nil || in.Card.Name == "" {
			return b, bad("injection: a card message needs card_name")
		}
		c := *in.Card
		b.Card = &c
		if b.Content == "" {
			b.Content = "[名片](" + c.Name + ")"
		}
	case wx.FormatRevoke:
		if in.RevokeID == "" {
			return b, bad("injection: a revoke message needs revoke_id")
		}
		b.RevokeID = in.RevokeID
		if b.Content == "" {
			b.Content = "[撤回消息](" + in.RevokeID + ")"
		}
	default:
		return b, bad("injection: unknown format %q", in.Format)
	}
	return b, nil
}

// message delivers a received message, or one sent from the phone (source outer).
func (s *Sim) message(ctx context.Context, sink wxdriver.Sink, in wx.Injection) (string, error) {
	b, err := body(in)
	if err != nil {
		return "", err
	}
	t := time.Now()
	if in.Time > 0 {
		t = time.Unix(in.Time, 0)
	}
	notFound := func(format string, a ...any) error { return events.NewStatus(events.CodeNotFound, format, a...) }
	s.mu.Lock()
	msgID := s.nextMsgID()
	if in.Source == wx.SourceOuter {
		m := wxdriver.SentMessage{Type: in.Type, MsgID: msgID, Time: t, Body: b}
		switch in.Type {
		case wx.FriendMessage:
			if s.ro.Friend(in.ReceiverID) == nil {
				s.mu.Unlock()
				return "", notFound("friend %s not found", in.ReceiverID)
			}
			m.TargetID = in.ReceiverID
		case wx.GroupMessage:
			if s.ro.Group(in.GroupID) == nil {
				s.mu.Unlock()
				return "", notFound("group %s not found", in.GroupID)
			}
			m.GroupID = in.GroupID
		default:
			s.mu.Unlock()
			return "", events.ErrBadRequest("injection: a message sent elsewhere is a friend_message or a group_message, not %q", in.Type)
		}
		s.mu.Unlock()
		return sink.Sent(ctx, m)
	}
	if in.Source != "" && in.Source != wx.SourceLocal {
		s.mu.Unlock()
		return "", events.ErrBadRequest("injection: unknown source %q", in.Source)
	}
	msg := wxdriver.Incoming{Type: in.Type, MsgID: msgID, SenderID: in.SenderID, GroupID: in.GroupID, Time: t, Body: b}
	switch in.Type {
	case wx.FriendMessage:
		if s.ro.Friend(in.SenderID) == nil {
			s.mu.Unlock()
			return "", notFound("friend %s not found", in.SenderID)
		}
		msg.GroupID = ""
	case wx.GroupMessage:
		if s.ro.Group(in.GroupID) == nil {
			s.mu.Unlock()
			return "", notFound("group %s not found", in.GroupID)
		}
		if s.ro.Member(in.GroupID, in.SenderID) == nil {
			s.mu.Unlock()
			return "", notFound("group member %s not found", in.SenderID)
		}
	case wx.GroupNotice:
		if s.ro.Group(in.GroupID) == nil {
			s.mu.Unlock()
			return "", notFound("group %s not found", in.GroupID)
		}
		msg.SenderID = ""
	default:
		s.mu.Unlock()
		return "", events.ErrBadRequest("injection: unknown message type %q", in.Type)
	}
	s.mu.Unlock()
	return sink.Receive(ctx, msg)
}

// friendRequest makes a stranger ask to be a friend.
func (s *Sim) friendRequest(ctx context.Context, sink wxdriver.Sink, in wx.Injection) (wx.FriendRequest, error) {
	if in.Friend == nil || in.Friend.DisplayName() == wx.UnknownNickname {
		return wx.FriendRequest{}, events.ErrBadRequest("friend_request needs friend with a name")
	}
	s.mu.Lock()
	id := in.Friend.ID
	if id == "" {
		id = newContactID()
	}
	if s.ro.Friend(id) != nil {
		s.mu.Unlock()
		return wx.FriendRequest{}, events.NewStatus(events.CodeFailure, "friend_request: %s is a friend already", id)
	}
	s.msgSeq++
	r := wx.FriendRequest{ID: id, Displayname: in.Friend.DisplayName(), Verify: in.Verify,
		Ticket: "v2_sim" + strconv.FormatUint(s.msgSeq, 16) + "@stranger"}
	s.requests[r.Ticket] = r
	s.mu.Unlock()
	if err := sink.FriendRequest(ctx, r); err != nil {
		return wx.FriendRequest{}, fmt.Errorf("friend_request: %w", err)
	}
	return r, nil
}

// change applies a roster change or a property change to the server's roster and reports
// it; it returns the new object's id for a new_* change.
func (s *Sim) change(ctx context.Context, sink wxdriver.Sink, in wx.Injection) (string, error) {
	bad := events.ErrBadRequest
	nothing := events.NewStatus(events.CodeFailure, "%s: nothing to change", in.Event)
	c := wxdriver.Change{Kind: in.Event, GroupID: in.GroupID}
	var newID string
	s.mu.Lock()
	switch in.Event {
	case events.EventNewFriend:
		if in.Friend == nil {
			s.mu.Unlock()
			return "", bad("new_friend needs friend")
		}
		c.Friend = *in.Friend
		if c.Friend.ID == "" {
			c.Friend.ID = newContactID()
		}
		if c.Friend.Category == "" {
			c.Friend.Category = wx.CategoryFriend
		}
		if !s.ro.AddFriend(c.Friend) {
			s.mu.Unlock()
			return "", nothing
		}
		newID = c.Friend.ID
	case events.EventLoseFriend:
		f, ok := s.ro.RemoveFriend(in.FriendID)
		if !ok {
			s.mu.Unlock()
			return "", nothing
		}
		c.Friend = f
	case events.EventNewGroup:
		if in.Group == nil {
			s.mu.Unlock()
			return "", bad("new_group needs group")
		}
		g := *in.Group
		if g.ID == "" {
			g.ID = newGroupID()
		}
		if !wx.IsGroupID(g.ID) {
			s.mu.Unlock()
			return "", bad("new_group: %q is not a group id (@@…)", g.ID)
		}
		g.Member = append([]wx.Member{{ID: s.ro.User.ID, Name: s.ro.User.Name, UID: s.ro.User.UID}}, g.Member...)
		for i := range g.Member {
			if g.Member[i].ID == "" {
				g.Member[i].ID = newContactID()
			}
		}
		c.Group = g
		if !s.ro.AddGroup(g) {
			s.mu.Unlock()
			return "", nothing
		}
		newID = g.ID
	case events.EventLoseGroup:
		g, ok := s.ro.RemoveGroup(in.GroupID)
		if !ok {
			s.mu.Unlock()
			return "", nothing
		}
		c.Group = g
	case events.EventNewGroupMember:
		if in.Member == nil {
			s.mu.Unlock()
			return "", bad("new_group_member needs member")
		}
		c.Member = *in.Member
		if c.Member.ID == "" {
			c.Member.ID = newContactID()
		}
		if _, ok := s.ro.AddMember(in.GroupID, c.Member); !ok {
			s.mu.Unlock()
			return "", nothing
		}
		newID = c.Member.ID
	case events.EventLoseGroupMember:
		m, _, ok := s.ro.RemoveMember(in.GroupID, in.MemberID)
		if !ok {
			s.mu.Unlock()
			return "", nothing
		}
		c.Member = m
	case wx.EventFriendPropertyChange, wx.EventGroupPropertyChange, wx.EventGroupMemberPropertyChange, wx.EventUserPropertyChange:
		t := map[string]wxroster.Target{
			wx.EventFriendPropertyChange:      {FriendID: in.FriendID},
			wx.EventGroupPropertyChange:       {GroupID: in.GroupID},
			wx.EventGroupMemberPropertyChange: {GroupID: in.GroupID, MemberID: in.MemberID},
			wx.EventUserPropertyChange:        {},
		}[in.Event]
		pc := wxdriver.PropertyChange{GroupID: t.GroupID, MemberID: t.MemberID, FriendID: t.FriendID, Property: in.Property, New: in.Value}
		if pc.Kind() != in.Event {
			s.mu.Unlock()
			return "", bad("%s: name the object (friend_id, group_id, member_id)", in.Event)
		}
		_, _, changed, err := s.ro.SetProperty(t, in.Property, in.Value)
		s.mu.Unlock()
		switch {
		case errors.Is(err, wxroster.ErrNotFound):
			return "", events.NewStatus(events.CodeNotFound, "%s: %v", in.Event, err)
		case err != nil:
			return "", bad("%s: %v", in.Event, err)
		case !changed:
			return "", nothing
		}
		if err := sink.ChangeProperty(ctx, pc); err != nil && !isNoChange(err) {
			return "", fmt.Errorf("%s: %w", in.Event, err)
		}
		return "", nil
	default:
		s.mu.Unlock()
		return "", bad("injection: unknown event %q", in.Event)
	}
	s.mu.Unlock()
	if err := sink.Change(ctx, c); err != nil && !isNoChange(err) {
		return "", fmt.Errorf("%s: %w", in.Event, err)
	}
	return newID, nil
}
