package events

import (
	"slices"
	"strings"
	"testing"
)

func TestClientSubjects(t *testing.T) {
	tests := []struct {
		name                                      string
		s                                         Subjects
		event, events, api, inject, client, group string
	}{
		{"zero is the default account", Subjects{}, "qq.events.login", "qq.events.*", "qq.api.get_user_info", "qq.sim.inject", "default", "qq.api"},
		{"default named", Subjects{Prefix: "qq", Client: "default"}, "qq.events.login", "qq.events.*", "qq.api.get_user_info", "qq.sim.inject", "default", "qq.api"},
		{"another account", Subjects{Prefix: "qq", Client: "alice"}, "qq.events.alice.login", "qq.events.alice.*", "qq.api.alice.get_user_info", "qq.sim.alice.inject", "alice", "qq.api.alice"},
		{"wx account", Subjects{Prefix: "wx"}.ForClient("bob-2"), "wx.events.bob-2.login", "wx.events.bob-2.*", "wx.api.bob-2.get_user_info", "wx.sim.bob-2.inject", "bob-2", "wx.api.bob-2"},
		{"dotted prefix", Subjects{Prefix: "qq.acct-1", Client: "c"}, "qq.acct-1.events.c.login", "qq.acct-1.events.c.*", "qq.acct-1.api.c.get_user_info", "qq.acct-1.sim.c.inject", "c", "qq.acct-1.api.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			got := []string{s.Event(EventLogin), s.ClientEvents(), s.API(RouteGetUserInfo), s.SimInject(), s.ClientName(), s.APIGroup()}
			want := []string{tt.event, tt.events, tt.api, tt.inject, tt.client, tt.group}
			if !slices.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
			if s.Events() != s.prefix()+".events.>" {
				t.Errorf("Events() = %q: every account's items, whatever the client", s.Events())
			}
			if c, ok := s.ClientOf(s.Event(EventLogin)); !ok || c != tt.client {
				t.Errorf("ClientOf(%q) = %q, %v; want %q", s.Event(EventLogin), c, ok, tt.client)
			}
			if s.Stream() != (Subjects{Prefix: s.Prefix}).Stream() || s.ClientsBucket() != (Subjects{Prefix: s.Prefix}).ClientsBucket() {
				t.Errorf("an account's stream and buckets are its prefix's")
			}
		})
	}
}

func TestClientOf(t *testing.T) {
	s := Subjects{Prefix: "qq"}
	tests := []struct {
		subject, client string
		ok              bool
	}{
		{"qq.events.friend_message", "default", true},
		{"qq.events.alice.friend_message", "alice", true},
		{"qq.events.a.b.c", "", false},
		{"qq.events.", "", false},
		{"qq.events.alice.", "", false},
		{"wx.events.alice.login", "", false},
		{"qq.api.alice.send_friend_message", "", false},
		{"qq.events.al*ce.login", "", false},
	}
	for _, tt := range tests {
		c, ok := s.ClientOf(tt.subject)
		if c != tt.client || ok != tt.ok {
			t.Errorf("ClientOf(%q) = %q, %v; want %q, %v", tt.subject, c, ok, tt.client, tt.ok)
		}
	}
}

func TestValidClient(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"weixin_client_01", true}, {"12345678", true}, {"a-b", true},
		{"", false}, {"a.b", false}, {"a*", false}, {">", false}, {"a b", false}, {"ä", false},
		{strings.Repeat("x", ClientMaxLen), true}, {strings.Repeat("x", ClientMaxLen+1), false},
	}
	for _, tt := range tests {
		if got := ValidClient(tt.name); got != tt.ok {
			t.Errorf("ValidClient(%q) = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestEventFilters(t *testing.T) {
	s := Subjects{Prefix: "wx"}
	if got := s.EventFilters(nil); !slices.Equal(got, []string{"wx.events.>"}) {
		t.Errorf("nil names: %q", got)
	}
	got := s.EventFilters([]string{"login", "friend_message"})
	want := []string{"wx.events.login", "wx.events.*.login", "wx.events.friend_message", "wx.events.*.friend_message"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestControllerNames(t *testing.T) {
	s := Subjects{Prefix: "wx", Client: "ignored"}
	if got := s.Controller(RouteStartClient); got != "wx.controller.start_client" {
		t.Errorf("Controller = %q", got)
	}
	if s.ClientsBucket() != "WX_CLIENTS" || s.LeasesBucket() != "WX_LEASES" {
		t.Errorf("buckets %q %q", s.ClientsBucket(), s.LeasesBucket())
	}
	if (Subjects{}).ClientsBucket() != ClientsBucketName || (Subjects{}).LeasesBucket() != LeasesBucketName {
		t.Errorf("default prefix buckets")
	}
	for _, r := range ControllerRoutes {
		if !IsControllerRoute(r) {
			t.Errorf("%s", r)
		}
	}
	if IsControllerRoute(RouteGetUserInfo) {
		t.Errorf("get_user_info is an account's route")
	}
}
