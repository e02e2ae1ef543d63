package onebot

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
)

// errNotConnected is an action while no implementation is connected.
var errNotConnected = errors.New("onebot: not connected to the OneBot implementation")

func (d *Driver) live() (*conn, error) {
	if c := d.current(); c != nil {
		return c, nil
	}
	return nil, errNotConnected
}

// Send sends the content as text and face segments, then the picture as an image segment, in
// one message, after the send rate limit. A send that timed out is not sent again: it may
// have reached QQ (go-cqhttp#382 double sends).
func (d *Driver) Send(ctx context.Context, m driver.Outgoing) error {
	c, err := d.live()
	if err != nil {
		return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": " + err.Error()}
	}
	msg := contentMessage(m.Content)
	if m.Media != nil {
		img, err := d.imageFile(ctx, m.Media)
		if err != nil {
			return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": " + err.Error()}
		}
		msg = append(msg, imageSegment(img))
	}
	if len(msg) == 0 {
		return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": nothing to send"}
	}
	action, params := "", map[string]any{"message": msg, "auto_escape": true}
	switch m.Type {
	case events.FriendMessage:
		action, params["user_id"] = "send_private_msg", m.TargetID
	case events.GroupMessage:
		action, params["group_id"] = "send_group_msg", m.TargetID
	case events.SessMessage:
		if m.GroupID == 0 {
			return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": no group for a temporary session"}
		}
		action, params["user_id"], params["group_id"] = "send_private_msg", m.TargetID, m.GroupID
	default:
		return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": QQ has no " + m.Type}
	}
	if err := d.limiter.Wait(ctx); err != nil {
		return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": SEND_INTERVAL queue longer than the time-out"}
	}
	d.sends.add()
	defer d.sends.done()
	var res obSendResult
	err = c.call(ctx, action, params, &res)
	var ce *CallError
	switch {
	case err == nil:
		d.rememberSend(int64(res.MessageID))
		return nil
	case errors.As(err, &ce):
		return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": " + ce.Message}
	default:
		// Timed out or lost after the request left: nobody knows whether it arrived.
		return &driver.SendError{Code: -2, Info: events.SendNoResult + ": " + err.Error()}
	}
}

// imageFile is the image segment's file for a picture: base64:// of its bytes, which every
// implementation takes wherever it runs; or, with ONEBOT_MEDIA_URL, the http(s) URL the
// picture was fetched from, which the implementation fetches itself (the bytes do not cross
// the WebSocket as base64, a third larger). A picture from a file or base64 has no URL the
// implementation could reach, so it always goes as base64.
func (d *Driver) imageFile(ctx context.Context, a *media.Attachment) (string, error) {
	if p := a.Meta.Path; d.cfg.MediaURL && (strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://")) {
		return p, nil
	}
	if a.Open == nil {
		return "", errors.New("picture without bytes")
	}
	rc, err := a.Open(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the picture: %w", err)
	}
	defer rc.Close()
	// The size is known: one buffer of it, not io.ReadAll's doublings.
	buf := bytes.NewBuffer(make([]byte, 0, int(max(a.Meta.Size, 0))+bytes.MinRead))
	if _, err := buf.ReadFrom(rc); err != nil {
		return "", fmt.Errorf("reading the picture: %w", err)
	}
	return "base64://" + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// ownSendsKept bounds the ids of our sends remembered against the peer's reports of them.
const ownSendsKept = time.Minute

func (d *Driver) rememberSend(id int64) {
	if id == 0 {
		return
	}
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, t := range d.ownSends {
		if now.Sub(t) > ownSendsKept {
			delete(d.ownSends, k)
		}
	}
	d.ownSends[id] = now
}

func (d *Driver) ownSend(id int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.ownSends[id]
	return ok
}

// Mute bans each member for d, always with an explicit duration: NapCat's default is 0,
// which lifts a ban.
func (d *Driver) Mute(ctx context.Context, groupID int64, memberIDs []int64, dur time.Duration) error {
	c, err := d.live()
	if err != nil {
		return err
	}
	secs := int64(dur / time.Second)
	for _, id := range memberIDs {
		if err := c.call(ctx, "set_group_ban", map[string]any{"group_id": groupID, "user_id": id, "duration": secs}, nil); err != nil {
			return fmt.Errorf("onebot: mute %d in %d: %w", id, groupID, err)
		}
	}
	return nil
}

// Kick removes each member; they may ask to join again.
func (d *Driver) Kick(ctx context.Context, groupID int64, memberIDs []int64) error {
	c, err := d.live()
	if err != nil {
		return err
	}
	for _, id := range memberIDs {
		if err := c.call(ctx, "set_group_kick", map[string]any{"group_id": groupID, "user_id": id, "reject_add_request": false}, nil); err != nil {
			return fmt.Errorf("onebot: kick %d from %d: %w", id, groupID, err)
		}
	}
	return nil
}

// request is a friend or group request waiting for an answer.
type request struct {
	kind    string // "friend" or "group"
	flag    string
	userID  int64
	groupID int64
	subType string
	at      time.Time
}

// requestsKept bounds the unanswered requests remembered; the oldest go first.
const requestsKept = 1000

func (d *Driver) keepRequest(r *request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.requests) >= requestsKept {
		var oldest *request
		for _, x := range d.requests {
			if oldest == nil || x.at.Before(oldest.at) {
				oldest = x
			}
		}
		delete(d.requests, oldest.flag)
	}
	d.requests[r.flag] = r
}

// findRequest finds a request by flag, else the latest of kind from userID (in groupID).
func (d *Driver) findRequest(kind, flag string, userID, groupID int64) *request {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.requests[flag]; ok && r.kind == kind {
		return r
	}
	if flag != "" || userID == 0 {
		return nil
	}
	var found *request
	for _, r := range d.requests {
		if r.kind == kind && r.userID == userID && (groupID == 0 || r.groupID == groupID) && (found == nil || r.at.After(found.at)) {
			found = r
		}
	}
	return found
}

func (d *Driver) forgetRequest(flag string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.requests, flag)
}

// AnswerFriend answers a friend request. A flag the driver never saw (from before a restart)
// is passed on all the same: the implementation knows it or says no.
func (d *Driver) AnswerFriend(ctx context.Context, a driver.FriendAnswer) error {
	flag := a.Flag
	if r := d.findRequest("friend", a.Flag, a.UserID, 0); r != nil {
		flag = r.flag
	} else if flag == "" {
		return fmt.Errorf("friend request: %w", driver.ErrUnknown)
	}
	c, err := d.live()
	if err != nil {
		return err
	}
	params := map[string]any{"flag": flag, "approve": a.Approve}
	if a.Remark != "" {
		params["remark"] = a.Remark
	}
	if err := c.call(ctx, "set_friend_add_request", params, nil); err != nil {
		return err
	}
	d.forgetRequest(flag)
	return nil
}

// AnswerGroup answers a request to join a group, or an invitation.
func (d *Driver) AnswerGroup(ctx context.Context, a driver.GroupAnswer) error {
	flag, sub := a.Flag, a.SubType
	if r := d.findRequest("group", a.Flag, a.UserID, a.GroupID); r != nil {
		flag = r.flag
		if sub == "" {
			sub = r.subType
		}
	} else if flag == "" {
		return fmt.Errorf("group request: %w", driver.ErrUnknown)
	}
	if sub == "" {
		sub = events.GroupRequestAdd
	}
	c, err := d.live()
	if err != nil {
		return err
	}
	// "type" is sub_type's name in go-cqhttp's older builds.
	params := map[string]any{"flag": flag, "sub_type": sub, "type": sub, "approve": a.Approve}
	if a.Reason != "" && !a.Approve {
		params["reason"] = a.Reason
	}
	if err := c.call(ctx, "set_group_add_request", params, nil); err != nil {
		return err
	}
	d.forgetRequest(flag)
	return nil
}
