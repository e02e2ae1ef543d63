package session

import (
	"context"
	"errors"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// A send resolves its target under the read lock into an outgoing message and the report it
// will publish, then sends without the lock.

func (s *Session) sendFriendMessage(ctx context.Context, p events.Params) (any, error) {
	return s.send(ctx, p, true, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
		f := ro.FindFriend(p)
		if f == nil {
			return driver.Outgoing{}, events.ErrFriendNotFound
		}
		m.Receiver = &events.Receiver{Name: f.DisplayName(), ID: f.ID, UID: f.UID}
		return driver.Outgoing{Type: events.FriendMessage, TargetID: f.ID}, nil
	})
}

func (s *Session) sendGroupMessage(ctx context.Context, p events.Params) (any, error) {
	return s.send(ctx, p, true, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
		g := ro.FindGroup(p)
		if g == nil {
			return driver.Outgoing{}, events.ErrGroupNotFound
		}
		m.GroupRef = &events.GroupRef{Name: g.DisplayName(), ID: g.ID, UID: g.UID}
		return driver.Outgoing{Type: events.GroupMessage, TargetID: g.ID}, nil
	})
}

func (s *Session) sendDiscussMessage(ctx context.Context, p events.Params) (any, error) {
	return s.send(ctx, p, true, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
		d := ro.FindDiscuss(p)
		if d == nil {
			return driver.Outgoing{}, events.ErrDiscussNotFound
		}
		m.DiscussRef = &events.DiscussRef{Name: d.DisplayName(), ID: d.ID}
		return driver.Outgoing{Type: events.DiscussMessage, TargetID: d.ID}, nil
	})
}

// sendSessMessage sends to a stranger met in a group (group_id/group_uid) or a discuss
// (discuss_id), named by id/uid. Mojo never offered async here, so async is ignored.
func (s *Session) sendSessMessage(ctx context.Context, p events.Params) (any, error) {
	return s.send(ctx, p, false, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
		_, byGroup := p["group_id"]
		_, byGroupUID := p["group_uid"]
		_, byDiscuss := p["discuss_id"]
		member := events.Params{}
		for _, k := range []string{"id", "uid"} {
			if v, ok := p[k]; ok {
				member[k] = v
			}
		}
		switch {
		case byGroup || byGroupUID:
			g := ro.FindGroupRef(p)
			if g == nil {
				return driver.Outgoing{}, events.ErrGroupMemberNotFound
			}
			mem := roster.FindGroupMember(g, member)
			if mem == nil {
				return driver.Outgoing{}, events.ErrGroupMemberNotFound
			}
			m.Receiver = &events.Receiver{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
			m.GroupRef = &events.GroupRef{Name: g.DisplayName(), ID: g.ID, UID: g.UID}
			m.Via = "group"
			return driver.Outgoing{Type: events.SessMessage, TargetID: mem.ID, GroupID: g.ID}, nil
		case byDiscuss:
			d := ro.FindDiscussRef(p)
			if d == nil {
				return driver.Outgoing{}, events.ErrDiscussMbrNotFound
			}
			mem := roster.FindDiscussMember(d, member)
			if mem == nil {
				return driver.Outgoing{}, events.ErrDiscussMbrNotFound
			}
			m.Receiver = &events.Receiver{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
			m.DiscussRef = &events.DiscussRef{Name: d.DisplayName(), ID: d.ID}
			m.Via = "discuss"
			return driver.Outgoing{Type: events.SessMessage, TargetID: mem.ID, DiscussID: d.ID}, nil
		default:
			return driver.Outgoing{}, events.ErrSessMemberNotFound
		}
	})
}

// send resolves the target, refuses empty content, and sends: at once and in the background
// with async=1 (where the route allows it), else waiting for the outcome.
func (s *Session) send(ctx context.Context, p events.Params, asyncAllowed bool,
	resolve func(*roster.Roster, *events.Message) (driver.Outgoing, error)) (any, error) {
	content := p["content"]
	s.mu.RLock()
	if s.ro == nil {
		st := s.state
		s.mu.RUnlock()
		return nil, events.ErrNotReady(st)
	}
	me := s.ro.User
	m := &events.Message{
		Class: events.ClassSend, Content: content, PostType: events.PostSendMessage,
		Sender: &events.Sender{Name: me.DisplayName(), ID: me.ID, UID: me.UID}, From: fromOf(ctx),
	}
	out, err := resolve(s.ro, m)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if content == "" {
		return nil, events.ErrContentEmpty
	}
	out.Content = content
	m.Type = out.Type

	if asyncAllowed && p.Truthy("async") {
		s.async.Add(1)
		go func() {
			defer s.async.Done()
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.DriverTimeout)
			defer cancel()
			s.deliver(ctx, out, m)
		}()
		return events.StatusInProcess, nil
	}
	s.deliver(ctx, out, m)
	id := m.ID
	return &events.SendReply{Code: m.SendResult.Code, ID: &id, Info: m.SendResult.Info, Status: m.SendResult.Status}, nil
}

// deliver sends through the driver and publishes the send_message report, whatever the outcome.
func (s *Session) deliver(ctx context.Context, out driver.Outgoing, m *events.Message) {
	m.ID = s.ids.next()
	m.Time = time.Now().Unix()
	res := &events.SendResult{Code: 0, Info: events.SendOKInfo, Msg: events.SendOK, Status: events.SendOK}
	if err := s.drv.Send(ctx, out); err != nil {
		res = &events.SendResult{Code: -2, Info: events.SendNoResult + ": " + err.Error(), Msg: events.SendFailed, Status: events.SendFailed}
		var se *driver.SendError
		if errors.As(err, &se) {
			res.Code, res.Info = se.Code, se.Info
		}
		s.log.Warn("send failed", "type", out.Type, "target", out.TargetID, "id", m.ID, "err", err)
	}
	m.SendResult = res
	if err := s.publishMessage(m); err != nil {
		s.log.Error("send_message report not published", "id", m.ID, "err", err)
	}
}
