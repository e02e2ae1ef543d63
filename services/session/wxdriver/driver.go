// Package wxdriver is the contract between the session's WeChat platform and a WeChat
// connection, as package driver is for QQ. The session owns the roster, the client state,
// every report and the media store; a driver logs in, tells the session what the account
// receives and what changes, and carries out sends and the admin calls.
//
// Ids are WeChat's session ids ("@…" contacts, "@@…" groups), valid for one login: every QR
// login hands over a new roster with new ids (LoggedIn with scanned true).
package wxdriver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driverreg"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Driver is a connection to WeChat.
type Driver interface {
	// Run logs in, reporting its progress to sink, and then delivers what the account receives
	// until ctx ends (it returns nil then) or the connection fails. The session calls Run again
	// to log in again.
	Run(ctx context.Context, sink Sink) error
	// Send sends a message and returns WeChat's MsgID of it (the API's id is
	// wx.JoinMsgID(msgID, target)). A refusal is a *SendError.
	Send(ctx context.Context, m Outgoing) (msgID string, err error)
	// Revoke withdraws a message this account sent to peerID (a friend or a group). An unknown
	// or too old message is an error: ErrUnknown, ErrTooOld or a *SendError.
	Revoke(ctx context.Context, msgID, peerID string) error
	// CreateGroup creates a group of the account and the friends, named name (may be empty),
	// and returns its id.
	CreateGroup(ctx context.Context, name string, friendIDs []string) (groupID string, err error)
	// Invite adds friends to a group.
	Invite(ctx context.Context, groupID string, friendIDs []string) error
	// Kick removes members from a group.
	Kick(ctx context.Context, groupID string, memberIDs []string) error
	// SetGroupName renames a group.
	SetGroupName(ctx context.Context, groupID, name string) error
	// Stick pins (on) or unpins a friend or a group at the top of the chat list.
	Stick(ctx context.Context, id string, on bool) error
	// SetMarkname sets the remark of a friend (groupID empty) or of a group member.
	SetMarkname(ctx context.Context, id, groupID, markname string) error
	// MakeFriend asks a group member to become a friend, with verify as the request's words.
	MakeFriend(ctx context.Context, id, verify string) error
	// AcceptFriendRequest accepts a friend request reported with Sink.FriendRequest, named by
	// its id and ticket. ErrUnknown: no such request.
	AcceptFriendRequest(ctx context.Context, r wx.FriendRequest) error
	// Avatar returns the picture of a friend, a group, the user, or (groupID set) a member:
	// its MIME type and bytes. ErrUnknown: no such object.
	Avatar(ctx context.Context, id, groupID string) (mime string, data []byte, err error)
	// Capabilities declares the optional parts of the contract the driver keeps. The session
	// asks once, when it opens the driver; the answer must not change afterwards.
	Capabilities() Capabilities
}

// The roster effects of the admin calls (CreateGroup, Invite, Kick, SetGroupName,
// SetMarkname, AcceptFriendRequest, MakeFriend once accepted) are reported through the Sink
// (Change, ChangeProperty) as WeChat's sync reports them, before the call returns when the
// driver knows them then (the sim does); a platform that applies an effect itself gets
// ErrNoChange for the report. Stick is not reported: the platform records it.

// Capabilities are the optional parts of the contract. The session offers a feature only if
// the driver declares it, and the conformance suite (wxdrivertest) tests exactly what is
// declared.
type Capabilities struct {
	// Injector, if not nil, makes the account "receive" what is asked on wx.sim.inject, which
	// the session serves for it while Run runs.
	Injector Injector
	// SentElsewhere: the driver reports messages the account sent from another device
	// (Sink.Sent).
	SentElsewhere bool
	// Properties: the driver reports changed attributes of roster objects
	// (Sink.ChangeProperty).
	Properties bool
	// FriendRequests: the driver reports friend requests (Sink.FriendRequest), which
	// AcceptFriendRequest accepts.
	FriendRequests bool
}

// Sink is how a driver reports to the session. Its methods are safe for concurrent use. A
// driver calls Sent, ChangeProperty and FriendRequest only if it declares them in its
// Capabilities.
type Sink interface {
	// State reports a login state the driver reached (loading, scaning, confirming, updating).
	State(s events.State)
	// QRCode reports a login QR code: where the image was saved and its bytes (JPEG or PNG).
	QRCode(path string, img []byte)
	// LoggedIn hands over the roster once login is complete; scanned tells whether a QR code
	// was scanned (ids changed). The session is running when it returns. The roster is the
	// session's to keep and change.
	LoggedIn(r *wxroster.Roster, scanned bool)
	// Receive reports a message the account received and returns the id it was published
	// with. Media bytes in it are stored by the session (its media store) before it returns.
	Receive(ctx context.Context, in Incoming) (string, error)
	// Change reports a change of the roster. ErrNoChange means the session already knew.
	Change(ctx context.Context, c Change) error

	// Sent reports a message the account sent from another device and returns its id.
	Sent(ctx context.Context, m SentMessage) (string, error)
	// ChangeProperty reports a changed attribute of a roster object, published as
	// *_property_change [object, property, old, new]. ErrNoChange means the roster had it.
	ChangeProperty(ctx context.Context, c PropertyChange) error
	// FriendRequest reports someone asking to be a friend, published as
	// friend_request [id, displayname, verify, ticket].
	FriendRequest(ctx context.Context, r wx.FriendRequest) error
}

// Injector is a driver whose account can be made to receive things on request (the
// simulated account).
type Injector interface {
	// Inject makes the account receive a message (in.Type), a roster change or a friend
	// request (in.Event). The reply's ID is the published message's id, or the new object's
	// id; its Ticket a friend request's ticket. A refusal is an *events.Status, whose code and
	// text the injection's reply carries; any other error is reported as a failure.
	Inject(ctx context.Context, in wx.Injection) (wx.InjectReply, error)
}

// Body is what a message says, in one of the formats of wx.Formats: text (Content), media,
// app, card, revoke or payment (Content).
type Body struct {
	Format   string // wx.FormatText when empty
	Content  string
	Media    *IncomingMedia // format media
	App      *wx.App        // format app
	Card     *wx.Card       // format card
	RevokeID string         // format revoke: the MsgID withdrawn
}

// IncomingMedia is a received file (media.Incoming: one type for every platform's drivers).
type IncomingMedia = media.Incoming

// Incoming is a message the account received, named by ids of the current login: a friend
// message from SenderID, a group message from SenderID in GroupID, or a group notice in
// GroupID (no sender).
type Incoming struct {
	Type     string // wx.FriendMessage, wx.GroupMessage or wx.GroupNotice
	MsgID    string // WeChat's id of the message; empty: the session makes one
	SenderID string
	GroupID  string
	Time     time.Time
	Body
}

// SentMessage is a message the account sent from another device: to a friend (TargetID) or
// a group (GroupID).
type SentMessage struct {
	Type     string // wx.FriendMessage or wx.GroupMessage
	MsgID    string
	TargetID string
	GroupID  string
	Time     time.Time
	Body
}

// Outgoing is a message to send, its target resolved by the session: a friend or a group
// (TargetID), with text (Content), a media (Media), or both (a backend that sends them as two
// messages sends the text first and returns the media's MsgID).
type Outgoing struct {
	Type     string // wx.FriendMessage or wx.GroupMessage
	TargetID string
	Content  string
	Media    *Media
}

// Media is a stored file to send (media.Attachment: one type for every platform's drivers).
type Media = media.Attachment

// MediaMeta names a stored file: its media_id, type, name, mime and size among the rest.
type MediaMeta = media.Meta

// Change is a change of the roster. Kind is the event it is published as.
type Change struct {
	Kind    string    // events.EventNewFriend, EventLoseFriend, EventNewGroup, ...
	Friend  wx.Friend // new_friend (whole), lose_friend (ID)
	Group   wx.Group  // new_group (whole, with members), lose_group (ID)
	GroupID string    // new_group_member, lose_group_member
	Member  wx.Member // new_group_member (whole), lose_group_member (ID)
}

// The properties a PropertyChange names (Mojo-Weixin's attribute names).
const (
	PropertyName      = "name"
	PropertyMarkname  = "markname"
	PropertyDisplay   = "display"
	PropertySignature = "signature"
	PropertyCity      = "city"
	PropertyProvince  = "province"
	PropertySex       = "sex"
	PropertyAccount   = "account"
)

// PropertyChange is a changed attribute: of a group member (GroupID and MemberID), a group
// (GroupID), a friend (FriendID) or, with no id, the user.
type PropertyChange struct {
	GroupID  string
	MemberID string
	FriendID string
	Property string
	New      string
}

// Kind is the event the change is published as.
func (c PropertyChange) Kind() string {
	switch {
	case c.MemberID != "":
		return wx.EventGroupMemberPropertyChange
	case c.GroupID != "":
		return wx.EventGroupPropertyChange
	case c.FriendID != "":
		return wx.EventFriendPropertyChange
	}
	return wx.EventUserPropertyChange
}

// Errors a Sink or a driver answers with: the same values as package driver's, so that the
// platform-neutral engine tells them apart with errors.Is whatever the platform.
var (
	ErrNoChange = driver.ErrNoChange
	ErrUnknown  = driver.ErrUnknown
	ErrNotReady = driver.ErrNotReady
	// ErrFatal marks an error after which logging in again cannot help.
	ErrFatal = driver.ErrFatal
	// ErrTooOld is a revoke of a message older than WeChat allows (2 minutes).
	ErrTooOld = errors.New("message too old to revoke")
	// ErrUnsupported is an admin call the driver's WeChat backend cannot do.
	ErrUnsupported = errors.New("not supported by this driver")
)

// SendError is a call WeChat refused, with its BaseResponse.Ret and ErrMsg: the API answers
// with them as code and status.
type SendError struct {
	Ret    int
	ErrMsg string
}

func (e *SendError) Error() string { return fmt.Sprintf("wechat refused: ret %d: %s", e.Ret, e.ErrMsg) }

// WeChat's Ret codes the sim answers with, as the web protocol had them.
const (
	RetFailure     = 1    // a generic failure
	RetNotLoggedIn = 1101 // the login ended
	RetNoSuchUser  = 1204 // the target is not a contact
	RetTooFrequent = 1205 // sending too fast
)

// Params is what the session gives every driver it opens (QQ's and WeChat's are the same).
type Params = driverreg.Params

var registry = driverreg.New[Driver]("wxdriver")

// Register makes a WeChat driver available to the session's wx platform under name, as
// driver.Register does for QQ drivers (same rules; a separate namespace: the WeChat "sim" is
// not QQ's).
func Register[C any](name, prefix string, open func(cfg C, p Params) (Driver, error)) {
	driverreg.Register(registry, name, prefix, open)
}

// Open builds the WeChat driver registered as name (see driver.Open).
func Open(name string, cfg any, p Params) (Driver, error) { return registry.Open(name, cfg, p) }

// ConfigFrom builds the configuration of the driver registered as name from one account's
// settings (variable names to values), its defaults for the rest, for Open: the process's own
// environment plays no part. It returns the keys of vars it used.
func ConfigFrom(name string, vars map[string]string) (cfg any, used []string, err error) {
	return registry.ConfigFrom(name, vars)
}

// Drivers lists the names of the registered WeChat drivers, sorted.
func Drivers() []string { return registry.Names() }

// EnvSpecs returns the registered WeChat drivers' configurations for envconfig (see
// driver.EnvSpecs).
func EnvSpecs() []any { return registry.EnvSpecs() }
