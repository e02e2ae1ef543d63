package session

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/natstest"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

// PLATFORM=wx runs the WeChat platform: the openwx micro service on wx.api.<route>, the
// WX_EVENTS stream, Openwx's post_event_list, the WeChat sim.
func TestPlatformWX(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	cfg := Config{Platform: "wx", DriverConfig: &wxsim.Config{QRCodeDir: t.TempDir()}, ControlDelay: 50 * time.Millisecond}
	s, err := New(nc, cfg, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ec := s.Engine().Config()
	if s.Platform().ServiceName() != wx.ServiceName || ec.SubjectPrefix != wx.Prefix || s.Engine().Subjects().Stream() != "WX_EVENTS" {
		t.Errorf("PLATFORM=wx: service %q, prefix %q, stream %q", s.Platform().ServiceName(), ec.SubjectPrefix, s.Engine().Subjects().Stream())
	}
	if !slices.Equal(ec.PostEventList, wx.DefaultPostEventList) {
		t.Errorf("post_event_list %v, want Openwx's %v", ec.PostEventList, wx.DefaultPostEventList)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for s.ClientState() != events.StateRunning {
		if time.Now().After(deadline) {
			t.Fatal("not running within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r, err := nc.Request("wx.api."+wx.RouteGetUserInfo, []byte("{}"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var u wx.User
	if err := json.Unmarshal(r.Data, &u); err != nil || u.Name != wxsim.UserName || u.ID == "" {
		t.Errorf("wx.api.get_user_info: %s (%v)", r.Data, err)
	}
}
