// Package driver is the contract between the session and a QQ connection. The session owns the
// roster, the client state and every report; a driver only logs in, tells the session what the
// account receives, and carries out sends, mutes and kicks.
package driver

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/roster"
)

// Driver is a connection to QQ.
type Driver interface {
	// Run logs in, reporting its progress to sink, and then delivers what the account receives
	// until ctx ends (it returns nil then) or the connection fails. The session calls Run again
	// to log in again.
	Run(ctx context.Context, sink Sink) error
	// Send sends a message and says how it went. An error is a failure to send.
	Send(ctx context.Context, m Outgoing) error
	// Mute silences members of a group for d.
	Mute(ctx context.Context, groupID int64, memberIDs []int64, d time.Duration) error
	// Kick removes members from a group.
	Kick(ctx context.Context, groupID int64, memberIDs []int64) error
	// Capabilities declares the optional parts of the contract the driver keeps. The session
	// asks once, when it opens the driver; the answer must not change afterwards.
	Capabilities() Capabilities
}

// Capabilities are the optional parts of the contract. The session offers a feature only if
// the driver declares it, and the conformance suite (drivertest) tests exactly what is declared.
type Capabilities struct {
	// Requests, if not nil, answers the friend and group requests the account receives (which
	// the driver reports with Sink.Publish as friend_request and group_request).
	Requests Requests
	// Injector, if not nil, makes the account "receive" what is asked on the injection
	// endpoint (<prefix>.sim.inject), which the session serves for it while Run runs.
	Injector Injector
	// SentElsewhere: the driver reports messages the account sent by other means
	// (Sink.Sent).
	SentElsewhere bool
	// Properties: the driver reports changed attributes of roster objects
	// (Sink.ChangeProperty).
	Properties bool
	// Faces: the driver sends the face names of Outgoing.Content (package face's table) as
	// QQ faces, and reports received faces as their [name] in Incoming.Content.
	Faces bool
	// Media: the driver sends Outgoing.Media as a picture, and reports a received picture
	// with its bytes in Incoming.Media ([图片] in Content).
	Media bool
}

// Sink is how a driver reports to the session. Its methods are safe for concurrent use. A
// driver calls Sent and ChangeProperty only if it declares them in its Capabilities, and
// Publish only for the extension events of what it declares.
type Sink interface {
	// State reports a login state the driver reached (scaning, confirming, updating).
	State(s events.State)
	// QRCode reports a login QR code: where the image was saved and its PNG bytes.
	QRCode(path string, png []byte)
	// LoggedIn hands over the roster once login is complete; scanned tells whether a QR code
	// was scanned (ids may have changed). The session is running when it returns.
	LoggedIn(r *roster.Roster, scanned bool)
	// Receive reports a message the account received and returns the id it was published with.
	Receive(ctx context.Context, in Incoming) (int64, error)
	// Change reports a change of the roster. ErrNoChange means the session already knew.
	Change(ctx context.Context, c Change) error

	// Sent reports a message the account sent by other means than this session (another
	// device, or the QQ implementation's own report of it) and returns its id.
	Sent(ctx context.Context, m SentMessage) (int64, error)
	// ChangeProperty reports a changed attribute of a roster object, published as
	// *_property_change [object, property, old, new]. ErrNoChange means the roster had it.
	ChangeProperty(ctx context.Context, c PropertyChange) error
	// Publish publishes an extension event {"event":name,"params":params}.
	Publish(ctx context.Context, name string, params ...any) error
}

// Injector is a driver whose account can be made to receive things on request (the
// simulated account): tests, demos and benchmarks drive the whole system through it.
type Injector interface {
	// Inject makes the account receive a message (in.Type) or a roster change (in.Event),
	// and returns the id the message was published with (0 for a change). A refusal is an
	// *events.Status, whose code and text the injection's reply carries; any other error is
	// reported as a failure.
	Inject(ctx context.Context, in events.Injection) (int64, error)
}

// Incoming is a message the account received, named by ids the roster knows.
type Incoming struct {
	Type      string // events.FriendMessage, GroupMessage, DiscussMessage or SessMessage
	SenderID  int64
	GroupID   int64 // group messages, and sess messages met in a group
	DiscussID int64 // discuss messages, and sess messages met in a discuss
	Content   string
	Time      time.Time
	// Raw is the driver's own form of the message (OneBot segments), reported as raw_content.
	Raw json.RawMessage
	// Media is a picture the message carries (Content says [图片] where it was): the session
	// stores it and the report carries Openwx's media fields.
	Media *media.Incoming
}

// Outgoing is a message to send, its target resolved by the session.
type Outgoing struct {
	Type      string
	TargetID  int64 // friend, group, discuss, or (sess) the member
	GroupID   int64 // sess met in a group
	DiscussID int64 // sess met in a discuss
	// Content is the text, face names ([微笑]) included: the driver sends those as faces
	// (the one face table is package driver/face).
	Content string
	// Media is a stored picture to send with the text, or alone (Content empty).
	Media *media.Attachment
}

// Change is a change of the roster. Kind is the event it is published as.
type Change struct {
	Kind    string // events.EventNewFriend, EventLoseFriend, EventNewGroup, ...
	Friend  events.Friend
	Group   events.Group
	GroupID int64
	Member  events.GroupMember
}

// Errors a Sink answers with.
var (
	ErrNoChange = errors.New("roster already up to date")
	ErrUnknown  = errors.New("not in the roster")
	ErrNotReady = errors.New("client not running")
)

// SendError is a send that failed, with Mojo's code (-1..-5) and info text.
type SendError struct {
	Code int
	Info string
}

func (e *SendError) Error() string { return "send failed: " + e.Info }

// ErrFatal marks an error after which logging in again cannot help (a refused access token,
// say): the session stops with it instead of retrying.
var ErrFatal = errors.New("fatal")

// SentMessage is a message the account sent elsewhere: to a friend (TargetID), a group
// (GroupID), or a group member in a temporary session (both).
type SentMessage struct {
	Type     string // events.FriendMessage, GroupMessage or SessMessage
	TargetID int64
	GroupID  int64
	Content  string
	Raw      json.RawMessage // the driver's own form of the message, reported as raw_content
	Time     time.Time
	Media    *media.Incoming // a picture it carried, as Incoming.Media
}

// The properties a PropertyChange names, as Mojo-Webqq named them.
const (
	PropertyCard     = "card"     // a member's group card
	PropertyRole     = "role"     // a member's role (owner, admin, member)
	PropertyName     = "name"     // a group's name
	PropertyMarkname = "markname" // a friend's remark
)

// PropertyChange is a changed attribute: of a group (GroupID), a member (GroupID and
// MemberID) or a friend (FriendID).
type PropertyChange struct {
	GroupID  int64
	MemberID int64
	FriendID int64
	Property string
	New      string
}

// Requests answers the friend and group requests the account receives (published as the
// extension events friend_request and group_request).
type Requests interface {
	// AnswerFriend approves or rejects a friend request. ErrUnknown: no such request.
	AnswerFriend(ctx context.Context, a FriendAnswer) error
	// AnswerGroup approves or rejects a request to join a group, or an invitation.
	AnswerGroup(ctx context.Context, a GroupAnswer) error
}

// FriendAnswer answers a friend request, named by its flag or else by who asked (UserID).
type FriendAnswer struct {
	Flag    string
	UserID  int64
	Approve bool
	Remark  string
}

// GroupAnswer answers a group request, named by its flag or else by who asked and where.
type GroupAnswer struct {
	Flag    string
	UserID  int64
	GroupID int64
	SubType string // "add" or "invite"; empty: what the request said
	Approve bool
	Reason  string
}
