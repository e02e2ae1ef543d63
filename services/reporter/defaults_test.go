package reporter

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/infra/config/configtest"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// A Config built in code and one read from an empty environment are the same: each setting
// has one default, its `default` tag.
func TestDefaultsDefinedOnce(t *testing.T) {
	configtest.DefinedOnce(t, "", (*Config).fill, "POST_EVENT", "POST_MEDIA_DATA") // false in code is a choice
}

// The reporter logs its effective configuration once, the secret and the URL's token masked.
func TestLogsConfigurationMasked(t *testing.T) {
	var buf proctest.SyncBuffer
	_, err := New(natstest.Connect(t, natstest.Start(t)), Config{PostAPI: []string{"http://127.0.0.1:1/p?token=t0k3n"}, PostSecret: "s3cr3t"},
		slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, "reporter configuration") != 1 || !strings.Contains(out, "config.POST_SECRET=***") ||
		!strings.Contains(out, "token=***") || !strings.Contains(out, "config.POST_EVENT_LIST=login,stop") {
		t.Errorf("log: %s", out)
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0k3n") {
		t.Errorf("the log shows a secret: %s", out)
	}
}
