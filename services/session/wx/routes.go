package wx

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Handlers is the route table: every route of wx.Routes but check_event (the engine's).
func (w *Platform) Handlers() map[string]engine.Handler {
	return map[string]engine.Handler{
		wx.RouteGetUserInfo:         w.getUserInfo,
		wx.RouteGetFriendInfo:       w.getFriendInfo,
		wx.RouteGetGroupInfo:        w.getGroupInfo,
		wx.RouteGetGroupBasicInfo:   w.getGroupBasicInfo,
		wx.RouteSearchFriend:        w.searchFriend,
		wx.RouteSearchGroup:         w.searchGroup,
		wx.RouteRevokeMessage:       w.revokeMessage,
		wx.RouteSendFriendMessage:   w.sendFriendMessage,
		wx.RouteSendGroupMessage:    w.sendGroupMessage,
		wx.RouteConsult:             w.consult,
		wx.RouteCreateGroup:         w.createGroup,
		wx.RouteInviteFriend:        w.inviteFriend,
		wx.RouteKickGroupMember:     w.kickGroupMember,
		wx.RouteSetGroupDisplayname: w.setGroupDisplayname,
		wx.RouteStick:               w.stick,
		wx.RouteStickyGroup:         w.stick, // the seed's name of stick
		wx.RouteSetMarkname:         w.setMarkname,
		wx.RouteSetFriendMarkname:   w.setFriendMarkname,
		wx.RouteMakeFriend:          w.makeFriend,
		wx.RouteGetAvatar:           w.getAvatar,
		wx.RouteAcceptFriendRequest: w.acceptFriendRequest,
		wx.RouteGetClientInfo:       w.getClientInfo,
		wx.RouteStopClient:          w.e.StopClient,
		wx.RouteUploadMedia:         w.uploadMedia,
	}
}

// The get_*_info routes are cached by the engine: a roster that did not change costs the
// gateway a few bytes.

func (w *Platform) getUserInfo(ctx context.Context, _ events.Params) (any, error) {
	return w.e.Cached(ctx, wx.RouteGetUserInfo, func(int) ([]byte, error) { return events.Marshal(w.ro.User) })
}

func (w *Platform) getFriendInfo(ctx context.Context, _ events.Params) (any, error) {
	return w.e.Cached(ctx, wx.RouteGetFriendInfo, func(hint int) ([]byte, error) { return events.MarshalList(w.ro.Friends, hint) })
}

func (w *Platform) getGroupInfo(ctx context.Context, _ events.Params) (any, error) {
	return w.e.Cached(ctx, wx.RouteGetGroupInfo, func(hint int) ([]byte, error) {
		return events.MarshalList(withMemberLists(w.ro.Groups), hint)
	})
}

func (w *Platform) getGroupBasicInfo(ctx context.Context, _ events.Params) (any, error) {
	return w.e.Cached(ctx, wx.RouteGetGroupBasicInfo, func(hint int) ([]byte, error) { return events.MarshalList(w.ro.BasicGroups(), hint) })
}

// withMemberLists gives every group of get_group_info its member key, [] when it has no
// members (wx.Group omits a nil list, get_group_basic_info's shape).
func withMemberLists(gs []wx.Group) []wx.Group {
	for _, g := range gs {
		if g.Member == nil {
			out := make([]wx.Group, len(gs))
			for i, g := range gs {
				if g.Member == nil {
					g.Member = []wx.Member{}
				}
				out[i] = g
			}
			return out
		}
	}
	return gs
}

// searchFriend is search_friend: every friend whose attributes equal all the params given;
// none is 100 "object not found".
func (w *Platform) searchFriend(_ context.Context, p events.Params) (any, error) {
	return w.search(p, func(ro *wxroster.Roster) (any, int) {
		r := ro.SearchFriends(p)
		return r, len(r)
	})
}

// searchGroup is search_group, with each group's members, as Mojo.
func (w *Platform) searchGroup(_ context.Context, p events.Params) (any, error) {
	return w.search(p, func(ro *wxroster.Roster) (any, int) {
		r := withMemberLists(ro.SearchGroups(p))
		return r, len(r)
	})
}

// search encodes what find finds under the read lock (it shares slices with the roster).
// A search by nothing finds nothing, as Mojo's _search (`return if 0 == grep {defined ...}`).
func (w *Platform) search(p events.Params, find func(*wxroster.Roster) (any, int)) (any, error) {
	if !searchable(p) {
		return nil, events.ErrObjNotFound
	}
	var body json.RawMessage
	err := w.roster(func(ro *wxroster.Roster) error {
		r, n := find(ro)
		if n == 0 {
			return events.ErrObjNotFound
		}
		b, err := events.Marshal(r)
		body = b
		return err
	})
	return body, err
}

// searchable reports whether a search names any attribute: client and the transport's params
// are not attributes.
func searchable(p events.Params) bool {
	for k := range p {
		if k != "client" && !events.ReservedParams[k] {
			return true
		}
	}
	return false
}

// clientInfo is get_client_info's reply in Openwx's shape (http_debug "0", log_encoding null),
// plus openqq's state.
type clientInfo struct {
	wx.ClientInfo
	State events.State `json:"state"`
}

// getClientInfo is the engine's get_client_info, in Openwx's shape.
func (w *Platform) getClientInfo(ctx context.Context, p events.Params) (any, error) {
	r, err := w.e.ClientInfo(ctx, p)
	if err != nil {
		return nil, err
	}
	ci, ok := r.(*events.ClientInfo)
	if !ok {
		return nil, fmt.Errorf("get_client_info: the engine answered a %T", r)
	}
	return &clientInfo{
		ClientInfo: wx.ClientInfo{
			Account: ci.Account, Code: ci.Code, HTTPDebug: "0", LogEncoding: ci.LogEncoding,
			LogLevel: ci.LogLevel, LogPath: ci.LogPath, OS: ci.OS, PID: ci.PID, Runtime: ci.Runtime,
			Starttime: ci.Starttime, Status: ci.Status, Version: ci.Version,
		},
		State: ci.State,
	}, nil
}

// handlerNames lists the routes Handlers serves (tests).
func (w *Platform) handlerNames() map[string]bool {
	names := map[string]bool{}
	for r := range w.Handlers() {
		names[r] = true
	}
	return names
}
