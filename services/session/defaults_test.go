package session

import (
	"os"
	"slices"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	wxev "github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/config/configtest"
	"github.com/openqq/openqq/services/session/engine"
)

// A Config built in code and one read from an empty environment are the same: each setting
// has one default, its `default` tag.
func TestDefaultsDefinedOnce(t *testing.T) {
	configtest.DefinedOnce(t, "", (*Config).fill, "POST_EVENT") // false in code is a choice
}

// SUBJECT_PREFIX and POST_EVENT_LIST default to the platform's: PLATFORM=wx alone makes a
// session on wx.* with Openwx's post_event_list; QQ's stay Openqq's; a value set stays.
func TestPlatformDefaults(t *testing.T) {
	cases := []struct {
		name       string
		cfg        Config
		wantPrefix string
		wantList   []string
	}{
		{"qq by default", Config{}, "qq", events.DefaultPostEventList},
		{"qq", Config{Platform: "qq"}, "qq", events.DefaultPostEventList},
		{"wx", Config{Platform: "wx"}, "wx", wxev.DefaultPostEventList},
		{"wx with its own prefix", Config{Platform: "wx", SubjectPrefix: "wx2"}, "wx2", wxev.DefaultPostEventList},
		{"wx with a list", Config{Platform: "wx", CheckEventConfig: engine.CheckEventConfig{PostEventList: []string{"login"}}}, "wx", []string{"login"}},
		{"unknown platform", Config{Platform: "icq"}, "qq", events.DefaultPostEventList},
		// Without PLATFORM the prefix names it, as for the reporter and the poller.
		{"wx by its prefix", Config{SubjectPrefix: "wx"}, "wx", wxev.DefaultPostEventList},
		{"wx account by its prefix", Config{SubjectPrefix: "wx.alice"}, "wx.alice", wxev.DefaultPostEventList},
		{"custom prefix is qq", Config{SubjectPrefix: "bots"}, "bots", events.DefaultPostEventList},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.fill()
			if cfg.SubjectPrefix != c.wantPrefix || !slices.Equal(cfg.PostEventList, c.wantList) {
				t.Errorf("prefix %q, post_event_list %v; want %q, %v", cfg.SubjectPrefix, cfg.PostEventList, c.wantPrefix, c.wantList)
			}
		})
	}
}

// The environment's SUBJECT_PREFIX wins over the platform's.
func TestPlatformDefaultsEnv(t *testing.T) {
	t.Setenv("PLATFORM", "wx")
	t.Setenv("SUBJECT_PREFIX", "")
	os.Unsetenv("SUBJECT_PREFIX")
	var cfg Config
	if err := config.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.fill()
	if cfg.SubjectPrefix != "wx" {
		t.Errorf("PLATFORM=wx: prefix %q, want wx", cfg.SubjectPrefix)
	}
	t.Setenv("SUBJECT_PREFIX", "wxb")
	cfg = Config{}
	if err := config.Process("", &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.fill()
	if cfg.SubjectPrefix != "wxb" {
		t.Errorf("PLATFORM=wx SUBJECT_PREFIX=wxb: prefix %q", cfg.SubjectPrefix)
	}
}
