package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
)

// DefaultTimeout bounds a call that sets no time-out of its own, as the gateway's API_TIMEOUT.
const DefaultTimeout = 10 * time.Second

// Client calls the API and follows the items of one account (one subject prefix). It is safe
// for concurrent use.
type Client struct {
	nc      *nats.Conn
	subj    events.Subjects
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithPrefix sets the subject prefix of the account (SUBJECT_PREFIX); the default is "qq".
func WithPrefix(prefix string) Option { return func(c *Client) { c.subj.Prefix = prefix } }

// WithClient addresses one account of the prefix (Mojo's client=NAME): its API is
// <prefix>.api.<client>.<route> and its items <prefix>.events.<client>.<name>; "" or
// events.DefaultClient is the default account, today's subjects.
func WithClient(name string) Option { return func(c *Client) { c.subj.Client = name } }

// WithTimeout sets how long a call waits for its reply (DefaultTimeout if 0).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client on nc.
func New(nc *nats.Conn, opts ...Option) *Client {
	c := &Client{nc: nc, timeout: DefaultTimeout}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c
}

// ForClient is a client of the same connection, prefix and time-out for another account of the
// prefix (see WithClient): what a post_api answer or a poll command to that account's item
// goes through.
func (c *Client) ForClient(name string) *Client {
	cc := *c
	cc.subj = c.subj.ForClient(name)
	return &cc
}

// Subjects are the subjects the client talks on.
func (c *Client) Subjects() events.Subjects { return c.subj }

// Conn is the client's NATS connection.
func (c *Client) Conn() *nats.Conn { return c.nc }

// CallOption sets something about one call.
type CallOption func(*nats.Msg, *time.Duration)

// AsReply marks the call as a post_api answer (HeaderFrom "reply"): the send_message report of
// a message it sends is then never answered again.
func AsReply() CallOption {
	return func(m *nats.Msg, _ *time.Duration) { m.Header.Set(events.HeaderFrom, events.FromReply) }
}

// IfNoneMatch names the version of a cacheable reply (events.Cacheable) the caller holds: if it
// is still current, the session answers with HeaderNotModified and no body.
func IfNoneMatch(etag string) CallOption {
	return func(m *nats.Msg, _ *time.Duration) {
		if etag != "" {
			m.Header.Set(events.HeaderIfNoneMatch, etag)
		}
	}
}

// Ticket names a check_event call, which the session holds up to hold for a first item; the
// items it hands out stay the caller's until Release. The call waits hold longer than others.
func Ticket(ticket string, hold time.Duration) CallOption {
	return func(m *nats.Msg, timeout *time.Duration) {
		m.Header.Set(events.HeaderTicket, ticket)
		m.Header.Set(events.HeaderHold, hold.String())
		*timeout += hold
	}
}

// Hold lets a call that the session holds on purpose (Openwx's consult, waiting for an
// answer) wait d longer than the client's time-out.
func Hold(d time.Duration) CallOption {
	return func(_ *nats.Msg, timeout *time.Duration) { *timeout += d }
}

// Timeout sets the call's time-out instead of the client's.
func Timeout(d time.Duration) CallOption {
	return func(_ *nats.Msg, timeout *time.Duration) { *timeout = d }
}

// Reply is the session's answer to a call, as the HTTP API would write it.
type Reply struct {
	Route string
	// Data is the JSON body.
	Data []byte
	// Header holds the reply's headers (HeaderETag, HeaderNotModified, ...).
	Header nats.Header
	// HTTPStatus is the HTTP status the body goes out with: 200 for every API-level answer,
	// even a refusal (see events.HTTPStatus).
	HTTPStatus int
}

// Err is the reply's error: nil if its code is 0 (or it has none, as roster objects and
// lists), else an *Error.
func (r *Reply) Err() error {
	if st := r.status(); st != nil {
		return &Error{Route: r.Route, Status: st}
	}
	return nil
}

// status reads the reply's code: nil for a success.
func (r *Reply) status() *events.Status {
	if r.HTTPStatus != http.StatusOK {
		var st events.Status
		if json.Unmarshal(r.Data, &st) != nil || st.Code == events.CodeOK {
			return events.NewStatus(events.CodeInternal, "HTTP %d: %s", r.HTTPStatus, r.Data)
		}
		return &st
	}
	// Only an object can carry a code; a list (a roster, check_event's items) is a success.
	if b := bytes.TrimLeft(r.Data, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return nil
	}
	var head struct {
		Code   *int   `json:"code"`
		Status string `json:"status"`
	}
	if json.Unmarshal(r.Data, &head) != nil || head.Code == nil || *head.Code == events.CodeOK {
		return nil
	}
	return &events.Status{Code: *head.Code, Status: head.Status}
}

// Error is a call that failed: the session refused it, or no reply came. It unwraps to its
// Status, and to the cause of a missing reply.
type Error struct {
	Route  string
	Status *events.Status
	// Err is why no reply came (context.Canceled, nats.ErrNoResponders, ErrNotConnected, ...);
	// nil when the session answered.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("openqq %s: %s: %v", e.Route, e.Status.Status, e.Err)
	}
	return fmt.Sprintf("openqq %s: %v", e.Route, e.Status)
}

func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Status}
	}
	return []error{e.Status, e.Err}
}

// Temporary reports whether trying again later may succeed: no reply came, or the client was
// not running (a failed send, whose code is also -2, counts too).
func (e *Error) Temporary() bool {
	switch e.Status.Code {
	case events.CodeNotReady, events.CodeUnavailable, events.CodeTimeout:
		return true
	}
	return false
}

// Temporary reports whether err is an *Error worth trying again (see Error.Temporary); any
// other non-nil error is, too, since it is not the session's answer.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary()
	}
	return true
}

// Code is the API code of err: CodeOK for nil, the Status's code, or CodeInternal for an
// error that carries none.
func Code(err error) int {
	if err == nil {
		return events.CodeOK
	}
	var st *events.Status
	if errors.As(err, &st) {
		return st.Code
	}
	return events.CodeInternal
}

// ErrNotConnected is the cause of events.ErrUnavailable when the connection to NATS is down: a
// request then would only wait in the reconnect buffer until its time-out.
var ErrNotConnected = errors.New("NATS not connected")

// Request sends one call, its parameters already encoded (a JSON object, as events.Params
// encode), and returns the session's reply whatever its code. The error, an *Error, says that
// no reply came: events.ErrUnavailable or events.ErrTimeout.
func (c *Client) Request(ctx context.Context, route string, params []byte, opts ...CallOption) (*Reply, error) {
	return c.request(ctx, c.subj.API(route), route, params, opts...)
}

// request sends one call of route on subject (an account's API subject, or the Controller's).
func (c *Client) request(ctx context.Context, subject, route string, params []byte, opts ...CallOption) (*Reply, error) {
	msg := nats.NewMsg(subject)
	msg.Data = params
	timeout := c.timeout
	for _, o := range opts {
		o(msg, &timeout)
	}
	if !c.nc.IsConnected() {
		return nil, &Error{Route: route, Status: events.ErrUnavailable, Err: ErrNotConnected}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	m, err := c.nc.RequestMsgWithContext(ctx, msg)
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return nil, &Error{Route: route, Status: events.ErrTimeout, Err: err}
	case errors.Is(err, context.Canceled):
		// The caller gave up: to the HTTP API, a time-out.
		return nil, &Error{Route: route, Status: events.ErrTimeout, Err: err}
	default: // no responders, or NATS itself is away
		return nil, &Error{Route: route, Status: events.ErrUnavailable, Err: err}
	}
	rep := &Reply{Route: route, Data: m.Data, Header: m.Header, HTTPStatus: http.StatusOK}
	code := m.Header.Get(events.HeaderServiceErrorCode)
	if code == "" {
		return rep, nil
	}
	rep.HTTPStatus, err = strconv.Atoi(code)
	if err != nil || rep.HTTPStatus < 400 || rep.HTTPStatus > 599 {
		rep.HTTPStatus = http.StatusInternalServerError
	}
	if len(m.Data) == 0 && m.Header.Get(events.HeaderContentType) == "" {
		// An error without a body: not an openqq session's, but still a JSON answer. (A
		// route answering bytes says so with HeaderContentType: its empty refusal stays
		// empty, as Openwx's get_avatar answers 503 when the avatar is not ready.)
		rep.Data = events.MustMarshal(events.NewStatus(events.CodeInternal, "%s", m.Header.Get(events.HeaderServiceError)))
	}
	return rep, nil
}

// Call sends one call and returns the reply, with an *Error when no reply came or the
// session refused the call (then the reply is there too).
func (c *Client) Call(ctx context.Context, route string, params events.Params, opts ...CallOption) (*Reply, error) {
	if params == nil {
		params = events.Params{}
	}
	data, err := events.Marshal(params)
	if err != nil {
		return nil, &Error{Route: route, Status: events.ErrBadRequest("%v", err), Err: err}
	}
	rep, err := c.Request(ctx, route, data, opts...)
	if err != nil {
		return nil, err
	}
	return rep, rep.Err()
}

// Release ends a check_event ticket: delivered says whether its items reached whoever they
// were for; those that did not go back to the session's buffer for the next call.
func (c *Client) Release(ticket string, delivered bool) error {
	data := events.MustMarshal(events.CheckEventRelease{Ticket: ticket, Delivered: delivered})
	return c.nc.Publish(c.subj.CheckEventRelease(), data)
}
