package gateway

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/infra/config/configtest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// A Config built in code and one read from an empty environment are the same: each setting
// has one default, its `default` tag.
func TestDefaultsDefinedOnce(t *testing.T) {
	configtest.DefinedOnce(t, "", (*Config).fill)
}

// The gateway logs its effective configuration once, the token masked.
func TestLogsConfigurationMasked(t *testing.T) {
	var buf proctest.SyncBuffer
	_, err := New(nil, Config{AccessToken: "s3cr3t-t0k3n"}, slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "gateway configuration") != 1 || !strings.Contains(out, "config.ACCESS_TOKEN=***") ||
		!strings.Contains(out, "config.API_TIMEOUT=10s") {
		t.Errorf("log: %s", out)
	}
	if strings.Contains(out, "s3cr3t") {
		t.Errorf("the log shows the token: %s", out)
	}
}
