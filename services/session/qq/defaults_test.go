package qq

import (
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/config/configtest"
)

// A Config built in code and one read from an empty environment are the same: each setting
// has one default, its `default` tag.
func TestDefaultsDefinedOnce(t *testing.T) {
	configtest.DefinedOnce(t, "", func(c *Config) { config.Defaults(c) })
}

// The route table has a handler for every Openqq route but check_event (the engine's), and
// no other.
func TestHandlersCoverEveryRoute(t *testing.T) {
	h := (&Platform{}).handlers()
	for _, route := range events.Routes {
		_, ok := h[route]
		if route == events.RouteCheckEvent {
			if ok {
				t.Errorf("check_event is the engine's, not the platform's")
			}
			continue
		}
		if !ok {
			t.Errorf("no handler for route %s", route)
		}
	}
	if len(h) != len(events.Routes)-1 {
		t.Errorf("%d handlers for %d routes besides check_event", len(h), len(events.Routes)-1)
	}
}
