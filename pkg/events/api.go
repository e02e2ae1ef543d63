package events

import (
	"fmt"
	"net/http"
)

// API codes. Bots read `code`: 0 is success; the negative transport codes come with their own
// HTTP status (HTTPStatus), the rest are API-level answers with HTTP 200, as in Mojo-Webqq.
const (
	CodeOK = 0

	CodeAPINotFound  = -1  // HTTP 403: no such route
	CodeNotReady     = -2  // the client is not running yet
	CodeUnavailable  = -3  // HTTP 503: no session answers
	CodeTimeout      = -4  // HTTP 504: the session did not answer in time
	CodeAuthFailure  = -6  // HTTP 403: access token missing or wrong
	CodeBadRequest   = -7  // HTTP 400: parameters that cannot be read
	CodeTooLarge     = -8  // HTTP 413: request body over the limit
	CodeInternal     = -9  // HTTP 500: a fault of openqq's own, logged
	CodeTooSlow      = -10 // the last message of an event stream whose client could not keep up
	CodeNotFound     = 100
	CodeGroupMissing = 101
	CodeDiscussMiss  = 102
	CodeGroupMember  = 103
	CodeDiscussMbr   = 104
	CodeSessMember   = 105
	CodeContentEmpty = 106
	CodeMemberEmpty  = 200
	CodeFailure      = 201
	CodeShutupTime   = 400
)

// CodeMediaFetch answers a media_path URL that could not be fetched: a status other than 2xx,
// no answer within MEDIA_FETCH_TIMEOUT, a refused connection. The media's other failures use the
// general codes: CodeBadRequest (media_data not base64, a media_path refused or unreadable),
// CodeTooLarge (over MEDIA_MAX_BYTES), CodeNotFound (an unknown media_id).
const CodeMediaFetch = 110

// Status is the {"code":N,"status":"..."} reply. It is also an error, so a handler can return
// the reply it fails with.
type Status struct {
	Code   int    `json:"code"`
	Status string `json:"status"`
}

func (s *Status) Error() string { return fmt.Sprintf("code %d: %s", s.Code, s.Status) }

// HTTPStatus is the HTTP status that goes with the reply.
func (s *Status) HTTPStatus() int { return HTTPStatus(s.Code) }

// ReplyCode is the reply's API code: a handler that returns a Status as its error answers
// with it (the session's handler contract).
func (s *Status) ReplyCode() int { return s.Code }

// NewStatus builds a Status reply.
func NewStatus(code int, format string, a ...any) *Status {
	return &Status{Code: code, Status: fmt.Sprintf(format, a...)}
}

// HTTPStatus maps a code to the HTTP status its reply is sent with. Every API-level answer is
// 200; only the gateway's and the transport's own failures are not.
func HTTPStatus(code int) int {
	switch code {
	case CodeAPINotFound, CodeAuthFailure:
		return http.StatusForbidden
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeTimeout:
		return http.StatusGatewayTimeout
	case CodeBadRequest:
		return http.StatusBadRequest
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusOK
	}
}

// Fixed replies.
var (
	ErrAPINotFound  = &Status{CodeAPINotFound, "api not found"}
	ErrUnavailable  = &Status{CodeUnavailable, "session unavailable"}
	ErrTimeout      = &Status{CodeTimeout, "session timeout"}
	ErrAuthFailure  = &Status{CodeAuthFailure, "auth failure"}
	ErrTooLarge     = &Status{CodeTooLarge, "request entity too large"}
	ErrInternal     = &Status{CodeInternal, "internal error"}
	ErrObjNotFound  = &Status{CodeNotFound, "object not found"}
	ErrShutupTime   = &Status{CodeShutupTime, "shutup time missing or error"}
	ErrMemberEmpty  = &Status{CodeMemberEmpty, "member id empty"}
	ErrFailure      = &Status{CodeFailure, "failure"}
	StatusSuccess   = &Status{CodeOK, "success"}
	StatusInProcess = &Status{CodeOK, "request already in execution"}
)

// ErrNotReady is the reply to a call that needs the client running.
func ErrNotReady(s State) *Status { return NewStatus(CodeNotReady, "client not ready: %s", s) }

// ErrBadRequest is the reply to parameters that cannot be read.
func ErrBadRequest(format string, a ...any) *Status {
	return NewStatus(CodeBadRequest, "bad request: "+format, a...)
}

// ErrMemberNotFound is shutup's and kick's reply to a member id that is not in the group.
func ErrMemberNotFound(id string) *Status { return NewStatus(CodeNotFound, "member %s not found", id) }

// SendReply is the reply of the send_* routes. ID is null when the target was not found.
type SendReply struct {
	Code   int    `json:"code"`
	ID     *int64 `json:"id"`
	Info   string `json:"info,omitempty"`
	Status string `json:"status"`
}

func (r *SendReply) Error() string { return fmt.Sprintf("code %d: %s", r.Code, r.Status) }

// ReplyCode is the reply's API code: a handler that returns a SendReply as its error answers
// with it (the session's handler contract).
func (r *SendReply) ReplyCode() int { return r.Code }

// The send routes' not-found replies.
var (
	ErrFriendNotFound      = &SendReply{Code: CodeNotFound, Status: "friend not found"}
	ErrGroupNotFound       = &SendReply{Code: CodeGroupMissing, Status: "group not found"}
	ErrDiscussNotFound     = &SendReply{Code: CodeDiscussMiss, Status: "discuss not found"}
	ErrGroupMemberNotFound = &SendReply{Code: CodeGroupMember, Status: "group member not found"}
	ErrDiscussMbrNotFound  = &SendReply{Code: CodeDiscussMbr, Status: "discuss member not found"}
	// The two spaces are Mojo-Webqq's, and bots may compare the text.
	ErrSessMemberNotFound = &SendReply{Code: CodeSessMember, Status: "discuss member or group member  not found"}
	ErrContentEmpty       = &SendReply{Code: CodeContentEmpty, Status: "content empty"}
)

// ClientInfo is get_client_info's reply.
type ClientInfo struct {
	Account     string  `json:"account"`
	Code        int     `json:"code"`
	HTTPDebug   int     `json:"http_debug"`
	LogEncoding *string `json:"log_encoding"`
	LogLevel    string  `json:"log_level"`
	LogPath     string  `json:"log_path"`
	OS          string  `json:"os"`
	PID         int     `json:"pid"`
	Runtime     int64   `json:"runtime"`
	Starttime   int64   `json:"starttime"`
	// State is openqq's addition: the client state, so a bot can wait for "running".
	State   State  `json:"state"`
	Status  string `json:"status"`
	Version string `json:"version"`
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

// ReloginReply is relogin's reply.
type ReloginReply struct {
	Account string `json:"account"`
	Code    int    `json:"code"`
	Status  string `json:"status"`
}
