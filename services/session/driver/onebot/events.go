package onebot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// session is what the driver keeps for one connection: the connection, who to report to, and
// whether the QQ account behind it is online.
type session struct {
	d       *Driver
	c       *conn
	sink    driver.Sink
	online  bool
	learned map[string]time.Time // when an unknown sender last made us fetch a list
}

// login fetches the roster and reports the account running: updating, then login [0] and
// running (ids are QQ numbers, stable under OneBot, hence 0).
func (s *session) login(ctx context.Context) error {
	s.sink.State(events.StateUpdating)
	ro, _, err := s.fetchRoster(ctx)
	if err != nil {
		return fmt.Errorf("onebot: fetch roster: %w", err)
	}
	s.d.mu.Lock()
	s.d.ro, s.d.self, s.d.conn = ro, ro.User.ID, s.c
	s.d.mu.Unlock()
	s.online = true
	s.d.log.Info("onebot: connected", "self", ro.User.ID, "friends", len(ro.Friends), "groups", len(ro.Groups))
	s.sink.LoggedIn(ro.Clone(), false)
	return nil
}

// offline is the QQ account dropping while its implementation stays connected (a heartbeat
// with online false, NapCat's bot_offline): the same "away" state as a lost connection.
func (s *session) offline(why string) {
	if !s.online {
		return
	}
	s.online = false
	s.d.log.Warn("onebot: the QQ account is offline", "why", why)
	s.sink.State(events.StateLoading)
}

func (s *session) handle(ctx context.Context, raw []byte) {
	var ev obEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		s.d.log.Warn("onebot: skipped an event that does not read", "start", preview(raw), "err", err)
		return
	}
	switch ev.PostType {
	case "meta_event":
		s.meta(ctx, &ev)
	case "message", "message_sent":
		if ev.MessageID != 0 && !s.d.seen.first(fmt.Sprintf("m/%d/%d", ev.MessageID, ev.GroupID), time.Now()) {
			s.d.log.Debug("onebot: duplicate message dropped", "message_id", ev.MessageID)
			return
		}
		s.message(ctx, &ev)
	case "notice":
		key := fmt.Sprintf("n/%s/%s/%d/%d/%d/%d/%s/%s", ev.NoticeType, ev.SubType, ev.GroupID, ev.UserID,
			ev.OperatorID, ev.Time, ev.CardNew, ev.NameNew)
		if !s.d.seen.first(key, time.Now()) {
			s.d.log.Debug("onebot: duplicate notice dropped", "notice_type", ev.NoticeType)
			return
		}
		s.notice(ctx, &ev)
	case "request":
		if !s.d.seen.first("r/"+string(ev.Flag), time.Now()) {
			return
		}
		s.request(ctx, &ev)
	default:
		s.d.log.Debug("onebot: event of unknown post_type skipped", "post_type", ev.PostType)
	}
}

func (s *session) meta(ctx context.Context, ev *obEvent) {
	if ev.MetaEventType != "heartbeat" || ev.Status == nil || ev.Status.Online == nil {
		return
	}
	if !*ev.Status.Online {
		s.offline("heartbeat says offline")
		return
	}
	if !s.online {
		s.d.log.Info("onebot: the QQ account is back online")
		if err := s.login(ctx); err != nil {
			s.c.fail(err) // start over with a fresh connection
		}
	}
}

// eventTime reads an event's time; NapCat falls back to milliseconds when it has none.
func eventTime(t num) time.Time {
	switch {
	case t <= 0:
		return time.Now()
	case t > 1e12:
		return time.UnixMilli(int64(t))
	default:
		return time.Unix(int64(t), 0)
	}
}

func (s *session) message(ctx context.Context, ev *obEvent) {
	segs := segments(ev.Message, ev.RawMessage)
	raw, _ := json.Marshal(segs)
	group := int64(ev.GroupID)
	content := render(segs, func(qq string) string { return s.nameIn(group, qq) })
	at := eventTime(ev.Time)
	self := s.self()
	if ev.PostType == "message_sent" || (self != 0 && int64(ev.UserID) == self) {
		s.selfMessage(ctx, ev, segs, content, raw, at)
		return
	}
	pic := s.picture(ctx, ev, segs)
	in := driver.Incoming{SenderID: int64(ev.UserID), Content: content, Time: at, Raw: raw, Media: pic}
	switch ev.MessageType {
	case "group":
		if ev.SubType == "anonymous" || ev.SubType == "notice" {
			// No member to name: Mojo had neither anonymous senders nor system tips.
			s.d.log.Debug("onebot: group message skipped", "sub_type", ev.SubType, "group", group)
			return
		}
		in.Type, in.GroupID = events.GroupMessage, group
	case "private":
		// Where a temporary session's group lives differs: NapCat puts group_id on the event,
		// go-cqhttp on the sender, Lagrange nowhere (then a group both share will do).
		temp := int64(ev.GroupID)
		if temp == 0 {
			temp = int64(ev.Sender.GroupID)
		}
		switch {
		case ev.SubType == "friend" || (ev.SubType != "group" && s.isFriend(in.SenderID)):
			in.Type = events.FriendMessage
		case temp != 0:
			in.Type, in.GroupID = events.SessMessage, temp
		default:
			in.Type, in.GroupID = events.SessMessage, s.groupWith(in.SenderID)
			if in.GroupID == 0 {
				s.d.log.Info("onebot: message from a stranger met in no known group skipped", "user", in.SenderID)
				return
			}
		}
	default:
		s.d.log.Debug("onebot: message of unknown type skipped", "message_type", ev.MessageType)
		return
	}
	_, err := s.sink.Receive(ctx, in)
	if errors.Is(err, driver.ErrUnknown) && s.learn(ctx, in.Type, in.GroupID) {
		_, err = s.sink.Receive(ctx, in)
	}
	if err != nil {
		s.d.log.Warn("onebot: message not reported", "type", in.Type, "sender", in.SenderID, "group", in.GroupID, "err", err)
	}
}

// selfMessage reports a message the account sent from elsewhere as send_message. Both
// styles count: post_type message_sent (NapCat, go-cqhttp) and a message whose user_id is the
// account (Lagrange). The session already reported the ones this driver sent.
func (s *session) selfMessage(ctx context.Context, ev *obEvent, segs []segment, content string, raw json.RawMessage, at time.Time) {
	s.d.sends.wait(ctx, s.d.cfg.CallTimeout)
	if s.d.ownSend(int64(ev.MessageID)) {
		return
	}
	m := driver.SentMessage{Content: content, Raw: raw, Time: at, Media: s.picture(ctx, ev, segs)}
	switch ev.MessageType {
	case "group":
		m.Type, m.GroupID = events.GroupMessage, int64(ev.GroupID)
	case "private":
		m.Type, m.TargetID = events.FriendMessage, int64(ev.TargetID)
		if g := int64(ev.GroupID); g != 0 && !s.isFriend(m.TargetID) {
			m.Type, m.GroupID = events.SessMessage, g
		}
	}
	if m.Type == "" || (m.TargetID == 0 && m.GroupID == 0) {
		s.d.log.Debug("onebot: own message without a target skipped", "message_type", ev.MessageType)
		return
	}
	if _, err := s.sink.Sent(ctx, m); err != nil {
		s.d.log.Warn("onebot: own message not reported", "type", m.Type, "err", err)
	}
}

// picture is the message's picture, nil when it has none or its bytes could not be had: the
// message is still reported, [图片] without them, and the failure logged.
func (s *session) picture(ctx context.Context, ev *obEvent, segs []segment) *media.Incoming {
	pic, err := s.d.picture(ctx, segs)
	if err != nil {
		s.d.log.Warn("onebot: picture of a message not read, reported without it", "message_id", int64(ev.MessageID), "err", err)
	}
	return pic
}

// learnEvery bounds how often unknown senders make the driver fetch a list again.
const learnEvery = 10 * time.Second

// learn fetches what a message from an unknown sender needs, as Mojo did on an unknown
// sender: the friend list, or the group's members (or the groups). It reports whether it did.
func (s *session) learn(ctx context.Context, typ string, groupID int64) bool {
	key := typ + "/" + strconv.FormatInt(groupID, 10)
	if s.learned == nil {
		s.learned = map[string]time.Time{}
	}
	if t, ok := s.learned[key]; ok && time.Since(t) < learnEvery {
		return false
	}
	s.learned[key] = time.Now()
	switch {
	case typ == events.FriendMessage:
		s.update(ctx, scope{friends: true}, func(next *roster.Roster) error {
			fs, err := s.fetchFriends(ctx)
			next.Friends = fs
			return err
		})
	case s.known(groupID):
		s.update(ctx, scope{members: []int64{groupID}}, func(next *roster.Roster) error {
			return s.refetchMembers(ctx, next, groupID)
		})
	default:
		s.refresh(ctx)
	}
	return true
}

func (s *session) refetchMembers(ctx context.Context, next *roster.Roster, groupID int64) error {
	ms, failed := s.fetchMembers(ctx, groupID)
	if failed {
		return fmt.Errorf("group %d: members not fetched", groupID)
	}
	if g := next.Group(groupID); g != nil {
		g.Member = ms
		setRoles(g, next.User.ID)
	}
	return nil
}

// refresh fetches the whole roster and reports what changed: OneBot tells no one of a lost
// friend, and events missed while away are found this way.
func (s *session) refresh(ctx context.Context) {
	s.update(ctx, everything, func(next *roster.Roster) error {
		ro, partial, err := s.fetchRoster(ctx)
		if err != nil {
			return err
		}
		for gid := range partial {
			if old, g := next.Group(gid), ro.Group(gid); old != nil && g != nil {
				g.Member = old.Member
				setRoles(g, ro.User.ID)
			}
		}
		*next = *ro
		return nil
	})
}

// update edits a copy of the driver's roster (edit may ask the peer), tells the session what
// changed, and keeps the copy. Only the connection's own goroutine calls it.
func (s *session) update(ctx context.Context, sc scope, edit func(next *roster.Roster) error) {
	s.d.mu.Lock()
	old := s.d.ro
	s.d.mu.Unlock()
	if old == nil {
		return
	}
	next := editable(old, sc)
	if err := edit(next); err != nil {
		s.d.log.Warn("onebot: roster not updated", "err", err)
		return
	}
	for _, o := range diff(old, next, sc) {
		var err error
		switch {
		case o.change != nil:
			err = s.sink.Change(ctx, *o.change)
		default:
			err = s.sink.ChangeProperty(ctx, *o.prop)
		}
		if err != nil && !errors.Is(err, driver.ErrNoChange) {
			s.d.log.Warn("onebot: roster change not reported", "err", err)
		}
	}
	s.d.mu.Lock()
	s.d.ro = next
	s.d.mu.Unlock()
}

func (s *session) notice(ctx context.Context, ev *obEvent) {
	gid, uid, self := int64(ev.GroupID), int64(ev.UserID), s.self()
	members := scope{members: []int64{gid}}
	switch ev.NoticeType {
	case "group_increase":
		if uid == self {
			s.update(ctx, scope{groups: true}, func(next *roster.Roster) error { return s.joinGroup(ctx, next, gid) })
			return
		}
		s.update(ctx, members, func(next *roster.Roster) error { return s.addMember(ctx, next, gid, uid) })
	case "group_decrease":
		if uid == self || ev.SubType == "kick_me" || ev.SubType == "disband" {
			s.update(ctx, scope{groups: true}, func(next *roster.Roster) error {
				next.Groups = deleteID(next.Groups, gid, groupID)
				return nil
			})
			return
		}
		s.update(ctx, members, func(next *roster.Roster) error {
			if g := next.Group(gid); g != nil {
				g.Member = deleteID(g.Member, uid, memberID)
				setRoles(g, self)
			}
			return nil
		})
	case "friend_add":
		s.update(ctx, scope{friends: true}, func(next *roster.Roster) error { return s.addFriend(ctx, next, uid) })
	case "group_admin":
		role := events.MemberRoleMember
		if ev.SubType == "set" {
			role = events.MemberRoleAdmin
		}
		s.editMember(ctx, gid, uid, func(m *events.GroupMember) { m.Role = role })
	case "group_card":
		s.editMember(ctx, gid, uid, func(m *events.GroupMember) { m.Card = ev.CardNew })
	case "notify":
		if ev.SubType == "group_name" && ev.NameNew != "" {
			s.update(ctx, scope{groups: true}, func(next *roster.Roster) error {
				if g := next.Group(gid); g != nil {
					g.Name = ev.NameNew
				}
				return nil
			})
		}
	case "bot_offline":
		s.offline("bot_offline notice")
	default:
		// group_ban, recalls, uploads, pokes...: Mojo had no such events.
		s.d.log.Debug("onebot: notice without an Openqq event skipped", "notice_type", ev.NoticeType, "sub_type", ev.SubType)
	}
}

func (s *session) editMember(ctx context.Context, gid, uid int64, edit func(*events.GroupMember)) {
	s.update(ctx, scope{members: []int64{gid}}, func(next *roster.Roster) error {
		g := next.Group(gid)
		if g == nil {
			return fmt.Errorf("group %d: %w", gid, driver.ErrUnknown)
		}
		m := roster.GroupMember(g, uid)
		if m == nil {
			return s.refetchMembers(ctx, next, gid) // it changed anyway: the list will tell
		}
		edit(m)
		setRoles(g, next.User.ID)
		return nil
	})
}

// joinGroup adds a group the account joined, with its members.
func (s *session) joinGroup(ctx context.Context, next *roster.Roster, gid int64) error {
	if next.Group(gid) != nil {
		return nil
	}
	g := obGroup{GroupID: num(gid)}
	if err := s.c.call(ctx, "get_group_info", map[string]any{"group_id": gid, "no_cache": true}, &g); err != nil {
		s.d.log.Warn("onebot: new group's info not fetched", "group", gid, "err", err)
	}
	ms, _ := s.fetchMembers(ctx, gid)
	next.Groups = append(next.Groups, groupOf(g, ms, next.User.ID))
	return nil
}

// addMember adds someone who joined a group, as get_group_member_info describes them.
func (s *session) addMember(ctx context.Context, next *roster.Roster, gid, uid int64) error {
	g := next.Group(gid)
	if g == nil {
		return fmt.Errorf("group %d: %w", gid, driver.ErrUnknown)
	}
	if roster.GroupMember(g, uid) != nil {
		return nil
	}
	m := obMember{UserID: num(uid), Role: events.MemberRoleMember}
	if err := s.c.call(ctx, "get_group_member_info", map[string]any{"group_id": gid, "user_id": uid, "no_cache": true}, &m); err != nil {
		s.d.log.Warn("onebot: new member's info not fetched", "group", gid, "user", uid, "err", err)
		m.Nickname = s.strangerName(ctx, uid)
	}
	m.UserID = num(uid)
	g.Member = append(g.Member, memberOf(m))
	setRoles(g, next.User.ID)
	return nil
}

// addFriend fetches the friend list (which has the remark); a new friend an implementation's
// cache does not list yet is added as the stranger it was.
func (s *session) addFriend(ctx context.Context, next *roster.Roster, uid int64) error {
	fs, err := s.fetchFriends(ctx)
	if err != nil {
		return err
	}
	next.Friends = fs
	if next.Friend(uid) == nil && uid > 0 {
		next.Friends = append(next.Friends, events.Friend{ID: uid, UID: uid, Name: s.strangerName(ctx, uid), State: "online"})
	}
	return nil
}

func (s *session) strangerName(ctx context.Context, uid int64) string {
	var st obStranger
	if err := s.c.call(ctx, "get_stranger_info", map[string]any{"user_id": uid}, &st); err != nil {
		return ""
	}
	return st.Nickname
}

// request publishes a friend or group request as an extension event and keeps it to be
// answered on answer_friend_request / answer_group_request.
func (s *session) request(ctx context.Context, ev *obEvent) {
	uid, gid := int64(ev.UserID), int64(ev.GroupID)
	r := &request{flag: string(ev.Flag), userID: uid, groupID: gid, subType: ev.SubType, at: time.Now()}
	if r.flag == "" {
		s.d.log.Warn("onebot: request without a flag skipped", "request_type", ev.RequestType)
		return
	}
	name := s.strangerName(ctx, uid)
	var err error
	switch ev.RequestType {
	case "friend":
		r.kind = "friend"
		s.d.keepRequest(r)
		err = s.sink.Publish(ctx, events.EventFriendRequest, events.FriendRequest{
			Comment: ev.Comment, Flag: r.flag, ID: uid, UID: uid, Name: name, Time: eventTime(ev.Time).Unix(),
		})
	case "group":
		r.kind = "group"
		s.d.keepRequest(r)
		req := events.GroupRequest{
			Comment: ev.Comment, Flag: r.flag, GroupID: gid, GroupUID: gid, ID: uid, UID: uid, Name: name,
			SubType: ev.SubType, Time: eventTime(ev.Time).Unix(),
		}
		s.d.mu.Lock()
		if g := s.d.ro.Group(gid); g != nil {
			req.Group = g.DisplayName()
		}
		s.d.mu.Unlock()
		err = s.sink.Publish(ctx, events.EventGroupRequest, req)
	default:
		return
	}
	if err != nil {
		s.d.log.Warn("onebot: request not published", "request_type", ev.RequestType, "err", err)
	}
}

// Lookups in the driver's roster.

func (s *session) self() int64 {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.self
}

func (s *session) isFriend(uid int64) bool {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.ro != nil && s.d.ro.Friend(uid) != nil
}

func (s *session) known(gid int64) bool {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	return s.d.ro != nil && s.d.ro.Group(gid) != nil
}

// groupWith finds a group the account shares with uid, for a temporary session whose
// implementation (Lagrange) does not say where it began.
func (s *session) groupWith(uid int64) int64 {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.ro == nil {
		return 0
	}
	for i := range s.d.ro.Groups {
		if roster.GroupMember(&s.d.ro.Groups[i], uid) != nil {
			return s.d.ro.Groups[i].ID
		}
	}
	return 0
}

// nameIn is how an @ shows someone: card, else nickname (in the group), else the number.
func (s *session) nameIn(gid int64, qq string) string {
	uid, _ := strconv.ParseInt(qq, 10, 64)
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	if s.d.ro != nil {
		if g := s.d.ro.Group(gid); g != nil {
			if m := roster.GroupMember(g, uid); m != nil {
				return m.DisplayName()
			}
		}
		if f := s.d.ro.Friend(uid); f != nil {
			return f.DisplayName()
		}
	}
	return qq
}

func deleteID[T any](list []T, id int64, idOf func(*T) int64) []T {
	out := list[:0:0]
	for i := range list {
		if idOf(&list[i]) != id {
			out = append(out, list[i])
		}
	}
	return out
}
