package client

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
)

// call makes a call and decodes a successful reply into out.
func call[T any](ctx context.Context, c *Client, route string, p events.Params, opts ...CallOption) (T, error) {
	var out T
	rep, err := c.Call(ctx, route, p, opts...)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(rep.Data, &out); err != nil {
		return out, &Error{Route: route, Status: events.NewStatus(events.CodeInternal, "reply: %v", err), Err: err}
	}
	return out, nil
}

// send makes a send_* call: the reply is there whenever the session answered, with an error
// when the message was not sent.
func (c *Client) send(ctx context.Context, route string, p events.Params, opts ...CallOption) (*events.SendReply, error) {
	rep, err := c.Call(ctx, route, p, opts...)
	if rep == nil {
		return nil, err
	}
	var sr events.SendReply
	if uerr := json.Unmarshal(rep.Data, &sr); uerr != nil {
		return nil, &Error{Route: route, Status: events.NewStatus(events.CodeInternal, "reply: %v", uerr), Err: uerr}
	}
	return &sr, err
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func ids(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = id(n)
	}
	return strings.Join(s, ",")
}

// GetUserInfo is get_user_info: the logged-in account.
func (c *Client) GetUserInfo(ctx context.Context) (*events.User, error) {
	return call[*events.User](ctx, c, events.RouteGetUserInfo, nil)
}

// GetFriendInfo is get_friend_info: the friend list.
func (c *Client) GetFriendInfo(ctx context.Context) ([]events.Friend, error) {
	return call[[]events.Friend](ctx, c, events.RouteGetFriendInfo, nil)
}

// GetGroupInfo is get_group_info: the groups with their members.
func (c *Client) GetGroupInfo(ctx context.Context) ([]events.Group, error) {
	return call[[]events.Group](ctx, c, events.RouteGetGroupInfo, nil)
}

// GetGroupBasicInfo is get_group_basic_info: the groups without their members (Member nil).
func (c *Client) GetGroupBasicInfo(ctx context.Context) ([]events.Group, error) {
	return call[[]events.Group](ctx, c, events.RouteGetGroupBasicInfo, nil)
}

// GetDiscussInfo is get_discuss_info: the discusses with their members.
func (c *Client) GetDiscussInfo(ctx context.Context) ([]events.Discuss, error) {
	return call[[]events.Discuss](ctx, c, events.RouteGetDiscussInfo, nil)
}

// SearchFriend is search_friend: the friends whose attributes equal every one of filter
// (id, uid, name, markname, category, ...). None is CodeNotFound.
func (c *Client) SearchFriend(ctx context.Context, filter events.Params) ([]events.Friend, error) {
	return call[[]events.Friend](ctx, c, events.RouteSearchFriend, filter)
}

// SearchGroup is search_group: the groups whose attributes equal every one of filter. None is
// CodeNotFound.
func (c *Client) SearchGroup(ctx context.Context, filter events.Params) ([]events.Group, error) {
	return call[[]events.Group](ctx, c, events.RouteSearchGroup, filter)
}

// SendFriendMessage is send_friend_message to the friend with id. The reply carries the sent
// message's id; a send that failed returns it too, with the error.
func (c *Client) SendFriendMessage(ctx context.Context, friendID int64, content string, opts ...CallOption) (*events.SendReply, error) {
	return c.send(ctx, events.RouteSendFriendMessage, events.Params{"id": id(friendID), "content": content}, opts...)
}

// SendGroupMessage is send_group_message to the group with id.
func (c *Client) SendGroupMessage(ctx context.Context, groupID int64, content string, opts ...CallOption) (*events.SendReply, error) {
	return c.send(ctx, events.RouteSendGroupMessage, events.Params{"id": id(groupID), "content": content}, opts...)
}

// SendDiscussMessage is send_discuss_message to the discuss with id.
func (c *Client) SendDiscussMessage(ctx context.Context, discussID int64, content string, opts ...CallOption) (*events.SendReply, error) {
	return c.send(ctx, events.RouteSendDiscussMessage, events.Params{"id": id(discussID), "content": content}, opts...)
}

// Sess names the addressee of a temporary-session message: a member of a group (GroupID) or
// of a discuss (DiscussID).
type Sess struct {
	MemberID  int64
	GroupID   int64
	DiscussID int64
}

func (s Sess) params() events.Params {
	p := events.Params{"id": id(s.MemberID)}
	if s.DiscussID != 0 {
		p["discuss_id"] = id(s.DiscussID)
	} else {
		p["group_id"] = id(s.GroupID)
	}
	return p
}

// SendSessMessage is send_sess_message to a stranger met in a group or a discuss.
func (c *Client) SendSessMessage(ctx context.Context, to Sess, content string, opts ...CallOption) (*events.SendReply, error) {
	p := to.params()
	p["content"] = content
	return c.send(ctx, events.RouteSendSessMessage, p, opts...)
}

// ReplyParams addresses a reply to m as post_api's {"reply":...} is sent: a friend or sess
// message to the person (its sender if received, its receiver if sent), a group or discuss
// message to the group or discuss. ok is false when m names no one to answer.
func ReplyParams(m *events.Message, content string) (route string, p events.Params, ok bool) {
	var peer int64
	switch {
	case m.PostType == events.PostSendMessage && m.Receiver != nil:
		peer = m.Receiver.ID
	case m.PostType != events.PostSendMessage && m.Sender != nil:
		peer = m.Sender.ID
	}
	p = events.Params{"content": content}
	switch m.Type {
	case events.FriendMessage:
		p["id"] = id(peer)
		return events.RouteSendFriendMessage, p, peer != 0
	case events.GroupMessage:
		if m.GroupRef == nil {
			return "", nil, false
		}
		p["id"] = id(m.GroupRef.ID)
		return events.RouteSendGroupMessage, p, true
	case events.DiscussMessage:
		if m.DiscussRef == nil {
			return "", nil, false
		}
		p["id"] = id(m.DiscussRef.ID)
		return events.RouteSendDiscussMessage, p, true
	case events.SessMessage:
		p["id"] = id(peer)
		switch {
		case m.GroupRef != nil:
			p["group_id"] = id(m.GroupRef.ID)
		case m.DiscussRef != nil:
			p["discuss_id"] = id(m.DiscussRef.ID)
		default:
			return "", nil, false
		}
		return events.RouteSendSessMessage, p, peer != 0
	}
	return "", nil, false
}

// Reply answers m in its conversation (see ReplyParams).
func (c *Client) Reply(ctx context.Context, m *events.Message, content string, opts ...CallOption) (*events.SendReply, error) {
	route, p, ok := ReplyParams(m, content)
	if !ok {
		return nil, &Error{Route: "reply", Status: events.ErrBadRequest("message %d of type %q names no one to answer", m.ID, m.Type)}
	}
	return c.send(ctx, route, p, opts...)
}

// ShutupGroupMember is shutup_group_member: mutes members of a group for d (whole seconds,
// from a minute to 30 days).
func (c *Client) ShutupGroupMember(ctx context.Context, groupID int64, d time.Duration, memberIDs ...int64) error {
	_, err := c.Call(ctx, events.RouteShutupGroupMember, events.Params{
		"group_id": id(groupID), "member_id": ids(memberIDs), "seconds": strconv.FormatInt(int64(d/time.Second), 10),
	})
	return err
}

// KickGroupMember is kick_group_member: removes members from a group.
func (c *Client) KickGroupMember(ctx context.Context, groupID int64, memberIDs ...int64) error {
	_, err := c.Call(ctx, events.RouteKickGroupMember, events.Params{"group_id": id(groupID), "member_id": ids(memberIDs)})
	return err
}

// GetClientInfo is get_client_info; it answers in every client state (State says which).
func (c *Client) GetClientInfo(ctx context.Context) (*events.ClientInfo, error) {
	return call[*events.ClientInfo](ctx, c, events.RouteGetClientInfo, nil)
}

// StopClient is stop_client: the client stops a few seconds later.
func (c *Client) StopClient(ctx context.Context) (*events.StopReply, error) {
	return call[*events.StopReply](ctx, c, events.RouteStopClient, nil)
}

// Relogin is relogin: the client logs in again a few seconds later.
func (c *Client) Relogin(ctx context.Context) (*events.ReloginReply, error) {
	return call[*events.ReloginReply](ctx, c, events.RouteRelogin, nil)
}

// AnswerFriendRequest answers a friend_request event (openqq's extension) by its flag.
func (c *Client) AnswerFriendRequest(ctx context.Context, flag string, approve bool, remark string) error {
	_, err := c.Call(ctx, events.RouteAnswerFriendRequest, events.Params{"flag": flag, "approve": boolParam(approve), "remark": remark})
	return err
}

// AnswerGroupRequest answers a group_request event (openqq's extension) by its flag.
func (c *Client) AnswerGroupRequest(ctx context.Context, flag string, approve bool, reason string) error {
	_, err := c.Call(ctx, events.RouteAnswerGroupRequest, events.Params{"flag": flag, "approve": boolParam(approve), "reason": reason})
	return err
}

func boolParam(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// CheckEvent is check_event: the items buffered for check_event callers, or the first new one
// within hold (at most the session's CHECK_EVENT_HOLD), or none. Items reach this caller only if
// it gets the reply: otherwise they go back to the session's buffer for the next call.
func (c *Client) CheckEvent(ctx context.Context, hold time.Duration) ([]*Item, error) {
	ticket := nuid.Next()
	rep, err := c.Call(ctx, events.RouteCheckEvent, nil, Ticket(ticket, hold))
	if err != nil {
		_ = c.Release(ticket, false)
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(rep.Data, &raw); err != nil {
		_ = c.Release(ticket, false)
		return nil, &Error{Route: events.RouteCheckEvent, Status: events.NewStatus(events.CodeInternal, "reply: %v", err), Err: err}
	}
	// Should the release be lost, the session takes the items back after a while: they come
	// twice rather than never.
	_ = c.Release(ticket, true)
	items := make([]*Item, 0, len(raw))
	for _, r := range raw {
		it, err := DecodeItem("", r)
		if err != nil {
			return items, err
		}
		items = append(items, it)
	}
	return items, nil
}
