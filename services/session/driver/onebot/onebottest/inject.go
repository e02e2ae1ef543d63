package onebottest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
)

// Segment is a part of a message, as a test writes it: Text("hi"), Face(14), ...
type Segment map[string]any

// Text is a text segment.
func Text(s string) Segment { return Segment{"type": "text", "data": map[string]any{"text": s}} }

// Face is a QQ system face.
func Face(id int) Segment {
	return Segment{"type": "face", "data": map[string]any{"id": strconv.Itoa(id)}}
}

// Image is a picture whose bytes cannot be had (no base64, no url): the driver reports
// [图片] without them.
func Image() Segment {
	return Segment{"type": "image", "data": map[string]any{"file": "abc.jpg"}}
}

// ImageData is a picture carried in the segment as base64://.
func ImageData(data []byte) Segment {
	return Segment{"type": "image", "data": map[string]any{"file": "base64://" + base64.StdEncoding.EncodeToString(data)}}
}

// ImageURL is a picture the peer serves at a loopback url (as NapCat and Lagrange give
// url for QQ's picture server), named file; the server closes when the test ends.
func (p *Peer) ImageURL(t testing.TB, file string, data []byte) Segment {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", http.DetectContentType(data))
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return Segment{"type": "image", "data": map[string]any{"file": file, "url": srv.URL + "/" + file}}
}

// At mentions someone ("all" for everyone).
func At(qq string) Segment { return Segment{"type": "at", "data": map[string]any{"qq": qq}} }

func (p *Peer) message(segs []Segment) any {
	list := make([]any, len(segs))
	for i, s := range segs {
		list[i] = map[string]any(s)
	}
	return p.formatMessage(list)
}

func (p *Peer) msgID() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextID++
	return p.nextID
}

// Private makes a friend send the account a message; it returns the message id.
func (p *Peer) Private(from int64, segs ...Segment) int64 {
	id := p.msgID()
	p.mu.Lock()
	name := p.nameLocked(from)
	p.mu.Unlock()
	p.broadcast(p.event("message", map[string]any{
		"message_type": "private", "sub_type": "friend", "message_id": id, "user_id": from,
		"message": p.message(segs), "raw_message": "", "font": 0,
		"sender": map[string]any{"user_id": from, "nickname": name, "sex": "unknown", "age": 0},
	}))
	return id
}

// Temp makes a group member who is not a friend send the account a message in a temporary
// session. NapCat puts the group on the event, go-cqhttp on the sender, Lagrange nowhere.
func (p *Peer) Temp(groupID, from int64, segs ...Segment) int64 {
	id := p.msgID()
	p.mu.Lock()
	name := p.nameLocked(from)
	p.mu.Unlock()
	sender := map[string]any{"user_id": from, "nickname": name}
	ev := map[string]any{
		"message_type": "private", "sub_type": "group", "message_id": id, "user_id": from,
		"message": p.message(segs), "raw_message": "", "font": 0, "sender": sender,
	}
	switch p.opts.Flavour {
	case NapCat:
		ev["group_id"], ev["temp_source"] = groupID, 0
	case GoCQHTTP:
		sender["group_id"], ev["temp_source"] = groupID, 0
	}
	p.broadcast(p.event("message", ev))
	return id
}

// Group makes a member say something in a group.
func (p *Peer) Group(groupID, from int64, segs ...Segment) int64 {
	id := p.msgID()
	p.mu.Lock()
	var sender map[string]any
	if m := p.memberLocked(groupID, from); m != nil {
		sender = map[string]any{"user_id": from, "nickname": m.Nickname, "card": m.Card, "role": m.Role}
	} else {
		sender = map[string]any{"user_id": from, "nickname": p.nameLocked(from)}
	}
	var groupName string
	if g := p.groupLocked(groupID); g != nil {
		groupName = g.Name
	}
	p.mu.Unlock()
	ev := map[string]any{
		"message_type": "group", "sub_type": "normal", "message_id": id, "group_id": groupID, "user_id": from,
		"message": p.message(segs), "raw_message": "", "font": 0, "sender": sender, "anonymous": nil,
	}
	if p.opts.Flavour == NapCat {
		ev["group_name"] = groupName
	}
	p.broadcast(p.event("message", ev))
	return id
}

// SentElsewhere reports a message the account sent from another device, in the flavour's
// style (message_sent, or a message from itself).
func (p *Peer) SentElsewhere(typ string, target, groupID int64, segs ...Segment) int64 {
	id := p.msgID()
	p.mu.Lock()
	list := make([]any, len(segs))
	for i, s := range segs {
		list[i] = map[string]any(s)
	}
	ev := p.selfEventLocked(typ, target, groupID, id, list)
	p.mu.Unlock()
	p.broadcast(ev)
	return id
}

// Emit sends any event (time, self_id and post_type filled in).
func (p *Peer) Emit(postType string, fields map[string]any) { p.broadcast(p.event(postType, fields)) }

// Roster changes, each with the notice the implementations send.

// Join adds a member to a group (group_increase); the account itself joining a group is
// Join(group, Member{UserID: self}) after AddGroup.
func (p *Peer) Join(groupID int64, m Member) {
	p.mu.Lock()
	if g := p.groupLocked(groupID); g != nil {
		g.Members = append(g.Members, m)
	}
	p.mu.Unlock()
	p.Emit("notice", map[string]any{"notice_type": "group_increase", "sub_type": "approve", "group_id": groupID,
		"user_id": m.UserID, "operator_id": p.opts.SelfID})
}

// AddGroup adds a group the account is in, with no notice (Join the account to announce it).
func (p *Peer) AddGroup(g Group) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g.Members = slices.Clone(g.Members)
	p.groups = append(p.groups, g)
}

// Leave removes a member who left (group_decrease leave).
func (p *Peer) Leave(groupID, uid int64) {
	p.mu.Lock()
	if g := p.groupLocked(groupID); g != nil {
		g.Members = slices.DeleteFunc(g.Members, func(m Member) bool { return m.UserID == uid })
	}
	p.mu.Unlock()
	p.Emit("notice", map[string]any{"notice_type": "group_decrease", "sub_type": "leave", "group_id": groupID,
		"user_id": uid, "operator_id": uid})
}

// AddFriend adds a friend (friend_add).
func (p *Peer) AddFriend(f Friend) {
	p.mu.Lock()
	p.friends = append(p.friends, f)
	p.mu.Unlock()
	p.Emit("notice", map[string]any{"notice_type": "friend_add", "user_id": f.UserID})
}

// RemoveFriend removes a friend. OneBot v11 has no event for it.
func (p *Peer) RemoveFriend(uid int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.friends = slices.DeleteFunc(p.friends, func(f Friend) bool { return f.UserID == uid })
}

// SetCard changes a member's card (group_card, a go-cqhttp and NapCat extension).
func (p *Peer) SetCard(groupID, uid int64, card string) {
	p.mu.Lock()
	old := ""
	if m := p.memberLocked(groupID, uid); m != nil {
		old, m.Card = m.Card, card
	}
	p.mu.Unlock()
	p.Emit("notice", map[string]any{"notice_type": "group_card", "group_id": groupID, "user_id": uid,
		"card_new": card, "card_old": old})
}

// SetAdmin makes a member an admin or a plain member again (group_admin).
func (p *Peer) SetAdmin(groupID, uid int64, admin bool) {
	sub, role := "unset", "member"
	if admin {
		sub, role = "set", "admin"
	}
	p.mu.Lock()
	if m := p.memberLocked(groupID, uid); m != nil {
		m.Role = role
	}
	p.mu.Unlock()
	p.Emit("notice", map[string]any{"notice_type": "group_admin", "sub_type": sub, "group_id": groupID, "user_id": uid})
}

// FriendRequest makes someone ask to be a friend; it returns the request's flag.
func (p *Peer) FriendRequest(uid int64, comment string) string {
	flag := fmt.Sprintf("friend-%d-%d", uid, p.msgID())
	p.mu.Lock()
	p.requests[flag] = Call{Action: "friend", Params: map[string]any{"user_id": strconv.FormatInt(uid, 10)}}
	p.mu.Unlock()
	p.Emit("request", map[string]any{"request_type": "friend", "user_id": uid, "comment": comment, "flag": flag})
	return flag
}

// GroupRequest makes someone ask to join a group (add), or invite the account (invite).
func (p *Peer) GroupRequest(groupID, uid int64, subType, comment string) string {
	flag := fmt.Sprintf("group-%d-%d", uid, p.msgID())
	p.mu.Lock()
	p.requests[flag] = Call{Action: "group", Params: map[string]any{"user_id": strconv.FormatInt(uid, 10)}}
	p.mu.Unlock()
	p.Emit("request", map[string]any{"request_type": "group", "sub_type": subType, "group_id": groupID,
		"user_id": uid, "comment": comment, "flag": flag})
	return flag
}
