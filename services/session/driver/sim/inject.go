package sim

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// Inject makes the simulated account receive a message or a roster change, as QQ would: it
// refuses strangers, muted members and changes that change nothing.
func (s *Sim) Inject(ctx context.Context, in events.Injection) (int64, error) {
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	if sink == nil {
		return 0, events.NewStatus(events.CodeNotReady, "client not ready: the simulated account is not logged in")
	}
	switch {
	case in.Type != "" && in.Event != "":
		return 0, events.ErrBadRequest("injection: give type (a message) or event (a roster change), not both")
	case in.Type != "":
		return s.receive(ctx, sink, in)
	case in.Event != "":
		return 0, s.change(ctx, sink, in)
	default:
		return 0, events.ErrBadRequest("injection: give type (a message) or event (a roster change)")
	}
}

func (s *Sim) receive(ctx context.Context, sink driver.Sink, in events.Injection) (int64, error) {
	if err := s.checkSender(in); err != nil {
		return 0, err
	}
	t := time.Now()
	if in.Time > 0 {
		t = time.Unix(in.Time, 0)
	}
	msg := driver.Incoming{
		Type: in.Type, SenderID: in.SenderID, GroupID: in.GroupID, DiscussID: in.DiscussID,
		Content: in.Content, Time: t,
	}
	if in.MediaData != "" {
		// A picture comes after the text, [图片] in content as Mojo-Webqq showed it.
		data, err := base64.StdEncoding.DecodeString(in.MediaData)
		if err != nil {
			return 0, events.ErrBadRequest("injection: media_data is not base64: " + err.Error())
		}
		msg.Content += "[图片]"
		msg.Media = &media.Incoming{Type: media.TypeImage, Name: in.MediaName, Mime: in.MediaMime, Data: data}
	}
	return sink.Receive(ctx, msg)
}

// checkSender refuses what QQ would not deliver: strangers, and members who are muted.
func (s *Sim) checkSender(in events.Injection) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	notFound := func(format string, a ...any) error { return events.NewStatus(events.CodeNotFound, format, a...) }
	switch in.Type {
	case events.FriendMessage:
		if s.ro.Friend(in.SenderID) == nil {
			return notFound("friend %d not found", in.SenderID)
		}
	case events.GroupMessage, events.SessMessage:
		if in.Type == events.SessMessage && in.GroupID == 0 {
			d := s.ro.Discuss(in.DiscussID)
			if d == nil {
				return notFound("discuss %d not found", in.DiscussID)
			}
			if roster.DiscussMember(d, in.SenderID) == nil {
				return notFound("discuss member %d not found", in.SenderID)
			}
			return nil
		}
		g := s.ro.Group(in.GroupID)
		if g == nil {
			return notFound("group %d not found", in.GroupID)
		}
		if roster.GroupMember(g, in.SenderID) == nil {
			return notFound("group member %d not found", in.SenderID)
		}
		if until, ok := s.muted[[2]int64{in.GroupID, in.SenderID}]; ok && in.Type == events.GroupMessage && time.Now().Before(until) {
			return events.NewStatus(events.CodeFailure, "member %d is muted until %s", in.SenderID, until.Format(time.RFC3339))
		}
	case events.DiscussMessage:
		d := s.ro.Discuss(in.DiscussID)
		if d == nil {
			return notFound("discuss %d not found", in.DiscussID)
		}
		if roster.DiscussMember(d, in.SenderID) == nil {
			return notFound("discuss member %d not found", in.SenderID)
		}
	default:
		return events.ErrBadRequest("injection: unknown message type %q", in.Type)
	}
	return nil
}

func (s *Sim) change(ctx context.Context, sink driver.Sink, in events.Injection) error {
	var ids []int64
	if in.Friend != nil {
		ids = append(ids, in.Friend.ID)
	}
	if in.Group != nil {
		ids = append(ids, in.Group.ID)
	}
	if in.Member != nil {
		ids = append(ids, in.Member.ID)
	}
	for _, id := range ids {
		if id <= 0 || id > maxID {
			return events.ErrBadRequest("%s: id %d out of range 1..2^53-1", in.Event, id)
		}
	}
	c := driver.Change{Kind: in.Event, GroupID: in.GroupID}
	s.mu.Lock()
	var changed bool
	switch in.Event {
	case events.EventNewFriend:
		if in.Friend == nil {
			s.mu.Unlock()
			return events.ErrBadRequest("new_friend needs friend")
		}
		c.Friend = *in.Friend
		changed = s.ro.AddFriend(c.Friend)
	case events.EventLoseFriend:
		c.Friend.ID = in.FriendID
		_, changed = s.ro.RemoveFriend(in.FriendID)
	case events.EventNewGroup:
		if in.Group == nil {
			s.mu.Unlock()
			return events.ErrBadRequest("new_group needs group")
		}
		c.Group = *in.Group
		changed = s.ro.AddGroup(c.Group)
	case events.EventLoseGroup:
		c.Group.ID = in.GroupID
		_, changed = s.ro.RemoveGroup(in.GroupID)
	case events.EventNewGroupMember:
		if in.Member == nil {
			s.mu.Unlock()
			return events.ErrBadRequest("new_group_member needs member")
		}
		c.Member = *in.Member
		_, changed = s.ro.AddGroupMember(in.GroupID, c.Member)
	case events.EventLoseGroupMember:
		c.Member.ID = in.MemberID
		_, _, changed = s.ro.RemoveGroupMember(in.GroupID, in.MemberID)
	default:
		s.mu.Unlock()
		return events.ErrBadRequest("injection: unknown event %q", in.Event)
	}
	s.mu.Unlock()
	if !changed {
		return events.NewStatus(events.CodeFailure, "%s: nothing to change", in.Event)
	}
	// The new object is in the sim's roster now; the session validates nothing further.
	if err := sink.Change(ctx, c); err != nil {
		return fmt.Errorf("%s: %w", in.Event, err)
	}
	return nil
}

// maxID keeps ids exact for JavaScript clients.
const maxID = 1<<53 - 1
