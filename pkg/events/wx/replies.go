package wx

import (
	"fmt"

	"github.com/openqq/openqq/pkg/events"
)

// The replies of the Openwx routes (MOJO-OPENWX.md §2.2). Replies that are only
// {"code":N,"status":"..."} are events.Status values.

// SendReply is the reply of send_friend_message and send_group_message. The message's id
// ("<MsgID>:<peer id>") is under both id (Mojo-Weixin's code) and msg_id (the seed's
// document), so that a client written from either reads it; both are null when the target
// was not found. MediaID is there for media sends ("" when the upload failed).
type SendReply struct {
	Code    int     `json:"code"`
	ID      *string `json:"id"`
	MediaID *string `json:"media_id,omitempty"`
	MsgID   *string `json:"msg_id"`
	Status  string  `json:"status"`
}

func (r *SendReply) Error() string { return fmt.Sprintf("code %d: %s", r.Code, r.Status) }

// NewSendReply is the reply of a send that went out as id.
func NewSendReply(id string) *SendReply {
	return &SendReply{Code: events.CodeOK, ID: &id, MsgID: &id, Status: SendOK}
}

// NewSendFailure is the reply of a send WeChat refused: its BaseResponse.Ret and ErrMsg (or
// "unknown error").
func NewSendFailure(id string, ret int, errMsg string) *SendReply {
	if errMsg == "" {
		errMsg = SendUnknown
	}
	r := &SendReply{Code: ret, Status: errMsg}
	if id != "" {
		r.ID, r.MsgID = &id, &id
	}
	return r
}

// WithMedia adds the media id to a send reply.
func (r *SendReply) WithMedia(mediaID string) *SendReply {
	r.MediaID = &mediaID
	return r
}

// ErrSendNotFound is a send's reply to a target that is not in the roster.
var ErrSendNotFound = &SendReply{Code: events.CodeNotFound, Status: "object not found"}

// ErrNoContent is the reply to a send with neither content nor media: Mojo-Weixin never
// answered it (the request hung); openwx says so.
var ErrNoContent = &SendReply{Code: events.CodeContentEmpty, Status: "content and media empty"}

// AllSentReply is send_friend_message's reply to id=@all, sent to every friend in the
// background: {"id":0,"code":0,"status":"request already executed"} (and msg_id 0).
type AllSentReply struct {
	Code   int    `json:"code"`
	ID     int    `json:"id"`
	MsgID  int    `json:"msg_id"`
	Status string `json:"status"`
}

// NewAllSentReply is the reply to id=@all.
func NewAllSentReply() *AllSentReply {
	return &AllSentReply{Code: events.CodeOK, Status: "request already executed"}
}

// AllFriends is the id that names every friend in send_friend_message.
const AllFriends = "@all"

// ConsultReply is consult's reply: the send's reply and the friend's answer, or, when none
// came in time, reply null and reply_status "reply timeout".
type ConsultReply struct {
	SendReply
	Reply       *string `json:"reply"`
	ReplyStatus string  `json:"reply_status,omitempty"`
}

// ReplyTimeout is consult's reply_status when the friend did not answer in time.
const ReplyTimeout = "reply timeout"

// NewConsultReply is consult's reply with the friend's answer.
func NewConsultReply(id, reply string) *ConsultReply {
	return &ConsultReply{SendReply: *NewSendReply(id), Reply: &reply}
}

// NewConsultTimeout is consult's reply when the friend did not answer in time.
func NewConsultTimeout(id string) *ConsultReply {
	return &ConsultReply{SendReply: *NewSendReply(id), ReplyStatus: ReplyTimeout}
}

// RevokeReply is revoke_message's reply. A failure is code 201 "revoke failure" here, where
// Mojo-Weixin answered code 0 (its bug); an id that names no sent message is -1
// "msg id not found" with id null, as in Mojo.
type RevokeReply struct {
	Code   int     `json:"code"`
	ID     *string `json:"id"`
	Status string  `json:"status"`
}

func (r *RevokeReply) Error() string { return fmt.Sprintf("code %d: %s", r.Code, r.Status) }

// NewRevokeReply is the reply of a revoke of id: success, or 201 "revoke failure".
func NewRevokeReply(id string, ok bool) *RevokeReply {
	if ok {
		return &RevokeReply{Code: events.CodeOK, ID: &id, Status: "revoke success"}
	}
	return &RevokeReply{Code: events.CodeFailure, ID: &id, Status: "revoke failure"}
}

// ErrMsgIDNotFound is revoke_message's reply without a usable id.
var ErrMsgIDNotFound = &RevokeReply{Code: -1, Status: "msg id not found"}

// CreateGroupReply is create_group's reply.
type CreateGroupReply struct {
	Code    int    `json:"code"`
	GroupID string `json:"group_id"`
	Status  string `json:"status"`
}

// NewCreateGroupReply is create_group's success.
func NewCreateGroupReply(groupID string) *CreateGroupReply {
	return &CreateGroupReply{Code: events.CodeOK, GroupID: groupID, Status: "success"}
}

// IDStatus is a {"code":N,"id":null,"status":"..."} reply: create_group's failure, get_avatar's
// not found.
type IDStatus struct {
	Code   int     `json:"code"`
	ID     *string `json:"id"`
	Status string  `json:"status"`
}

func (r *IDStatus) Error() string { return fmt.Sprintf("code %d: %s", r.Code, r.Status) }

// Fixed failures of the admin routes.
var (
	// ErrCreateFailure is create_group's failure: {"code":201,"id":null,"status":"failure"}.
	ErrCreateFailure = &IDStatus{Code: events.CodeFailure, Status: "failure"}
	// ErrAvatarNotFound is get_avatar's reply to an unknown id.
	ErrAvatarNotFound = &IDStatus{Code: events.CodeNotFound, Status: "object not found"}
	// ErrFriendIDEmpty: create_group and invite_friend without friends.
	ErrFriendIDEmpty = &events.Status{Code: events.CodeMemberEmpty, Status: "friend id empty"}
	// ErrMemberIDEmpty: kick_group_member without members.
	ErrMemberIDEmpty = &events.Status{Code: events.CodeMemberEmpty, Status: "member id empty"}
	// ErrGroupNotFound: set_markname with a group_id that names no group.
	ErrGroupNotFound = &events.Status{Code: events.CodeNotFound, Status: "group not found"}
	// ErrYourself and ErrAlreadyFriend: make_friend's refusals.
	ErrYourself      = &events.Status{Code: events.CodeGroupMissing, Status: "can not be yourself"}
	ErrAlreadyFriend = &events.Status{Code: events.CodeGroupMissing, Status: "already a friend"}
)

// CodeUnsupported is the code of a call the account's WeChat driver cannot do (an iLink
// account has no groups, no revoke, no avatars; Wechaty's puppet API cannot stick). Openwx
// never answered 202: a client tells "this account cannot" from a failure (201) that a retry
// or other parameters might mend.
const CodeUnsupported = 202

// Unsupported is the reply of every route to a call the driver (named) cannot do:
// {"code":202,"status":"not supported by this account's driver (ilink)"}.
func Unsupported(driver string) *events.Status {
	return events.NewStatus(CodeUnsupported, "not supported by this account's driver (%s)", driver)
}

// ErrFriendIDNotFound is the reply to a friend id that is not a friend.
func ErrFriendIDNotFound(id string) *events.Status {
	return events.NewStatus(events.CodeNotFound, "friend id %s not found", id)
}

// ErrMemberIDNotFound is the reply to a member id that is not in the group.
func ErrMemberIDNotFound(id string) *events.Status {
	return events.NewStatus(events.CodeNotFound, "member id %s not found", id)
}

// AcceptReply is accept_friend_request's reply, which repeats the request.
type AcceptReply struct {
	Code        int    `json:"code"`
	Displayname string `json:"displayname"`
	ID          string `json:"id"`
	Status      string `json:"status"`
	Ticket      string `json:"ticket"`
}

// NewAcceptReply is accept_friend_request's success.
func NewAcceptReply(r FriendRequest) *AcceptReply {
	return &AcceptReply{Code: events.CodeOK, Displayname: r.Displayname, ID: r.ID, Status: "success", Ticket: r.Ticket}
}

// ErrAcceptFailure is accept_friend_request's failure.
var ErrAcceptFailure = &events.Status{Code: -1, Status: "failure"}

// UploadReply is upload_media's reply: the stored media's fields (Mojo's keys) and, an
// openwx addition, code 0 and status "success".
type UploadReply struct {
	Code   int    `json:"code"`
	Ext    string `json:"media_ext"`
	ID     string `json:"media_id"`
	MCode  int    `json:"media_code"`
	Mime   string `json:"media_mime"`
	Mtime  int64  `json:"media_mtime"`
	Name   string `json:"media_name"`
	Path   string `json:"media_path"`
	Size   int64  `json:"media_size"`
	Status string `json:"status"`
	Type   string `json:"media_type"`
}

// NewUploadReply is upload_media's reply for a stored media (Data is not part of it).
func NewUploadReply(m Media) *UploadReply {
	return &UploadReply{
		Code: events.CodeOK, Ext: m.Ext, ID: m.ID, MCode: m.Code, Mime: m.Mime, Mtime: m.Mtime,
		Name: m.Name, Path: m.Path, Size: m.Size, Status: "success", Type: m.Type,
	}
}

// ClientInfo is get_client_info's reply.
type ClientInfo struct {
	Account     string  `json:"account"`
	Code        int     `json:"code"`
	HTTPDebug   string  `json:"http_debug"`
	LogEncoding *string `json:"log_encoding"`
	LogLevel    string  `json:"log_level"`
	LogPath     string  `json:"log_path"`
	OS          string  `json:"os"`
	PID         int     `json:"pid"`
	Runtime     int64   `json:"runtime"`
	Starttime   int64   `json:"starttime"`
	Status      string  `json:"status"`
	Version     string  `json:"version"`
}

// StopReply is stop_client's reply.
type StopReply struct {
	Account   string `json:"account"`
	Code      int    `json:"code"`
	PID       int    `json:"pid"`
	Runtime   int64  `json:"runtime"`
	Starttime int64  `json:"starttime"`
	Status    string `json:"status"`
}

// NewStopReply is stop_client's reply: the client stops 3 s later.
func NewStopReply(account string, pid int, starttime, runtime int64) *StopReply {
	return &StopReply{
		Account: account, Code: events.CodeOK, PID: pid, Runtime: runtime, Starttime: starttime,
		Status: fmt.Sprintf("success, client(%d) will stop in 3 seconds", pid),
	}
}
