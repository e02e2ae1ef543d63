package wx

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
)

// unsupportedDriver is the simulated account whose WeChat can do nothing but log in and
// receive (driver "unsupported"), as an iLink account for groups, revoke and avatars.
type unsupportedDriver struct{ *sim.Sim }

var errNo = wxdriver.ErrUnsupported

func (unsupportedDriver) Send(context.Context, wxdriver.Outgoing) (string, error) { return "", errNo }
func (unsupportedDriver) Revoke(context.Context, string, string) error            { return errNo }
func (unsupportedDriver) CreateGroup(context.Context, string, []string) (string, error) {
	return "", errNo
}
func (unsupportedDriver) Invite(context.Context, string, []string) error     { return errNo }
func (unsupportedDriver) Kick(context.Context, string, []string) error       { return errNo }
func (unsupportedDriver) SetGroupName(context.Context, string, string) error { return errNo }
func (unsupportedDriver) Stick(context.Context, string, bool) error          { return errNo }
func (unsupportedDriver) SetMarkname(context.Context, string, string, string) error {
	return errNo
}
func (unsupportedDriver) MakeFriend(context.Context, string, string) error { return errNo }
func (unsupportedDriver) AcceptFriendRequest(context.Context, wx.FriendRequest) error {
	return errNo
}
func (unsupportedDriver) Avatar(context.Context, string, string) (string, []byte, error) {
	return "", nil, errNo
}

func init() {
	wxdriver.Register("unsupported", "WX_UNSUPPORTED", func(cfg sim.Config, p wxdriver.Params) (wxdriver.Driver, error) {
		s, err := sim.New(cfg, p)
		return unsupportedDriver{s}, err
	})
}

// Every route that calls the driver answers its wxdriver.ErrUnsupported with code 202 naming
// the driver, not with the ordinary failure (201) nor, for get_avatar, a 503.
func TestUnsupportedByTheDriver(t *testing.T) {
	v := start(t, func(c *Config, _ *sim.Config) { c.Driver = "unsupported" })
	wang := v.friend("老王")
	perl := v.group("PERL学习交流")
	var stranger string // a member of perl who is not a friend
	ro := v.ro()
	for _, m := range perl.Member {
		if m.ID != ro.User.ID && ro.Friend(m.ID) == nil {
			stranger = m.ID
			break
		}
	}
	if stranger == "" {
		t.Fatal("no member of PERL学习交流 is a stranger")
	}
	const status = "not supported by this account's driver (unsupported)"
	for _, c := range []struct {
		route string
		p     events.Params
	}{
		{wx.RouteSendFriendMessage, events.Params{"id": wang.ID, "content": "你好"}},
		{wx.RouteSendGroupMessage, events.Params{"id": perl.ID, "content": "大家好"}},
		{wx.RouteConsult, events.Params{"id": wang.ID, "content": "在吗", "timeout": "1"}},
		{wx.RouteRevokeMessage, events.Params{"id": "123:" + wang.ID}},
		{wx.RouteCreateGroup, events.Params{"friends": wang.ID, "displayname": "新群"}},
		{wx.RouteInviteFriend, events.Params{"id": perl.ID, "friends": wang.ID}},
		{wx.RouteKickGroupMember, events.Params{"id": perl.ID, "members": stranger}},
		{wx.RouteSetGroupDisplayname, events.Params{"id": perl.ID, "new_displayname": "x"}},
		{wx.RouteStick, events.Params{"id": wang.ID}},
		{wx.RouteStickyGroup, events.Params{"id": perl.ID, "op": "0"}},
		{wx.RouteSetMarkname, events.Params{"id": wang.ID, "new_markname": "王哥"}},
		{wx.RouteSetMarkname, events.Params{"id": stranger, "group_id": perl.ID, "new_markname": "x"}},
		{wx.RouteSetFriendMarkname, events.Params{"id": wang.ID, "new_markname": "王哥"}},
		{wx.RouteMakeFriend, events.Params{"id": stranger, "verify": "hi"}},
		{wx.RouteAcceptFriendRequest, events.Params{"id": "@s", "displayname": "陌生人", "ticket": "t"}},
		{wx.RouteGetAvatar, events.Params{"id": wang.ID}},
	} {
		t.Run(c.route, func(t *testing.T) {
			r := v.raw(c.route, c.p)
			if h := r.Header.Get(events.HeaderServiceErrorCode); h != "" {
				t.Errorf("%s %v: service error %q, want a reply", c.route, c.p, h)
			}
			var out map[string]any
			if err := json.Unmarshal(r.Data, &out); err != nil {
				t.Fatalf("%s %v: reply %q: %v", c.route, c.p, r.Data, err)
			}
			want(t, c.route, out, wx.CodeUnsupported, status)
		})
	}
	// Bad input is still checked first: the driver is not asked.
	want(t, "unknown friend", v.call(wx.RouteStick, events.Params{"id": "@nobody"}), events.CodeNotFound, "object not found")
}
