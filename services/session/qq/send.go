package qq

import (
	"context"
	"errors"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/roster"
)

// A send resolves its target under the read lock into an outgoing message and the report it
// will publish, then sends without the lock.

func (q *Platform) sendFriendMessage(ctx context.Context, p events.Params) (any, error) {
	return q.send(ctx, p, true, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
		f := ro.FindFriend(p)
		if f == nil {
			return driver.Outgoing{}, events.ErrFriendNotFound
		}
		m.Receiver = &events.Receiver{Name: f.DisplayName(), ID: f.ID, UID: f.UID}
		return driver.Outgoing{Type: events.FriendMessage, TargetID: f.ID}, nil
	})
}

func (q *Platform) sendGroupMessage(ctx context.Context, p events.Params) (any, error) {
	return q.send(ctx, p, true, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
		g := ro.FindGroup(p)
		if g == nil {
			return driver.Outgoing{}, events.ErrGroupNotFound
		}
		m.GroupRef = &events.GroupRef{Name: g.DisplayName(), ID: g.ID, UID: g.UID}
		return driver.Outgoing{Type: events.GroupMessage, TargetID: g.ID}, nil
	})
}

func (q *Platform) sendDiscussMessage(ctx context.Context, p events.Params) (any, error) {
	return q.send(ctx, p, true, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
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
func (q *Platform) sendSessMessage(ctx context.Context, p events.Params) (any, error) {
	return q.send(ctx, p, false, func(ro *roster.Roster, m *events.Message) (driver.Outgoing, error) {
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

// send resolves the target, refuses a message with neither content nor media (media_id,
// media_data or media_path, resolved through the media store), and sends: at once and in the background
// with async=1 (where the route allows it), else waiting for the outcome.
func (q *Platform) send(ctx context.Context, p events.Params, asyncAllowed bool,
	resolve func(*roster.Roster, *events.Message) (driver.Outgoing, error)) (any, error) {
	content := p["content"]
	q.e.RLock()
	if q.ro == nil {
		st := q.e.State()
		q.e.RUnlock()
		return nil, events.ErrNotReady(st)
	}
	me := q.ro.User
	m := &events.Message{
		Class: events.ClassSend, Content: content, PostType: events.PostSendMessage,
		Sender: &events.Sender{Name: me.DisplayName(), ID: me.ID, UID: me.UID}, From: engine.From(ctx),
	}
	out, err := resolve(q.ro, m)
	q.e.RUnlock()
	if err != nil {
		return nil, err
	}
	// The media is stored (once) only for a target that exists, and before anything is sent:
	// a bad one is refused with the store's reply, nothing sent.
	meta, hasMedia, err := q.media.Resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	if content == "" && !hasMedia {
		return nil, events.ErrContentEmpty
	}
	out.Content = content
	m.Type = out.Type
	if hasMedia {
		out.Media = q.media.Attachment(meta)
		m.Format, m.Media, m.Content = events.FormatMedia, meta.Report(), content+events.PictureContent
	}

	if asyncAllowed && p.Truthy("async") {
		q.e.Go(func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.e.Config().DriverTimeout)
			defer cancel()
			q.deliver(ctx, out, m)
		})
		return events.StatusInProcess, nil
	}
	q.deliver(ctx, out, m)
	id := m.ID
	return &events.SendReply{Code: m.SendResult.Code, ID: &id, Info: m.SendResult.Info, Status: m.SendResult.Status}, nil
}

// deliver sends through the driver and publishes the send_message report, whatever the outcome.
func (q *Platform) deliver(ctx context.Context, out driver.Outgoing, m *events.Message) {
	m.ID = q.e.NextID()
	m.Time = time.Now().Unix()
	res := &events.SendResult{Code: 0, Info: events.SendOKInfo, Msg: events.SendOK, Status: events.SendOK}
	if err := q.drv.Send(ctx, out); err != nil {
		res = &events.SendResult{Code: -2, Info: events.SendNoResult + ": " + err.Error(), Msg: events.SendFailed, Status: events.SendFailed}
		var se *driver.SendError
		if errors.As(err, &se) {
			res.Code, res.Info = se.Code, se.Info
		}
		q.log.Warn("send failed", "type", out.Type, "target", out.TargetID, "id", m.ID, "err", err)
	}
	m.SendResult = res
	if err := q.publishMessage(m); err != nil {
		q.log.Error("send_message report not published", "id", m.ID, "err", err)
	}
}
