package qq

import (
	"context"
	"encoding/json"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/engine"
)

func (q *Platform) handlers() map[string]engine.Handler {
	return map[string]engine.Handler{
		events.RouteGetUserInfo:        q.getUserInfo,
		events.RouteGetFriendInfo:      q.getFriendInfo,
		events.RouteGetGroupInfo:       q.getGroupInfo,
		events.RouteGetGroupBasicInfo:  q.getGroupBasicInfo,
		events.RouteGetDiscussInfo:     q.getDiscussInfo,
		events.RouteSearchFriend:       q.searchFriend,
		events.RouteSearchGroup:        q.searchGroup,
		events.RouteSendFriendMessage:  q.sendFriendMessage,
		events.RouteSendGroupMessage:   q.sendGroupMessage,
		events.RouteSendDiscussMessage: q.sendDiscussMessage,
		events.RouteSendSessMessage:    q.sendSessMessage,
		events.RouteShutupGroupMember:  q.shutupGroupMember,
		events.RouteKickGroupMember:    q.kickGroupMember,
		events.RouteGetClientInfo:      q.e.ClientInfo,
		events.RouteStopClient:         q.e.StopClient,
		events.RouteRelogin:            q.e.Relogin,
		// openqq's own, for drivers that declare Requests (ext.go)
		events.RouteAnswerFriendRequest: q.answerFriendRequest,
		events.RouteAnswerGroupRequest:  q.answerGroupRequest,
	}
}

// read runs f on the roster under the read lock; the roster is gone while logging in again.
func (q *Platform) read(f func() any) (any, error) {
	q.e.RLock()
	defer q.e.RUnlock()
	if q.ro == nil {
		return nil, events.ErrNotReady(q.e.State())
	}
	// Encode under the lock: the reply shares slices with the roster.
	b, err := events.Marshal(f())
	return json.RawMessage(b), err
}

func (q *Platform) getUserInfo(ctx context.Context, _ events.Params) (any, error) {
	return q.e.Cached(ctx, events.RouteGetUserInfo, func(int) ([]byte, error) { return events.Marshal(&q.ro.User) })
}

func (q *Platform) getFriendInfo(ctx context.Context, _ events.Params) (any, error) {
	return q.e.Cached(ctx, events.RouteGetFriendInfo, func(hint int) ([]byte, error) { return events.MarshalList(q.ro.Friends, hint) })
}

func (q *Platform) getGroupInfo(ctx context.Context, _ events.Params) (any, error) {
	return q.e.Cached(ctx, events.RouteGetGroupInfo, func(hint int) ([]byte, error) { return events.MarshalList(q.ro.Groups, hint) })
}

func (q *Platform) getGroupBasicInfo(ctx context.Context, _ events.Params) (any, error) {
	return q.e.Cached(ctx, events.RouteGetGroupBasicInfo, func(hint int) ([]byte, error) { return events.MarshalList(q.ro.BasicGroups(), hint) })
}

func (q *Platform) getDiscussInfo(ctx context.Context, _ events.Params) (any, error) {
	return q.e.Cached(ctx, events.RouteGetDiscussInfo, func(hint int) ([]byte, error) { return events.MarshalList(q.ro.Discusses, hint) })
}

func (q *Platform) searchFriend(_ context.Context, p events.Params) (any, error) {
	return q.found(func() any {
		if r := q.ro.SearchFriends(p); len(r) > 0 {
			return r
		}
		return nil
	})
}

func (q *Platform) searchGroup(_ context.Context, p events.Params) (any, error) {
	return q.found(func() any {
		if r := q.ro.SearchGroups(p); len(r) > 0 {
			return r
		}
		return nil
	})
}

// found is read for searches: nothing found is "object not found".
func (q *Platform) found(f func() any) (any, error) {
	var none bool
	b, err := q.read(func() any {
		r := f()
		none = r == nil
		return r
	})
	if err == nil && none {
		return nil, events.ErrObjNotFound
	}
	return b, err
}
