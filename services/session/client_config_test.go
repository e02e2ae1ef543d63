package session

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/driver/onebot"
	"github.com/openqq/openqq/services/session/driver/sim"
	wxsim "github.com/openqq/openqq/services/session/wxdriver/sim"
)

func TestClientConfig(t *testing.T) {
	t.Setenv("SIM_ROSTER", "/from/the/host/environment.json")
	host := Config{Account: "hostacct", SendBurst: 9, DriverConfig: &sim.Config{Roster: "/host/in/code.json"}}
	tests := []struct {
		name     string
		base     Config
		spec     events.ClientSpec
		check    func(t *testing.T, c Config)
		unknown  []string
		settings bool // an ErrSetting
	}{
		{"sim from its own settings only", host,
			events.ClientSpec{Client: "alice", Settings: map[string]string{"SIM_ROSTER": "/r.json", "SEND_BURST": "2", "POST_API": "http://x", "TMPDIR": "/t", "login_type": "qr"}},
			func(t *testing.T, c Config) {
				if c.Client != "alice" || c.Account != "alice" || c.SendBurst != 2 || c.Driver != "sim" || c.SubjectPrefix != "qq" {
					t.Errorf("%+v", c)
				}
				if d, ok := c.DriverConfig.(*sim.Config); !ok || d.Roster != "/r.json" {
					t.Errorf("driver config %#v", c.DriverConfig)
				}
			}, []string{"TMPDIR", "login_type"}, false},
		{"the host's own settings where the account has none", host,
			events.ClientSpec{Client: "bob", Settings: map[string]string{}},
			func(t *testing.T, c Config) {
				if c.SendBurst != 9 || c.SendInterval != time.Second {
					t.Errorf("%+v", c)
				}
				if d := c.DriverConfig.(*sim.Config); d.Roster != "" {
					t.Errorf("roster %q: neither the host's environment nor its code are the account's", d.Roster)
				}
			}, nil, false},
		{"onebot", host,
			events.ClientSpec{Client: "c", Settings: map[string]string{"DRIVER": "onebot", "ONEBOT_URL": "ws://127.0.0.1:1/", "ONEBOT_ACCESS_TOKEN": "t"}},
			func(t *testing.T, c Config) {
				if d, ok := c.DriverConfig.(*onebot.Config); !ok || d.URL != "ws://127.0.0.1:1/" || d.AccessToken != "t" {
					t.Errorf("%#v", c.DriverConfig)
				}
			}, nil, false},
		{"the default account keeps its host's account name", host,
			events.ClientSpec{Client: "default"},
			func(t *testing.T, c Config) {
				if c.Client != "" || c.Account != "hostacct" {
					t.Errorf("client %q account %q", c.Client, c.Account)
				}
			}, nil, false},
		{"wechat", Config{Platform: "wx"},
			events.ClientSpec{Client: "w", Settings: map[string]string{"WX_SIM_ROSTER": "/w.json", "POST_EVENT_LIST": "login"}},
			func(t *testing.T, c Config) {
				if d, ok := c.DriverConfig.(*wxsim.Config); !ok || d.Roster != "/w.json" || c.SubjectPrefix != wx.Prefix || !slices.Equal(c.PostEventList, []string{"login"}) {
					t.Errorf("%+v %#v", c, c.DriverConfig)
				}
			}, nil, false},
		{"wechat's post_event_list by default", Config{Platform: "wx"},
			events.ClientSpec{Client: "w"},
			func(t *testing.T, c Config) {
				if !slices.Equal(c.PostEventList, wx.DefaultPostEventList) {
					t.Errorf("%v", c.PostEventList)
				}
			}, nil, false},
		{"unknown driver", host, events.ClientSpec{Client: "d", Settings: map[string]string{"DRIVER": "icq"}}, nil, nil, true},
		{"bad value", host, events.ClientSpec{Client: "d", Settings: map[string]string{"SEND_BURST": "many"}}, nil, nil, true},
		{"host setting", host, events.ClientSpec{Client: "d", Settings: map[string]string{"SUBJECT_PREFIX": "xx"}}, nil, nil, true},
		{"stream setting", host, events.ClientSpec{Client: "d", Settings: map[string]string{"STREAM_MAX_AGE": "1h"}}, nil, nil, true},
		{"bad name", host, events.ClientSpec{Client: "a.b"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, unknown, err := ClientConfig(tt.base, tt.spec)
			if tt.settings {
				if !errors.Is(err, ErrSetting) {
					t.Fatalf("err = %v, want an ErrSetting", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(unknown, tt.unknown) {
				t.Errorf("unknown = %q, want %q", unknown, tt.unknown)
			}
			tt.check(t, c)
		})
	}
}
