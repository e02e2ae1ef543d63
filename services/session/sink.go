package session

import (
	"context"
	"fmt"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// The session is the driver's Sink.
var _ driver.Sink = (*Session)(nil)

// State records a login state the driver reached.
func (s *Session) State(st events.State) { s.setState(st) }

// QRCode publishes input_qrcode [path, base64 of the PNG].
func (s *Session) QRCode(path string, png []byte) {
	s.log.Info("login QR code", "path", path, "bytes", len(png))
	s.publishEvent(events.EventInputQRCode, path, events.MIMEBase64(png))
}

// LoggedIn installs the roster, publishes login and moves to running.
func (s *Session) LoggedIn(r *roster.Roster, scanned bool) {
	s.mu.Lock()
	s.ro = r
	s.gen++
	s.mu.Unlock()
	flag := 0
	if scanned {
		flag = 1
	}
	s.log.Info("logged in", "user", r.User.Name, "uid", r.User.UID, "friends", len(r.Friends),
		"groups", len(r.Groups), "discusses", len(r.Discusses))
	s.publishEvent(events.EventLogin, flag)
	s.setState(events.StateRunning)
}

// Receive publishes a message the account received, named from the roster.
func (s *Session) Receive(_ context.Context, in driver.Incoming) (int64, error) {
	return s.report(func(me *events.User) (*events.Message, error) { return s.incoming(me, in) })
}

// report builds a message report from the roster with build, under the read lock, then gives
// it an id and publishes it.
func (s *Session) report(build func(me *events.User) (*events.Message, error)) (int64, error) {
	s.mu.RLock()
	if s.state != events.StateRunning || s.ro == nil {
		s.mu.RUnlock()
		return 0, driver.ErrNotReady
	}
	m, err := build(&s.ro.User)
	s.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	m.ID = s.ids.next()
	if err := s.publishMessage(m); err != nil {
		return 0, fmt.Errorf("publish message %d: %w", m.ID, err)
	}
	return m.ID, nil
}

// unknown is the error for an id the roster does not know.
func unknown(what string, id int64) error {
	return fmt.Errorf("%s %d: %w", what, id, driver.ErrUnknown)
}

// incoming is the report of a received message; the read lock is held.
func (s *Session) incoming(me *events.User, in driver.Incoming) (*events.Message, error) {
	m := &events.Message{
		Class: events.ClassRecv, Content: in.Content, PostType: events.PostReceiveMessage,
		Time: in.Time.Unix(), Type: in.Type, RawContent: in.Raw,
		Receiver: &events.Receiver{Name: me.DisplayName(), ID: me.ID, UID: me.UID},
	}
	switch in.Type {
	case events.FriendMessage:
		f := s.ro.Friend(in.SenderID)
		if f == nil {
			return nil, unknown("friend", in.SenderID)
		}
		m.Sender = &events.Sender{Name: f.DisplayName(), ID: f.ID, UID: f.UID}
	case events.GroupMessage, events.SessMessage:
		if in.Type == events.SessMessage && in.GroupID == 0 {
			d, mem := s.discussMember(in.DiscussID, in.SenderID)
			if mem == nil {
				return nil, unknown("discuss member", in.SenderID)
			}
			m.Sender = &events.Sender{Name: mem.DisplayName(), ID: mem.ID, UID: mem.UID}
			m.DiscussRef = &events.DiscussRef{Name: d.DisplayName(), ID: d.ID}
			m.Via = "discuss"
			break
		}
		g := s.ro.Group(in.GroupID)
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
		d, mem := s.discussMember(in.DiscussID, in.SenderID)
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

func (s *Session) discussMember(discussID, memberID int64) (*events.Discuss, *events.DiscussMember) {
	d := s.ro.Discuss(discussID)
	if d == nil {
		return nil, nil
	}
	return d, roster.DiscussMember(d, memberID)
}

// Change applies a roster change and publishes it.
func (s *Session) Change(ctx context.Context, c driver.Change) error {
	s.mu.Lock()
	if s.state != events.StateRunning || s.ro == nil {
		s.mu.Unlock()
		return driver.ErrNotReady
	}
	var params []any
	switch c.Kind {
	case events.EventNewFriend:
		if s.ro.AddFriend(c.Friend) {
			params = []any{c.Friend}
		}
	case events.EventLoseFriend:
		if f, ok := s.ro.RemoveFriend(c.Friend.ID); ok {
			params = []any{f}
		}
	case events.EventNewGroup:
		if s.ro.AddGroup(c.Group) {
			params = []any{*s.ro.Group(c.Group.ID)}
		}
	case events.EventLoseGroup:
		if g, ok := s.ro.RemoveGroup(c.Group.ID); ok {
			params = []any{g}
		}
	case events.EventNewGroupMember:
		if g, ok := s.ro.AddGroupMember(c.GroupID, c.Member); ok {
			params = []any{c.Member, *g}
		}
	case events.EventLoseGroupMember:
		if m, g, ok := s.ro.RemoveGroupMember(c.GroupID, c.Member.ID); ok {
			params = []any{m, *g}
		}
	default:
		s.mu.Unlock()
		return fmt.Errorf("change %q: %w", c.Kind, driver.ErrUnknown)
	}
	// Encode while the lock still guards the group's member list.
	ev, err := events.NewEvent(c.Kind, params...)
	if params != nil {
		s.gen++
	}
	s.mu.Unlock()
	if params == nil {
		return driver.ErrNoChange
	}
	if err != nil {
		return err
	}
	s.log.Info("roster change", "event", c.Kind)
	return s.pub.publish(ev, nextEventID())
}
