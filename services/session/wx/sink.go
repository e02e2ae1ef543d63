package wx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The platform is the driver's Sink: it turns what the driver reports into Openwx's reports,
// named from the roster, and publishes them through the engine.

// State records a login state the driver reached.
func (w *Platform) State(st events.State) { w.e.SetState(st) }

// QRCode publishes input_qrcode [path, base64 of the image].
func (w *Platform) QRCode(path string, img []byte) { w.e.QRCode(path, img) }

// LoggedIn installs the roster (the ids of this login), publishes login [1] after a QR scan or
// [0], and moves to running.
func (w *Platform) LoggedIn(r *wxroster.Roster, scanned bool) {
	// Mojo-Weixin reported the roster it had just loaded as update_user, update_friend and
	// update_group [obj, obj, ...]; encoded before the roster is shared, then published before
	// login, as the loading comes before the login.
	updates := w.updateEvents(r)
	w.e.Lock()
	w.ro = r
	w.e.Unlock()
	w.log.Info("logged in", "user", r.User.Name, "id", r.User.ID, "friends", len(r.Friends), "groups", len(r.Groups), "scanned", scanned)
	for _, ev := range updates {
		if err := w.e.PublishItem(ev, engine.NextEventID()); err != nil {
			w.log.Warn("update event not stored", "event", ev.Name, "err", err)
		}
	}
	w.e.LoggedIn(scanned)
}

// updateEvents are update_user, update_friend and update_group of a roster just loaded; one
// that does not encode is logged and left out.
func (w *Platform) updateEvents(r *wxroster.Roster) []*events.Event {
	var out []*events.Event
	for _, build := range []func() (*events.Event, error){
		func() (*events.Event, error) { return wx.UpdateUserEvent(r.User) },
		func() (*events.Event, error) { return wx.UpdateFriendEvent(r.Friends) },
		func() (*events.Event, error) { return wx.UpdateGroupEvent(r.Groups) },
	} {
		ev, err := build()
		if err != nil {
			w.log.Error("update event", "err", err)
			continue
		}
		out = append(out, ev)
	}
	return out
}

// unknown is the error for an id the roster does not know.
func unknown(what, id string) error { return fmt.Errorf("%s %s: %w", what, id, wxdriver.ErrUnknown) }

// Receive publishes a message the account received, named from the roster. Its media bytes
// go to the media store, and the report carries the media's fields, never the bytes. A
// friend's message is also the answer a consult call to that friend waits for.
func (w *Platform) Receive(ctx context.Context, in wxdriver.Incoming) (string, error) {
	var m *wx.Message
	err := w.running(func(ro *wxroster.Roster) (err error) { m, err = incoming(ro, in); return err })
	if err != nil {
		return "", err
	}
	m.ID = in.MsgID
	if err := w.publishMessage(ctx, m, in.Body, in.Time); err != nil {
		return "", err
	}
	if in.Type == wx.FriendMessage {
		w.answers.received(in.SenderID, m.Content)
	}
	return m.ID, nil
}

// running runs f under the read lock while the client is running with a roster.
func (w *Platform) running(f func(ro *wxroster.Roster) error) error {
	w.e.RLock()
	defer w.e.RUnlock()
	if w.ro == nil || w.e.State() != events.StateRunning {
		return wxdriver.ErrNotReady
	}
	return f(w.ro)
}

// incoming is the report of a received message; the read lock is held.
func incoming(ro *wxroster.Roster, in wxdriver.Incoming) (*wx.Message, error) {
	u := &ro.User
	m := &wx.Message{
		Class: events.ClassRecv, PostType: events.PostReceiveMessage, Source: wx.SourceLocal, Type: in.Type,
		Receiver: wx.UserReceiver(u),
	}
	switch in.Type {
	case wx.FriendMessage:
		f := ro.Friend(in.SenderID)
		if f == nil {
			return nil, unknown("friend", in.SenderID)
		}
		m.Sender = wx.FriendSender(f)
	case wx.GroupMessage, wx.GroupNotice:
		g := ro.Group(in.GroupID)
		if g == nil {
			return nil, unknown("group", in.GroupID)
		}
		m.GroupRef = wx.GroupRefOf(g)
		if in.Type == wx.GroupNotice {
			break // a notice has no sender
		}
		mem := wxroster.GroupMember(g, in.SenderID)
		if mem == nil {
			return nil, unknown("group member", in.SenderID)
		}
		m.Sender = wx.MemberSender(mem)
	default:
		return nil, fmt.Errorf("message type %q: %w", in.Type, wxdriver.ErrUnknown)
	}
	return m, nil
}

// publishMessage fills a report's body (storing its media), its time and id, and publishes it.
func (w *Platform) publishMessage(ctx context.Context, m *wx.Message, b wxdriver.Body, at time.Time) error {
	if at.IsZero() {
		at = time.Now()
	}
	m.Time = at.Unix()
	if err := w.body(ctx, m, b, at); err != nil {
		return err
	}
	if m.ID == "" {
		m.ID = strconv.FormatInt(w.e.NextID(), 10)
	}
	if err := w.e.PublishItem(m, m.ID); err != nil {
		return fmt.Errorf("publish message %s: %w", m.ID, err)
	}
	return nil
}

// The contents Mojo-Weixin writes for what has no text of its own.
const (
	appContent    = "[应用分享]标题:"
	cardContent   = "[名片]"
	revokeContent = "[撤回消息]"
)

// body fills the format part of a report; a media's bytes go to the media store.
func (w *Platform) body(ctx context.Context, m *wx.Message, b wxdriver.Body, at time.Time) error {
	m.Content, m.Format = b.Content, b.Format
	if m.Format == "" {
		m.Format = wx.FormatText
	}
	switch m.Format {
	case wx.FormatMedia:
		if b.Media == nil {
			return fmt.Errorf("media message without its media: %w", wxdriver.ErrUnknown)
		}
		meta, err := w.media.PutIncoming(ctx, b.Media, at)
		if err != nil {
			return fmt.Errorf("store received media: %w", err)
		}
		m.Media = reportMedia(meta)
		if m.Content == "" {
			m.Content = mediaContent(meta)
		}
	case wx.FormatApp:
		m.App = b.App
		if m.App == nil {
			m.App = &wx.App{}
		}
		if m.Content == "" {
			m.Content = appContent + m.App.Title
		}
	case wx.FormatCard:
		m.Card = b.Card
		if m.Card == nil {
			m.Card = &wx.Card{}
		}
		if m.Content == "" {
			m.Content = cardContent + "(" + m.Card.Name + ")"
		}
	case wx.FormatRevoke:
		m.Revoke = &wx.Revoke{ID: b.RevokeID}
		if m.Content == "" {
			m.Content = revokeContent + "(" + b.RevokeID + ")"
		}
	}
	return nil
}

// Sent publishes a send_message report for a message the account sent from another device:
// source "outer", status 来自其他设备, as Mojo-Weixin reported them.
func (w *Platform) Sent(ctx context.Context, in wxdriver.SentMessage) (string, error) {
	var m *wx.Message
	err := w.running(func(ro *wxroster.Roster) error {
		u := &ro.User
		m = &wx.Message{
			Class: events.ClassSend, PostType: events.PostSendMessage, Source: wx.SourceOuter, Type: in.Type,
			Sender:     wx.UserSender(u),
			SendResult: &wx.SendResult{Code: events.CodeOK, Info: wx.StatusOuter, Msg: wx.StatusOuter, Status: wx.StatusOuter},
		}
		peer := in.TargetID
		switch in.Type {
		case wx.FriendMessage:
			// A friend may have been removed since; the report still names the peer by id.
			m.Receiver = &wx.Receiver{ID: in.TargetID}
			if f := ro.Friend(in.TargetID); f != nil {
				m.Receiver = wx.FriendReceiver(f)
			}
		case wx.GroupMessage:
			g := ro.Group(in.GroupID)
			if g == nil {
				return unknown("group", in.GroupID)
			}
			m.GroupRef, peer = wx.GroupRefOf(g), g.ID
		default:
			return fmt.Errorf("message type %q: %w", in.Type, wxdriver.ErrUnknown)
		}
		if in.MsgID != "" {
			m.ID = wx.JoinMsgID(in.MsgID, peer)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := w.publishMessage(ctx, m, in.Body, in.Time); err != nil {
		return "", err
	}
	return m.ID, nil
}

// Change applies a roster change and publishes it: new_/lose_ friend, group, group_member.
func (w *Platform) Change(_ context.Context, c wxdriver.Change) error {
	w.e.Lock()
	if w.ro == nil || w.e.State() != events.StateRunning {
		w.e.Unlock()
		return wxdriver.ErrNotReady
	}
	ev, err := w.change(w.ro, c)
	if ev != nil {
		w.e.Changed()
	}
	w.e.Unlock()
	if err != nil {
		return err
	}
	w.log.Info("roster change", "event", c.Kind)
	return w.e.PublishItem(ev, engine.NextEventID())
}

// change changes the roster under the write lock and returns the event, encoded while the lock
// still guards the objects it names. A change the roster had is ErrNoChange.
func (w *Platform) change(ro *wxroster.Roster, c wxdriver.Change) (*events.Event, error) {
	switch c.Kind {
	case events.EventNewFriend:
		if ro.AddFriend(c.Friend) {
			return wx.NewFriendEvent(c.Friend)
		}
	case events.EventLoseFriend:
		if f, ok := ro.RemoveFriend(c.Friend.ID); ok {
			return wx.LoseFriendEvent(f)
		}
	case events.EventNewGroup:
		if ro.AddGroup(c.Group) {
			return wx.NewGroupEvent(*ro.Group(c.Group.ID))
		}
	case events.EventLoseGroup:
		if g, ok := ro.RemoveGroup(c.Group.ID); ok {
			return wx.LoseGroupEvent(g)
		}
	case events.EventNewGroupMember:
		g, ok := ro.AddMember(c.GroupID, c.Member)
		if g == nil {
			return nil, unknown("group", c.GroupID)
		}
		if ok {
			return wx.NewGroupMemberEvent(c.Member, *g)
		}
	case events.EventLoseGroupMember:
		if m, g, ok := ro.RemoveMember(c.GroupID, c.Member.ID); ok {
			return wx.LoseGroupMemberEvent(m, *g)
		}
	default:
		return nil, fmt.Errorf("change %q: %w", c.Kind, wxdriver.ErrUnknown)
	}
	return nil, wxdriver.ErrNoChange
}

// ChangeProperty applies a changed attribute and publishes *_property_change [object,
// property, old, new].
func (w *Platform) ChangeProperty(_ context.Context, c wxdriver.PropertyChange) error {
	w.e.Lock()
	if w.ro == nil || w.e.State() != events.StateRunning {
		w.e.Unlock()
		return wxdriver.ErrNotReady
	}
	obj, old, changed, err := w.ro.SetProperty(wxroster.Target{GroupID: c.GroupID, MemberID: c.MemberID, FriendID: c.FriendID}, c.Property, c.New)
	var ev *events.Event
	switch {
	case errors.Is(err, wxroster.ErrNotFound):
		err = fmt.Errorf("%v: %w", err, wxdriver.ErrUnknown)
	case err == nil && !changed:
		err = wxdriver.ErrNoChange
	case err == nil:
		w.e.Changed()
		ev, err = wx.PropertyChangeEvent(c.Kind(), obj, c.Property, old, c.New)
	}
	w.e.Unlock()
	if err != nil {
		return err
	}
	w.log.Info("roster change", "event", ev.Event, "property", c.Property)
	return w.e.PublishItem(ev, engine.NextEventID())
}

// FriendRequest publishes friend_request [id, displayname, verify, ticket].
func (w *Platform) FriendRequest(_ context.Context, r wx.FriendRequest) error {
	ev, err := wx.FriendRequestEvent(r)
	if err != nil {
		return err
	}
	w.log.Info("friend request", "id", r.ID)
	return w.e.PublishItem(ev, engine.NextEventID())
}
