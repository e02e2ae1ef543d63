package events

// APIPathPrefix starts the HTTP path of every route: /openqq/<route>.
const APIPathPrefix = "/openqq/"

// APIPath is the HTTP path of a route.
func APIPath(route string) string { return APIPathPrefix + route }

// The /openqq/<route> routes; each is served on the subject qq.api.<route>.
const (
	RouteGetUserInfo        = "get_user_info"
	RouteGetFriendInfo      = "get_friend_info"
	RouteGetGroupInfo       = "get_group_info"
	RouteGetGroupBasicInfo  = "get_group_basic_info"
	RouteGetDiscussInfo     = "get_discuss_info"
	RouteSearchFriend       = "search_friend"
	RouteSearchGroup        = "search_group"
	RouteSendFriendMessage  = "send_friend_message"
	RouteSendGroupMessage   = "send_group_message"
	RouteSendDiscussMessage = "send_discuss_message"
	RouteSendSessMessage    = "send_sess_message"
	RouteShutupGroupMember  = "shutup_group_member"
	RouteKickGroupMember    = "kick_group_member"
	RouteGetClientInfo      = "get_client_info"
	RouteStopClient         = "stop_client"
	RouteRelogin            = "relogin"
	RouteCheckEvent         = "check_event"
	// openqq's extension routes: answers to friend_request and group_request events.
	RouteAnswerFriendRequest = "answer_friend_request"
	RouteAnswerGroupRequest  = "answer_group_request"
)

// Routes lists every route of the API, in the order of the seeds' table, then openqq's own.
var Routes = []string{
	RouteGetUserInfo, RouteGetFriendInfo, RouteGetGroupInfo, RouteGetGroupBasicInfo,
	RouteGetDiscussInfo, RouteSearchFriend, RouteSearchGroup, RouteShutupGroupMember,
	RouteKickGroupMember, RouteSendFriendMessage, RouteSendGroupMessage,
	RouteSendDiscussMessage, RouteSendSessMessage, RouteCheckEvent, RouteGetClientInfo,
	RouteStopClient, RouteRelogin, RouteAnswerFriendRequest, RouteAnswerGroupRequest,
}

var routeSet = func() map[string]bool {
	m := make(map[string]bool, len(Routes))
	for _, r := range Routes {
		m[r] = true
	}
	return m
}()

// IsRoute reports whether name is a route of the API.
func IsRoute(name string) bool { return routeSet[name] }

// AnswersBeforeRunning reports whether a route answers in every client state; the others
// refuse with CodeNotReady until the client is running.
func AnswersBeforeRunning(route string) bool {
	return route == RouteGetClientInfo || route == RouteStopClient || route == RouteCheckEvent
}

// check_event's long poll, between the gateway and the session: the gateway names each call
// with a ticket and says how long it will wait; once it has written the items to its caller
// (or found the caller gone) it releases the ticket on CheckEventRelease, so that items handed
// to a caller who hung up go back to the buffer.
const (
	HeaderTicket = "Openqq-Ticket"
	HeaderHold   = "Openqq-Hold"
)

// The micro endpoint that takes check_event releases, and its subject under the API group
// (Subjects.CheckEventRelease).
const (
	EndpointCheckEventRelease = "check_event_release"
	CheckEventReleaseSubject  = RouteCheckEvent + ".release"
)

// CheckEventRelease is the body of a release on Subjects.CheckEventRelease.
type CheckEventRelease struct {
	Ticket    string `json:"ticket"`
	Delivered bool   `json:"delivered"`
}

// ReservedParams are parameters that belong to the transport (JSONP, auth, the Controller's
// client name, jQuery's cache buster), never to a route: search_* does not read them as filters.
var ReservedParams = map[string]bool{
	"client": true, "datatype": true, "callback": true, "access_token": true, "_": true,
}
