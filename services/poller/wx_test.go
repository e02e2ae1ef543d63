package poller_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/poller"
)

// A poller started with SUBJECT_PREFIX=wx follows a 302 into /openwx/<route>: the call goes to
// wx.api.<route> (a real micro service stands in for the wx session), with the Location's
// query as parameters and WeChat's string ids intact; the Location's host is never contacted.
func TestWXRedirectBecomesOpenwxCall(t *testing.T) {
	other, hits := trap(t)
	ps := newPollServer(t,
		other.URL+"/openqq/send_friend_message?id=1&content=qq", // QQ's path: refused on wx
		other.URL+"/openwx/send_friend_message?id=%40f0a1&content=%E8%BD%AE%E8%AF%A2")
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)
	calls := make(chan events.Params, 4)
	svc, err := micro.AddService(nc, micro.Config{Name: wx.ServiceName, Version: "0.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	g := svc.AddGroup(events.Subjects{Prefix: wx.Prefix}.APIGroup())
	// Openwx's get_client_info, with its string http_debug, and openqq's state.
	err = g.AddEndpoint(wx.RouteGetClientInfo, micro.HandlerFunc(func(req micro.Request) {
		_ = req.RespondJSON(map[string]any{"code": 0, "account": "default", "http_debug": "0", "os": "linux",
			"version": "1.4.6", "status": "success", "state": events.StateRunning})
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = g.AddEndpoint(wx.RouteSendFriendMessage, micro.HandlerFunc(func(req micro.Request) {
		var p events.Params
		_ = json.Unmarshal(req.Data(), &p)
		calls <- p
		_ = req.RespondJSON(map[string]any{"id": "1234:" + p["id"], "code": 0, "status": "success"})
	}))
	if err != nil {
		t.Fatal(err)
	}

	p, err := poller.New(natstest.Connect(t, srv), poller.Config{
		SubjectPrefix: "wx", PollAPI: ps.URL + "/poll", PollInterval: 20 * time.Millisecond,
		PollTimeout: 2 * time.Second, PollReport: true,
	}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = p.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	select {
	case got := <-calls:
		if got["id"] != "@f0a1" || got["content"] != "轮询" || len(got) != 2 {
			t.Fatalf("wx.api.send_friend_message got %v", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the /openwx/ redirect was not carried out")
	}
	select {
	case got := <-calls:
		t.Fatalf("a second send: %v (the /openqq/ Location must be refused)", got)
	default:
	}
	if n := hits(); n != 0 {
		t.Errorf("the Location's host was contacted %d times", n)
	}
	waitFor(t, "poll report", func() bool {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		return len(ps.reports) > 0
	})
	ps.mu.Lock()
	r := ps.reports[0]
	ps.mu.Unlock()
	if r.route != wx.RouteSendFriendMessage || r.body == "" {
		t.Errorf("report %+v", r)
	}
}
