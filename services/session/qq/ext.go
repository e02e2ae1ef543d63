package qq

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/roster"
)

// Beyond the WebQQ-shaped reports, the session's Sink takes messages sent elsewhere, property
// changes and extension events, from the drivers that declare them.

// Sent publishes a send_message report for a message the account sent by other means than
// this session; Mojo-Webqq reported those with the info 来自其他设备.
func (q *Platform) Sent(ctx context.Context, in driver.SentMessage) (int64, error) {
	pic, err := q.storeReceived(ctx, in.Media, in.Time)
	if err != nil {
		return 0, err
	}
	id, err := q.report(func(me *events.User) (*events.Message, error) {
		m, err := q.sent(me, in)
		withPicture(m, pic)
		return m, err
	})
	q.dropUnreported(ctx, pic, err)
	return id, err
}

// sentOtherDevice is Mojo's info for a message the account sent from another device.
const sentOtherDevice = "来自其他设备"

// sent is the report of a message sent elsewhere; the read lock is held.
func (q *Platform) sent(me *events.User, in driver.SentMessage) (*events.Message, error) {
	m := &events.Message{
		Class: events.ClassSend, Content: in.Content, PostType: events.PostSendMessage,
		Time: in.Time.Unix(), Type: in.Type, RawContent: in.Raw,
		Sender:     &events.Sender{Name: me.DisplayName(), ID: me.ID, UID: me.UID},
		SendResult: &events.SendResult{Code: 0, Info: sentOtherDevice, Msg: events.SendOK, Status: events.SendOK},
	}
	switch in.Type {
	case events.FriendMessage:
		// A friend may have been removed since; the report still names the peer by number.
		m.Receiver = &events.Receiver{ID: in.TargetID, UID: in.TargetID}
		if f := q.ro.Friend(in.TargetID); f != nil {
			m.Receiver = &events.Receiver{Name: f.DisplayName(), ID: f.ID, UID: f.UID}
		}
	case events.GroupMessage, events.SessMessage:
		g := q.ro.Group(in.GroupID)
		if g == nil {
			return nil, unknown("group", in.GroupID)
		}
		m.GroupRef = &events.GroupRef{Name: g.DisplayName(), ID: g.ID, UID: g.UID}
		if in.Type == events.SessMessage {
			mem := roster.GroupMember(g, in.TargetID)
			if mem == nil {
				return nil, unknown("group member", in.TargetID)
			}
			m.Receiver = &events.Receiver{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
			m.Via = "group"
		}
	default:
		return nil, fmt.Errorf("message type %q: %w", in.Type, driver.ErrUnknown)
	}
	return m, nil
}

// ChangeProperty applies a changed attribute and publishes *_property_change [object,
// property, old, new].
func (q *Platform) ChangeProperty(_ context.Context, c driver.PropertyChange) error {
	q.e.Lock()
	if q.e.State() != events.StateRunning || q.ro == nil {
		q.e.Unlock()
		return driver.ErrNotReady
	}
	name, obj, old, err := q.changeProperty(c)
	var ev *events.Event
	if err == nil {
		q.e.Changed()
		// Encode while the lock still guards the object.
		ev, err = events.NewEvent(name, obj, c.Property, old, c.New)
	}
	q.e.Unlock()
	if err != nil {
		return err
	}
	q.log.Info("roster change", "event", name, "property", c.Property)
	return q.e.PublishItem(ev, engine.NextEventID())
}

// changeProperty changes the roster under the write lock and returns the event to publish.
func (q *Platform) changeProperty(c driver.PropertyChange) (name string, obj any, old string, err error) {
	var field *string
	switch {
	case c.User:
		name, obj, field = events.EventUserPropertyChange, &q.ro.User, roster.UserField(&q.ro.User, c.Property)
	case c.FriendID != 0 && c.MemberID == 0:
		f := q.ro.Friend(c.FriendID)
		if f == nil {
			return "", nil, "", unknown("friend", c.FriendID)
		}
		name, obj, field = events.EventFriendPropertyChange, f, roster.FriendField(f, c.Property)
	case c.GroupID != 0:
		g := q.ro.Group(c.GroupID)
		if g == nil {
			return "", nil, "", unknown("group", c.GroupID)
		}
		if c.MemberID == 0 {
			name, obj, field = events.EventGroupPropertyChange, g, roster.GroupField(g, c.Property)
			break
		}
		mem := roster.GroupMember(g, c.MemberID)
		if mem == nil {
			return "", nil, "", unknown("group member", c.MemberID)
		}
		if c.Property == driver.PropertyRole && !roster.ValidRole(c.New) {
			return "", nil, "", fmt.Errorf("role %q: %w", c.New, driver.ErrUnknown)
		}
		name, obj, field = events.EventGroupMemberPropertyChange, mem, roster.MemberField(mem, c.Property)
		if field != nil && *field != c.New && c.Property == driver.PropertyRole {
			// Once the role is set: the group's owner and counts follow it.
			defer roles(g, mem, *field, q.ro.User.ID)
		}
	}
	if field == nil {
		return "", nil, "", fmt.Errorf("property %q: %w", c.Property, driver.ErrUnknown)
	}
	old = *field
	if old == c.New {
		return "", nil, "", driver.ErrNoChange
	}
	*field = c.New
	return name, obj, old, nil
}

// roles keeps what a group says of its members' roles (owner, admin count, the account's own
// role) true after mem's role changed from old. The count moves by one rather than being
// recounted: a roster may carry a count its member list does not show.
func roles(g *events.Group, mem *events.GroupMember, old string, self int64) {
	if mem.ID == self {
		g.Role = accountRole(mem.Role)
	}
	if mem.Role == events.MemberRoleOwner {
		g.OwnerID, g.OwnerUID = mem.ID, mem.UID
	}
	switch {
	case mem.Role == events.MemberRoleAdmin && old != events.MemberRoleAdmin:
		g.AdminCount++
	case old == events.MemberRoleAdmin && mem.Role != events.MemberRoleAdmin && g.AdminCount > 0:
		g.AdminCount--
	}
}

// accountRole is the account's role in a group (create, manage, attend) from its member role.
func accountRole(memberRole string) string {
	switch memberRole {
	case events.MemberRoleOwner:
		return events.GroupRoleCreate
	case events.MemberRoleAdmin:
		return events.GroupRoleManage
	default:
		return events.GroupRoleAttend
	}
}

// Publish publishes an extension event.
func (q *Platform) Publish(_ context.Context, name string, params ...any) error {
	ev, err := events.NewEvent(name, params...)
	if err != nil {
		return err
	}
	return q.e.PublishItem(ev, engine.NextEventID())
}

// answerFriendRequest answers a friend_request: flag (or the asker's id/uid), approve (default
// 1), remark.
func (q *Platform) answerFriendRequest(ctx context.Context, p events.Params) (any, error) {
	d := q.caps.Requests
	if d == nil {
		return nil, events.ErrRequestNotFound
	}
	a := driver.FriendAnswer{Flag: p["flag"], UserID: paramID(p, "id", "uid"), Approve: approve(p), Remark: p["remark"]}
	return q.answered(d.AnswerFriend(ctx, a), "friend", a.Flag)
}

// answerGroupRequest answers a group_request: flag (or the asker's id/uid and group_id/
// group_uid), approve (default 1), reason, sub_type.
func (q *Platform) answerGroupRequest(ctx context.Context, p events.Params) (any, error) {
	d := q.caps.Requests
	if d == nil {
		return nil, events.ErrRequestNotFound
	}
	a := driver.GroupAnswer{
		Flag: p["flag"], UserID: paramID(p, "id", "uid"), GroupID: paramID(p, "group_id", "group_uid"),
		SubType: p["sub_type"], Approve: approve(p), Reason: p["reason"],
	}
	return q.answered(d.AnswerGroup(ctx, a), "group", a.Flag)
}

func (q *Platform) answered(err error, kind, flag string) (any, error) {
	switch {
	case err == nil:
		return events.StatusSuccess, nil
	case errors.Is(err, driver.ErrUnknown):
		return nil, events.ErrRequestNotFound
	default:
		q.log.Warn("answer request failed", "kind", kind, "flag", flag, "err", err)
		return nil, events.ErrFailure
	}
}

// approve is true unless the call says approve=0 (or empty): a bot that answers means yes.
func approve(p events.Params) bool {
	_, given := p["approve"]
	return !given || p.Truthy("approve")
}

// paramID reads the first of keys that holds a number.
func paramID(p events.Params, keys ...string) int64 {
	for _, k := range keys {
		if n, err := strconv.ParseInt(p[k], 10, 64); err == nil {
			return n
		}
	}
	return 0
}
