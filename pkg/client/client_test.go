package client_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// Each typed call asks its own route with the parameters the HTTP API takes, and decodes the
// reply into the contract's type.
func TestTypedCalls(t *testing.T) {
	nc := connect(t, startNATS(t))
	ts := startSession(t, nc, "acct1")
	qq := client.New(nc, client.WithPrefix("acct1"))
	ctx := ctxOf(t)
	sent := int64(1795459194540835)
	sendOK := string(events.MustMarshal(&events.SendReply{ID: &sent, Info: events.SendOKInfo, Status: events.SendOK}))
	tests := []struct {
		route  string
		reply  string
		call   func() (any, error)
		params events.Params
		want   any
	}{
		{events.RouteGetUserInfo, `{"account":"me","id":1,"name":"小灰"}`,
			func() (any, error) { return qq.GetUserInfo(ctx) }, events.Params{},
			&events.User{Account: "me", ID: 1, Name: "小灰"}},
		{events.RouteGetFriendInfo, `[{"id":2,"name":"老王"}]`,
			func() (any, error) { return qq.GetFriendInfo(ctx) }, events.Params{},
			[]events.Friend{{ID: 2, Name: "老王"}}},
		{events.RouteGetGroupInfo, `[{"id":3,"member":[{"id":2}],"name":"PERL"}]`,
			func() (any, error) { return qq.GetGroupInfo(ctx) }, events.Params{},
			[]events.Group{{ID: 3, Name: "PERL", Member: []events.GroupMember{{ID: 2}}}}},
		{events.RouteGetGroupBasicInfo, `[{"id":3,"name":"PERL"}]`,
			func() (any, error) { return qq.GetGroupBasicInfo(ctx) }, events.Params{},
			[]events.Group{{ID: 3, Name: "PERL"}}},
		{events.RouteGetDiscussInfo, `[{"id":4,"member":[],"name":"d"}]`,
			func() (any, error) { return qq.GetDiscussInfo(ctx) }, events.Params{},
			[]events.Discuss{{ID: 4, Name: "d", Member: []events.DiscussMember{}}}},
		{events.RouteSearchFriend, `[{"id":2,"name":"老王"}]`,
			func() (any, error) { return qq.SearchFriend(ctx, events.Params{"name": "老王"}) }, events.Params{"name": "老王"},
			[]events.Friend{{ID: 2, Name: "老王"}}},
		{events.RouteSearchGroup, `[{"id":3,"name":"PERL"}]`,
			func() (any, error) { return qq.SearchGroup(ctx, events.Params{"uid": "67890"}) }, events.Params{"uid": "67890"},
			[]events.Group{{ID: 3, Name: "PERL"}}},
		{events.RouteSendFriendMessage, sendOK,
			func() (any, error) { return qq.SendFriendMessage(ctx, 2, "你好") }, events.Params{"id": "2", "content": "你好"},
			&events.SendReply{ID: &sent, Info: events.SendOKInfo, Status: events.SendOK}},
		{events.RouteSendGroupMessage, sendOK,
			func() (any, error) { return qq.SendGroupMessage(ctx, 3, "hi & <b>") }, events.Params{"id": "3", "content": "hi & <b>"},
			&events.SendReply{ID: &sent, Info: events.SendOKInfo, Status: events.SendOK}},
		{events.RouteSendDiscussMessage, sendOK,
			func() (any, error) { return qq.SendDiscussMessage(ctx, 4, "x") }, events.Params{"id": "4", "content": "x"},
			&events.SendReply{ID: &sent, Info: events.SendOKInfo, Status: events.SendOK}},
		{events.RouteSendSessMessage, sendOK,
			func() (any, error) { return qq.SendSessMessage(ctx, client.Sess{MemberID: 5, GroupID: 3}, "x") },
			events.Params{"id": "5", "group_id": "3", "content": "x"},
			&events.SendReply{ID: &sent, Info: events.SendOKInfo, Status: events.SendOK}},
		{events.RouteShutupGroupMember, `{"code":0,"status":"success"}`,
			func() (any, error) { return nil, qq.ShutupGroupMember(ctx, 3, 2*time.Minute, 5, 6) },
			events.Params{"group_id": "3", "member_id": "5,6", "seconds": "120"}, nil},
		{events.RouteKickGroupMember, `{"code":0,"status":"success"}`,
			func() (any, error) { return nil, qq.KickGroupMember(ctx, 3, 5) },
			events.Params{"group_id": "3", "member_id": "5"}, nil},
		{events.RouteGetClientInfo, `{"account":"me","code":0,"state":"running","status":"success"}`,
			func() (any, error) { return qq.GetClientInfo(ctx) }, events.Params{},
			&events.ClientInfo{Account: "me", State: events.StateRunning, Status: "success"}},
		{events.RouteStopClient, `{"account":"me","code":0,"pid":7,"status":"success"}`,
			func() (any, error) { return qq.StopClient(ctx) }, events.Params{},
			&events.StopReply{Account: "me", PID: 7, Status: "success"}},
		{events.RouteRelogin, `{"account":"me","code":0,"status":"success"}`,
			func() (any, error) { return qq.Relogin(ctx) }, events.Params{},
			&events.ReloginReply{Account: "me", Status: "success"}},
		{events.RouteAnswerFriendRequest, `{"code":0,"status":"success"}`,
			func() (any, error) { return nil, qq.AnswerFriendRequest(ctx, "f1", true, "同学") },
			events.Params{"flag": "f1", "approve": "1", "remark": "同学"}, nil},
		{events.RouteAnswerGroupRequest, `{"code":0,"status":"success"}`,
			func() (any, error) { return nil, qq.AnswerGroupRequest(ctx, "g1", false, "no") },
			events.Params{"flag": "g1", "approve": "0", "reason": "no"}, nil},
	}
	called := map[string]bool{events.RouteCheckEvent: true} // TestCheckEvent
	for _, tc := range tests {
		t.Run(tc.route, func(t *testing.T) {
			ts.set(tc.route, answer{body: tc.reply})
			got, err := tc.call()
			if err != nil {
				t.Fatal(err)
			}
			req := ts.last(t)
			if req.route != tc.route || !reflect.DeepEqual(req.params, tc.params) {
				t.Errorf("asked %s %v, want %s %v", req.route, req.params, tc.route, tc.params)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			called[tc.route] = true
		})
	}
	for _, r := range events.Routes {
		if !called[r] {
			t.Errorf("route %s has no typed call tested", r)
		}
	}
}

// Every failure is the contract's *events.Status, whatever went wrong.
func TestErrors(t *testing.T) {
	srv := startNATS(t)
	nc := connect(t, srv)
	ts := startSession(t, nc, "")
	qq := client.New(nc, client.WithTimeout(2*time.Second))
	ctx := ctxOf(t)

	t.Run("refused with HTTP 200", func(t *testing.T) {
		ts.set(events.RouteSearchFriend, answer{body: string(events.MustMarshal(events.ErrObjNotFound))})
		_, err := qq.SearchFriend(ctx, events.Params{"name": "nobody"})
		wantCode(t, err, events.CodeNotFound, "object not found")
		if client.Temporary(err) {
			t.Error("a refusal is not temporary")
		}
	})
	t.Run("send refused: the reply comes with the error", func(t *testing.T) {
		ts.set(events.RouteSendGroupMessage, answer{body: string(events.MustMarshal(events.ErrGroupNotFound))})
		rep, err := qq.SendGroupMessage(ctx, 1, "x")
		wantCode(t, err, events.CodeGroupMissing, "group not found")
		if rep == nil || rep.Code != events.CodeGroupMissing || rep.ID != nil {
			t.Errorf("reply %+v, want the group-not-found reply", rep)
		}
	})
	t.Run("not ready is temporary", func(t *testing.T) {
		ts.set(events.RouteGetUserInfo, answer{body: string(events.MustMarshal(events.ErrNotReady(events.StateLoading)))})
		_, err := qq.GetUserInfo(ctx)
		wantCode(t, err, events.CodeNotReady, "client not ready: loading")
		if !client.Temporary(err) {
			t.Error("not ready should be temporary")
		}
	})
	t.Run("micro error with a body", func(t *testing.T) {
		ts.set(events.RouteRelogin, answer{httpStatus: 500, code: events.CodeInternal, body: string(events.MustMarshal(events.ErrInternal))})
		rep, err := qq.Call(ctx, events.RouteRelogin, nil)
		wantCode(t, err, events.CodeInternal, "internal error")
		if rep == nil || rep.HTTPStatus != http.StatusInternalServerError {
			t.Errorf("reply %+v, want HTTP 500", rep)
		}
	})
	t.Run("micro error without a body", func(t *testing.T) {
		ts.set(events.RouteStopClient, answer{httpStatus: 503, code: 7})
		rep, err := qq.Request(ctx, events.RouteStopClient, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if rep.HTTPStatus != 503 || string(rep.Data) != `{"code":-9,"status":"7"}` {
			t.Errorf("reply %d %s, want 503 and a JSON status", rep.HTTPStatus, rep.Data)
		}
		wantCode(t, rep.Err(), events.CodeInternal, "7")
	})
	t.Run("time-out", func(t *testing.T) {
		ts.set(events.RouteGetFriendInfo, answer{hang: true})
		_, err := qq.Call(ctx, events.RouteGetFriendInfo, nil, client.Timeout(50*time.Millisecond))
		if !errors.Is(err, events.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want ErrTimeout from the deadline", err)
		}
		wantCode(t, err, events.CodeTimeout, "session timeout")
		if !client.Temporary(err) {
			t.Error("a time-out should be temporary")
		}
	})
	t.Run("caller gone", func(t *testing.T) {
		ts.set(events.RouteGetDiscussInfo, answer{hang: true})
		cctx, cancel := context.WithCancel(ctx)
		go func() { cancel() }()
		_, err := qq.GetDiscussInfo(cctx)
		if !errors.Is(err, events.ErrTimeout) || !errors.Is(err, context.Canceled) {
			t.Errorf("err %v, want ErrTimeout and context.Canceled", err)
		}
	})
	t.Run("no session", func(t *testing.T) {
		other := client.New(nc, client.WithPrefix("nobody"))
		_, err := other.GetUserInfo(ctx)
		if !errors.Is(err, events.ErrUnavailable) || !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("err %v, want ErrUnavailable from no responders", err)
		}
		wantCode(t, err, events.CodeUnavailable, "session unavailable")
	})
	t.Run("not connected", func(t *testing.T) {
		nc2 := connect(t, srv)
		nc2.Close()
		_, err := client.New(nc2).GetUserInfo(ctx)
		if !errors.Is(err, events.ErrUnavailable) || !errors.Is(err, client.ErrNotConnected) {
			t.Errorf("err %v, want ErrUnavailable, not connected", err)
		}
	})
}

func wantCode(t *testing.T, err error, code int, status string) {
	t.Helper()
	var st *events.Status
	if !errors.As(err, &st) {
		t.Fatalf("err %v (%T) is not an *events.Status", err, err)
	}
	if st.Code != code || st.Status != status {
		t.Errorf("status %d %q, want %d %q", st.Code, st.Status, code, status)
	}
	if client.Code(err) != code {
		t.Errorf("Code(err) = %d, want %d", client.Code(err), code)
	}
}

// The headers a call can carry reach the session; the reply's come back.
func TestCallOptions(t *testing.T) {
	nc := connect(t, startNATS(t))
	ts := startSession(t, nc, "")
	qq := client.New(nc)
	ctx := ctxOf(t)

	if _, err := qq.SendFriendMessage(ctx, 1, "x", client.AsReply()); err != nil {
		t.Fatal(err)
	}
	if got := ts.last(t).header.Get(events.HeaderFrom); got != events.FromReply {
		t.Errorf("%s %q, want %q", events.HeaderFrom, got, events.FromReply)
	}

	ts.set(events.RouteGetGroupInfo, answer{body: "", header: micro.Headers{events.HeaderNotModified: {"1"}, events.HeaderETag: {"v7"}}})
	rep, err := qq.Request(ctx, events.RouteGetGroupInfo, []byte(`{}`), client.IfNoneMatch("v7"))
	if err != nil {
		t.Fatal(err)
	}
	if got := ts.last(t).header.Get(events.HeaderIfNoneMatch); got != "v7" {
		t.Errorf("%s %q, want v7", events.HeaderIfNoneMatch, got)
	}
	if rep.Header.Get(events.HeaderNotModified) == "" || rep.Header.Get(events.HeaderETag) != "v7" || rep.Err() != nil {
		t.Errorf("reply %+v, want not-modified v7", rep)
	}
	if _, err := qq.Request(ctx, events.RouteGetGroupInfo, []byte(`{}`), client.IfNoneMatch("")); err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.last(t).header[events.HeaderIfNoneMatch]; ok {
		t.Error("an empty etag was sent")
	}
}

// check_event over NATS holds the items under a ticket and releases it once they arrived.
func TestCheckEvent(t *testing.T) {
	nc := connect(t, startNATS(t))
	ts := startSession(t, nc, "")
	qq := client.New(nc)
	items := []events.Item{groupMessage(9, "hello")}
	ev, err := events.NewEvent(events.EventNewFriend, events.Friend{ID: 2, Name: "老王"})
	if err != nil {
		t.Fatal(err)
	}
	items = append(items, ev)
	ts.set(events.RouteCheckEvent, answer{body: string(events.MustMarshal(items))})
	got, err := qq.CheckEvent(ctxOf(t), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Message == nil || got[0].Message.Content != "hello" || got[1].Event == nil || got[1].Name != events.EventNewFriend {
		t.Fatalf("items %+v", got)
	}
	h := ts.last(t).header
	if h.Get(events.HeaderTicket) == "" || h.Get(events.HeaderHold) != "5s" {
		t.Errorf("headers %v, want a ticket held 5s", h)
	}
	r := <-ts.release
	if r.Ticket != h.Get(events.HeaderTicket) || !r.Delivered {
		t.Errorf("release %+v, want ticket %s delivered", r, h.Get(events.HeaderTicket))
	}
}

// The session's error headers are the micro package's.
func TestServiceErrorHeaders(t *testing.T) {
	if events.HeaderServiceError != micro.ErrorHeader || events.HeaderServiceErrorCode != micro.ErrorCodeHeader {
		t.Errorf("events says %s/%s, micro %s/%s", events.HeaderServiceError, events.HeaderServiceErrorCode, micro.ErrorHeader, micro.ErrorCodeHeader)
	}
}
