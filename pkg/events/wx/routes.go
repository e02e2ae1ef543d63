// Package wx is the WeChat platform's part of the wire contract: Mojo-Weixin's Openwx routes,
// its object model and its report shapes. What both platforms share (subjects, states, events,
// statuses, params) stays in package events.
package wx

// Prefix is the WeChat platform's subject prefix: wx.api.<route>, wx.events.<name>, stream
// WX_EVENTS.
const Prefix = "wx"

// ServiceName is the NATS micro service that answers the Openwx API: `nats micro info openwx`.
const ServiceName = "openwx"

// APIPathPrefix starts the HTTP path of every Openwx route: /openwx/<route>.
const APIPathPrefix = "/openwx/"

// APIPath is the HTTP path of a route.
func APIPath(route string) string { return APIPathPrefix + route }

// The /openwx/<route> routes (MOJO-OPENWX.md §2.2, Mojo-Weixin's Openwx.pm at HEAD); each is
// served on the subject wx.api.<route>.
const (
	RouteGetUserInfo         = "get_user_info"
	RouteGetFriendInfo       = "get_friend_info"
	RouteGetGroupInfo        = "get_group_info"
	RouteGetGroupBasicInfo   = "get_group_basic_info"
	RouteCheckEvent          = "check_event"
	RouteSearchFriend        = "search_friend"
	RouteSearchGroup         = "search_group"
	RouteRevokeMessage       = "revoke_message"
	RouteSendFriendMessage   = "send_friend_message"
	RouteSendGroupMessage    = "send_group_message"
	RouteConsult             = "consult"
	RouteCreateGroup         = "create_group"
	RouteInviteFriend        = "invite_friend"
	RouteKickGroupMember     = "kick_group_member"
	RouteSetGroupDisplayname = "set_group_displayname"
	RouteStick               = "stick"
	RouteStickyGroup         = "sticky_group" // the seed's name of stick, before 2016-11-17
	RouteSetMarkname         = "set_markname"
	RouteSetFriendMarkname   = "set_friend_markname"
	RouteMakeFriend          = "make_friend"
	RouteGetAvatar           = "get_avatar"
	RouteAcceptFriendRequest = "accept_friend_request"
	RouteGetClientInfo       = "get_client_info"
	RouteStopClient          = "stop_client"
	RouteUploadMedia         = "upload_media"
)

// Routes lists every Openwx route.
var Routes = []string{
	RouteGetUserInfo, RouteGetFriendInfo, RouteGetGroupInfo, RouteGetGroupBasicInfo,
	RouteCheckEvent, RouteSearchFriend, RouteSearchGroup, RouteRevokeMessage,
	RouteSendFriendMessage, RouteSendGroupMessage, RouteConsult, RouteCreateGroup,
	RouteInviteFriend, RouteKickGroupMember, RouteSetGroupDisplayname, RouteStick,
	RouteStickyGroup, RouteSetMarkname, RouteSetFriendMarkname, RouteMakeFriend,
	RouteGetAvatar, RouteAcceptFriendRequest, RouteGetClientInfo, RouteStopClient,
	RouteUploadMedia,
}

var routeSet = func() map[string]bool {
	m := make(map[string]bool, len(Routes))
	for _, r := range Routes {
		m[r] = true
	}
	return m
}()

// IsRoute reports whether name is an Openwx route.
func IsRoute(name string) bool { return routeSet[name] }

// GetOnly reports whether a route answers GET only: Openwx.pm declares the four get_*_info
// routes `get`, so a POST to them falls into the catch-all (403 "api not found").
func GetOnly(route string) bool {
	switch route {
	case RouteGetUserInfo, RouteGetFriendInfo, RouteGetGroupInfo, RouteGetGroupBasicInfo:
		return true
	}
	return false
}

// AnswersBeforeRunning reports whether a route answers in every client state.
func AnswersBeforeRunning(route string) bool {
	return route == RouteGetClientInfo || route == RouteStopClient || route == RouteCheckEvent
}
