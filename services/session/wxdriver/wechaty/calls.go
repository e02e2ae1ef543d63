package wechaty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
	"github.com/openqq/openqq/services/session/wxroster"
)

// keepSent is how many sent messages Revoke may name.
const keepSent = 1024

// refusal turns a failed call into the *SendError the API answers with: the puppet's
// message, and a Ret that says what kind of failure it was.
func refusal(what string, err error) error {
	var se *wxdriver.SendError
	if errors.As(err, &se) {
		return err
	}
	ret := wxdriver.RetFailure
	switch status.Code(err) {
	case codes.NotFound:
		ret = wxdriver.RetNoSuchUser
	case codes.ResourceExhausted:
		ret = wxdriver.RetTooFrequent
	}
	return &wxdriver.SendError{Ret: ret, ErrMsg: what + ": " + status.Convert(err).Message()}
}

// target resolves a send's target: a contact for a friend message, a room for a group one.
func (d *Driver) target(m wxdriver.Outgoing) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, _, err := d.loggedIn(); err != nil {
		return "", err
	}
	pid, ok := d.pid(m.TargetID)
	switch {
	case m.Type != wx.FriendMessage && m.Type != wx.GroupMessage:
		return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "unknown message type " + m.Type}
	case !ok || (m.Type == wx.GroupMessage) != wx.IsGroupID(m.TargetID):
		return "", &wxdriver.SendError{Ret: wxdriver.RetNoSuchUser, ErrMsg: "no such " + map[bool]string{true: "group", false: "contact"}[m.Type == wx.GroupMessage] + ": " + m.TargetID}
	}
	return pid, nil
}

// Send sends the text (MessageSendText), then the media (MessageSendFile, a FileBox carrying
// its bytes in base64), and returns the last message's puppet id.
func (d *Driver) Send(ctx context.Context, m wxdriver.Outgoing) (string, error) {
	conv, err := d.target(m)
	if err != nil {
		return "", err
	}
	if m.Content == "" && m.Media == nil {
		return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "empty message"}
	}
	var box string
	if m.Media != nil {
		if m.Media.Open == nil {
			return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "media without bytes"}
		}
		rc, err := m.Media.Open(ctx)
		if err != nil {
			return "", fmt.Errorf("wechaty: read media %s: %w", m.Media.Meta.ID, err)
		}
		data, err := readMax(rc)
		rc.Close()
		if err != nil {
			return "", fmt.Errorf("wechaty: read media %s: %w", m.Media.Meta.ID, err)
		}
		box = base64Box(m.Media.Meta.Name, m.Media.Meta.Mime, data)
	}
	d.mu.Lock()
	d.inflight++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.inflight--
		d.cond.Broadcast()
		d.mu.Unlock()
	}()
	cctx, cancel := d.call(ctx)
	defer cancel()
	var id string
	if m.Content != "" {
		r, err := d.c.MessageSendText(cctx, &pb.MessageSendTextRequest{ConversationId: conv, Text: m.Content})
		if err != nil {
			return "", refusal("MessageSendText", err)
		}
		id = r.GetId()
		d.remember(id, m.TargetID)
	}
	if box != "" {
		r, err := d.c.MessageSendFile(cctx, &pb.MessageSendFileRequest{ConversationId: conv, FileBox: box})
		if err != nil {
			return "", refusal("MessageSendFile", err)
		}
		id = r.GetId()
		d.remember(id, m.TargetID)
	}
	if id == "" {
		// Some puppets (the mock) send without telling the id; the API still needs one. Such
		// a message cannot be revoked: Revoke does not know it.
		d.mu.Lock()
		d.localSeq++
		id = fmt.Sprintf("local%d", d.localSeq)
		d.mu.Unlock()
	}
	return id, nil
}

func (d *Driver) remember(id, peer string) {
	if id == "" {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sent[id] = peer
	d.sentSeq = append(d.sentSeq, id)
	if len(d.sentSeq) > keepSent {
		delete(d.sent, d.sentSeq[0])
		d.sentSeq = d.sentSeq[1:]
	}
}

// Revoke recalls a message Send sent to peerID (MessageRecall).
func (d *Driver) Revoke(ctx context.Context, msgID, peerID string) error {
	d.mu.Lock()
	if _, _, err := d.loggedIn(); err != nil {
		d.mu.Unlock()
		return err
	}
	peer, ok := d.sent[msgID]
	d.mu.Unlock()
	if !ok || peer != peerID {
		return fmt.Errorf("revoke %s to %s: %w", msgID, peerID, wxdriver.ErrUnknown)
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	r, err := d.c.MessageRecall(cctx, &pb.MessageRecallRequest{Id: msgID})
	if err != nil {
		return refusal("MessageRecall", err)
	}
	if !r.GetSuccess() {
		return &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "the puppet could not recall message " + msgID}
	}
	d.mu.Lock()
	delete(d.sent, msgID)
	d.mu.Unlock()
	return nil
}

// resolve maps wx ids to puppet ids; ok tells which kind each must be (group or contact).
func (d *Driver) resolve(group bool, ids ...string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, _, err := d.loggedIn(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		pid, ok := d.pid(id)
		if !ok || wx.IsGroupID(id) != group {
			return nil, fmt.Errorf("%s: %w", id, wxdriver.ErrUnknown)
		}
		out = append(out, pid)
	}
	return out, nil
}

// CreateGroup creates a room (RoomCreate) and reports it with its members.
func (d *Driver) CreateGroup(ctx context.Context, name string, friendIDs []string) (string, error) {
	pids, err := d.resolve(false, friendIDs...)
	if err != nil {
		return "", err
	}
	cctx, cancel := d.call(ctx)
	r, err := d.c.RoomCreate(cctx, &pb.RoomCreateRequest{ContactIds: pids, Topic: name})
	cancel()
	if err != nil {
		return "", refusal("RoomCreate", err)
	}
	if err := d.newRoom(ctx, r.GetId()); err != nil {
		d.log.Warn("wechaty: new room not reported", "id", r.GetId(), "err", err)
	}
	return roomID(r.GetId()), nil
}

// Invite adds contacts to a room (RoomAdd, one call each, as the puppet takes them).
func (d *Driver) Invite(ctx context.Context, groupID string, friendIDs []string) error {
	room, err := d.resolve(true, groupID)
	if err != nil {
		return err
	}
	pids, err := d.resolve(false, friendIDs...)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		cctx, cancel := d.call(ctx)
		// Both fields: puppet services older than contact_ids read only contact_id.
		//lint:ignore SA1019 see above
		_, err := d.c.RoomAdd(cctx, &pb.RoomAddRequest{Id: room[0], ContactId: pid, ContactIds: []string{pid}})
		cancel()
		if err != nil {
			return refusal("RoomAdd", err)
		}
	}
	return d.roomJoin(ctx, &roomJoinPayload{RoomID: room[0], InviteeIDList: pids})
}

// Kick removes members from a room (RoomDel).
func (d *Driver) Kick(ctx context.Context, groupID string, memberIDs []string) error {
	room, err := d.resolve(true, groupID)
	if err != nil {
		return err
	}
	pids, err := d.resolve(false, memberIDs...)
	if err != nil {
		return err
	}
	d.mu.Lock()
	for _, id := range memberIDs {
		if d.ro.Member(groupID, id) == nil {
			d.mu.Unlock()
			return fmt.Errorf("%s in %s: %w", id, groupID, wxdriver.ErrUnknown)
		}
	}
	d.mu.Unlock()
	for _, pid := range pids {
		cctx, cancel := d.call(ctx)
		// Both fields, as for RoomAdd.
		//lint:ignore SA1019 see above
		_, err := d.c.RoomDel(cctx, &pb.RoomDelRequest{Id: room[0], ContactId: pid, ContactIds: []string{pid}})
		cancel()
		if err != nil {
			return refusal("RoomDel", err)
		}
	}
	return d.roomLeave(ctx, &roomLeavePayload{RoomID: room[0], RemoveeIDList: pids})
}

// SetGroupName sets a room's topic (RoomTopic).
func (d *Driver) SetGroupName(ctx context.Context, groupID, name string) error {
	room, err := d.resolve(true, groupID)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx)
	_, err = d.c.RoomTopic(cctx, &pb.RoomTopicRequest{Id: room[0], Topic: &name})
	cancel()
	if err != nil {
		return refusal("RoomTopic", err)
	}
	return d.roomTopic(ctx, &roomTopicPayload{RoomID: room[0], NewTopic: name})
}

// ErrNoStick: the puppet API has no pinning.
var ErrNoStick = fmt.Errorf("stick: the Wechaty puppet API cannot pin chats: %w", wxdriver.ErrUnsupported)

// Stick is not in the puppet API.
func (d *Driver) Stick(context.Context, string, bool) error { return ErrNoStick }

// SetMarkname sets a contact's remark (ContactAlias); WeChat's remarks are per contact, so a
// member's is the same call.
func (d *Driver) SetMarkname(ctx context.Context, id, groupID, markname string) error {
	pids, err := d.resolve(false, id)
	if err != nil {
		return err
	}
	if groupID != "" {
		d.mu.Lock()
		m := d.ro.Member(groupID, id)
		d.mu.Unlock()
		if m == nil {
			return fmt.Errorf("%s in %s: %w", id, groupID, wxdriver.ErrUnknown)
		}
	}
	cctx, cancel := d.call(ctx)
	_, err = d.c.ContactAlias(cctx, &pb.ContactAliasRequest{Id: pids[0], Alias: &markname})
	cancel()
	if err != nil {
		return refusal("ContactAlias", err)
	}
	d.mu.Lock()
	var changed bool
	if f := d.ro.Friend(id); f != nil && f.Markname != markname {
		f.Markname, changed = markname, true
	}
	for i := range d.ro.Groups {
		if m := wxroster.GroupMember(&d.ro.Groups[i], id); m != nil {
			m.Markname = markname
		}
	}
	d.mu.Unlock()
	if changed {
		return ignoreNoChange(d.sinkOf().ChangeProperty(ctx, wxdriver.PropertyChange{FriendID: id, Property: wxdriver.PropertyMarkname, New: markname}))
	}
	return nil
}

// MakeFriend asks a contact to be a friend (FriendshipAdd).
func (d *Driver) MakeFriend(ctx context.Context, id, verify string) error {
	pids, err := d.resolve(false, id)
	if err != nil {
		return err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	if _, err := d.c.FriendshipAdd(cctx, &pb.FriendshipAddRequest{ContactId: pids[0], Hello: verify}); err != nil {
		return refusal("FriendshipAdd", err)
	}
	return nil
}

// AcceptFriendRequest accepts a friendship the driver reported (FriendshipAccept), and
// reports the new friend.
func (d *Driver) AcceptFriendRequest(ctx context.Context, r wx.FriendRequest) error {
	d.mu.Lock()
	_, _, err := d.loggedIn()
	pid, ok := d.requests[r.Ticket]
	d.mu.Unlock()
	if err != nil {
		return err
	}
	if !ok || (r.ID != "" && contactID(pid) != r.ID) {
		return fmt.Errorf("friend request %s: %w", r.Ticket, wxdriver.ErrUnknown)
	}
	cctx, cancel := d.call(ctx)
	_, err = d.c.FriendshipAccept(cctx, &pb.FriendshipAcceptRequest{Id: r.Ticket})
	cancel()
	if err != nil {
		return refusal("FriendshipAccept", err)
	}
	d.mu.Lock()
	delete(d.requests, r.Ticket)
	d.mu.Unlock()
	return d.contactChanged(ctx, pid)
}

// Avatar reads a contact's (ContactAvatar) or a room's (RoomAvatar) picture.
func (d *Driver) Avatar(ctx context.Context, id, groupID string) (string, []byte, error) {
	group := wx.IsGroupID(id)
	pids, err := d.resolve(group, id)
	if err != nil {
		return "", nil, err
	}
	cctx, cancel := d.call(ctx)
	defer cancel()
	var box string
	if group {
		r, err := d.c.RoomAvatar(cctx, &pb.RoomAvatarRequest{Id: pids[0]})
		if err != nil {
			return "", nil, refusal("RoomAvatar", err)
		}
		box = r.GetFileBox()
	} else {
		r, err := d.c.ContactAvatar(cctx, &pb.ContactAvatarRequest{Id: pids[0]})
		if err != nil {
			return "", nil, refusal("ContactAvatar", err)
		}
		box = r.GetFileBox()
	}
	_, mimeType, data, err := openBox(cctx, d.c, box)
	if err != nil {
		return "", nil, fmt.Errorf("wechaty: avatar of %s: %w", id, err)
	}
	if !strings.HasPrefix(mimeType, "image/") {
		mimeType = "image/jpeg"
		if bytes.HasPrefix(data, []byte("\x89PNG")) {
			mimeType = "image/png"
		}
	}
	return mimeType, data, nil
}

// discard is the sink of events that arrive between two logins.
type discard struct{}

func (discard) State(events.State)              {}
func (discard) QRCode(string, []byte)           {}
func (discard) LoggedIn(*wxroster.Roster, bool) {}
func (discard) Receive(context.Context, wxdriver.Incoming) (string, error) {
	return "", errNotLoggedIn
}
func (discard) Change(context.Context, wxdriver.Change) error { return errNotLoggedIn }
func (discard) Sent(context.Context, wxdriver.SentMessage) (string, error) {
	return "", errNotLoggedIn
}
func (discard) ChangeProperty(context.Context, wxdriver.PropertyChange) error { return errNotLoggedIn }
func (discard) FriendRequest(context.Context, wx.FriendRequest) error         { return errNotLoggedIn }
