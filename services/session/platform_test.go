package session

import (
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/services/session/driver/sim"
)

// PLATFORM picks the platform: qq by default, and an unknown name is a clear error at start
// that lists the known ones.
func TestPlatformChoice(t *testing.T) {
	nc := natstest.Connect(t, natstest.Start(t))
	_, err := New(nc, Config{Platform: "icq"}, natstest.Logger(t))
	if err == nil || !strings.Contains(err.Error(), `unknown PLATFORM "icq"`) || !strings.Contains(err.Error(), "qq") {
		t.Errorf("PLATFORM=icq: %v, want an error naming it and the known platforms", err)
	}
	s, err := New(nc, Config{DriverConfig: &sim.Config{QRCodeDir: t.TempDir()}}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if s.Platform().ServiceName() != "openqq" || s.Driver() == nil {
		t.Errorf("default platform: service %q, driver %v; want openqq over a QQ driver", s.Platform().ServiceName(), s.Driver())
	}
}
