package qq

import (
	"context"
	"fmt"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/roster"
)

// State records a login state the driver reached.
func (q *Platform) State(st events.State) { q.e.SetState(st) }

// QRCode publishes input_qrcode [path, base64 of the PNG].
func (q *Platform) QRCode(path string, png []byte) { q.e.QRCode(path, png) }

// LoggedIn installs the roster, publishes login and moves to running.
func (q *Platform) LoggedIn(r *roster.Roster, scanned bool) {
	q.e.Lock()
	q.ro = r
	q.e.Changed()
	q.e.Unlock()
	q.log.Info("logged in", "user", r.User.Name, "uid", r.User.UID, "friends", len(r.Friends),
		"groups", len(r.Groups), "discusses", len(r.Discusses))
	q.e.LoggedIn(scanned)
}

// Receive publishes a message the account received, named from the roster; a picture it
// carries is stored first.
func (q *Platform) Receive(ctx context.Context, in driver.Incoming) (int64, error) {
	pic, err := q.storeReceived(ctx, in.Media, in.Time)
	if err != nil {
		return 0, err
	}
	id, err := q.report(func(me *events.User) (*events.Message, error) {
		m, err := q.incoming(me, in)
		withPicture(m, pic)
		return m, err
	})
	q.dropUnreported(ctx, pic, err)
	return id, err
}

// dropUnreported deletes a stored picture whose message was not reported: nothing names it.
func (q *Platform) dropUnreported(ctx context.Context, pic *media.Meta, err error) {
	if err == nil || pic == nil {
		return
	}
	if derr := q.media.Delete(context.WithoutCancel(ctx), pic.ID); derr != nil {
		q.log.Warn("unreported picture not deleted", "media_id", pic.ID, "err", derr)
	}
}

// storeReceived puts a received picture into the media store (outside the roster lock: it
// reads the bytes); nil when the message carries none.
func (q *Platform) storeReceived(ctx context.Context, in *media.Incoming, at time.Time) (*media.Meta, error) {
	if in == nil {
		return nil, nil
	}
	pic := *in
	if pic.Type == "" {
		pic.Type = media.TypeImage // what QQ carries; a gif stays an image, as QQ shows it
	}
	meta, err := q.media.PutIncoming(ctx, &pic, at)
	if err != nil {
		return nil, fmt.Errorf("store received picture: %w", err)
	}
	return &meta, nil
}

// withPicture gives a report its picture's media fields and format media; its content is the
// driver's ([图片] where the picture was), or [图片] when the driver gives none.
func withPicture(m *events.Message, pic *media.Meta) {
	if m == nil || pic == nil {
		return
	}
	m.Format, m.Media = events.FormatMedia, pic.Report()
	if m.Content == "" {
		m.Content = events.PictureContent
	}
}

// report builds a message report from the roster with build, under the read lock, then gives
// it an id and publishes it.
func (q *Platform) report(build func(me *events.User) (*events.Message, error)) (int64, error) {
	q.e.RLock()
	if q.ro == nil || q.e.State() != events.StateRunning {
		q.e.RUnlock()
		return 0, driver.ErrNotReady
	}
	m, err := build(&q.ro.User)
	q.e.RUnlock()
	if err != nil {
		return 0, err
	}
	m.ID = q.e.NextID()
	if err := q.publishMessage(m); err != nil {
		return 0, fmt.Errorf("publish message %d: %w", m.ID, err)
	}
	return m.ID, nil
}

// unknown is the error for an id the roster does not know.
func unknown(what string, id int64) error {
	return fmt.Errorf("%s %d: %w", what, id, driver.ErrUnknown)
}

// incoming is the report of a received message; the read lock is held.
func (q *Platform) incoming(me *events.User, in driver.Incoming) (*events.Message, error) {
	m := &events.Message{
		Class: events.ClassRecv, Content: in.Content, PostType: events.PostReceiveMessage,
		Time: in.Time.Unix(), Type: in.Type, RawContent: in.Raw,
		Receiver: &events.Receiver{Name: me.DisplayName(), ID: me.ID, UID: me.UID},
	}
	switch in.Type {
	case events.FriendMessage:
		f := q.ro.Friend(in.SenderID)
		if f == nil {
			return nil, unknown("friend", in.SenderID)
		}
		m.Sender = &events.Sender{Name: f.DisplayName(), ID: f.ID, UID: f.UID}
	case events.GroupMessage, events.SessMessage:
		if in.Type == events.SessMessage && in.GroupID == 0 {
			d, mem := q.discussMember(in.DiscussID, in.SenderID)
			if mem == nil {
				return nil, unknown("discuss member", in.SenderID)
			}
			m.Sender = &events.Sender{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
			m.DiscussRef = &events.DiscussRef{Name: d.DisplayName(), ID: d.ID}
			m.Via = "discuss"
			break
		}
		g := q.ro.Group(in.GroupID)
		if g == nil {
			return nil, unknown("group", in.GroupID)
		}
		mem := roster.GroupMember(g, in.SenderID)
		if mem == nil {
			return nil, unknown("group member", in.SenderID)
		}
		m.Sender = &events.Sender{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
		m.GroupRef = &events.GroupRef{Name: g.DisplayName(), ID: g.ID, UID: g.UID}
		if in.Type == events.SessMessage {
			m.Via = "group"
		}
	case events.DiscussMessage:
		d, mem := q.discussMember(in.DiscussID, in.SenderID)
		if mem == nil {
			return nil, unknown("discuss member", in.SenderID)
		}
		m.Sender = &events.Sender{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
		m.DiscussRef = &events.DiscussRef{Name: d.DisplayName(), ID: d.ID}
	default:
		return nil, fmt.Errorf("message type %q: %w", in.Type, driver.ErrUnknown)
	}
	return m, nil
}

func (q *Platform) discussMember(discussID, memberID int64) (*events.Discuss, *events.DiscussMember) {
	d := q.ro.Discuss(discussID)
	if d == nil {
		return nil, nil
	}
	return d, roster.DiscussMember(d, memberID)
}

// Change applies a roster change and publishes it.
func (q *Platform) Change(ctx context.Context, c driver.Change) error {
	q.e.Lock()
	if q.e.State() != events.StateRunning || q.ro == nil {
		q.e.Unlock()
		return driver.ErrNotReady
	}
	var params []any
	switch c.Kind {
	case events.EventNewFriend:
		if q.ro.AddFriend(c.Friend) {
			params = []any{c.Friend}
		}
	case events.EventLoseFriend:
		if f, ok := q.ro.RemoveFriend(c.Friend.ID); ok {
			params = []any{f}
		}
	case events.EventNewGroup:
		if q.ro.AddGroup(c.Group) {
			params = []any{*q.ro.Group(c.Group.ID)}
		}
	case events.EventLoseGroup:
		if g, ok := q.ro.RemoveGroup(c.Group.ID); ok {
			params = []any{g}
		}
	case events.EventNewGroupMember:
		if g, ok := q.ro.AddGroupMember(c.GroupID, c.Member); ok {
			params = []any{c.Member, *g}
		}
	case events.EventLoseGroupMember:
		if m, g, ok := q.ro.RemoveGroupMember(c.GroupID, c.Member.ID); ok {
			params = []any{m, *g}
		}
	// The discuss events carry the seeds' params, [discuss] and [member, discuss] (Mojo's
	// own lost the discuss of the member events to a regex slip: COMPAT.md).
	case events.EventNewDiscuss:
		if q.ro.AddDiscuss(c.Discuss) {
			params = []any{*q.ro.Discuss(c.Discuss.ID)}
		}
	case events.EventLoseDiscuss:
		if d, ok := q.ro.RemoveDiscuss(c.DiscussID); ok {
			params = []any{d}
		}
	case events.EventNewDiscussMember:
		if d, ok := q.ro.AddDiscussMember(c.DiscussID, c.DiscussMember); ok {
			params = []any{c.DiscussMember, *d}
		}
	case events.EventLoseDiscussMember:
		if m, d, ok := q.ro.RemoveDiscussMember(c.DiscussID, c.DiscussMember.ID); ok {
			params = []any{m, *d}
		}
	default:
		q.e.Unlock()
		return fmt.Errorf("change %q: %w", c.Kind, driver.ErrUnknown)
	}
	// Encode while the lock still guards the group's member list.
	ev, err := events.NewEvent(c.Kind, params...)
	if params != nil {
		q.e.Changed()
	}
	q.e.Unlock()
	if params == nil {
		return driver.ErrNoChange
	}
	if err != nil {
		return err
	}
	q.log.Info("roster change", "event", c.Kind)
	return q.e.PublishItem(ev, engine.NextEventID())
}
