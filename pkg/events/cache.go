package events

// A get_*_info reply grows with the roster (26 MB for 100,000 group members) and changes only
// when the roster does, so the gateway keeps the last one and asks the session whether it is
// still current instead of fetching it again, as HTTP does with ETag and If-None-Match: the
// session names each version of such a reply with HeaderETag, and answers a request whose
// HeaderIfNoneMatch names the current version with HeaderNotModified and no body.
const (
	HeaderETag        = "Openqq-Etag"
	HeaderIfNoneMatch = "Openqq-If-None-Match"
	HeaderNotModified = "Openqq-Not-Modified"
)

// Cacheable reports whether a route's reply depends on the roster alone, not on the call's
// parameters, so that one version of it serves every caller.
func Cacheable(route string) bool {
	switch route {
	case RouteGetUserInfo, RouteGetFriendInfo, RouteGetGroupInfo, RouteGetGroupBasicInfo, RouteGetDiscussInfo:
		return true
	}
	return false
}
