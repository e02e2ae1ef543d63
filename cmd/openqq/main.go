// Command openqq runs the whole of openqq in one process: an embedded NATS server with
// JetStream, the sessions of a simulated QQ account and a simulated WeChat account (WX_*
// variables; WX_ENABLED=false leaves it out), and the HTTP gateway on 127.0.0.1:5000, serving
// /openqq/* and /openwx/* (HTTP_ADDR=0.0.0.0:5000 to reach it from elsewhere, with
// ACCESS_TOKEN set).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/openqq/openqq/cmd/openqq/allinone"
	"github.com/openqq/openqq/pkg/infra/cli"
	"github.com/openqq/openqq/pkg/infra/health"
)

func main() {
	var cfg allinone.Config
	cli.Main("openqq", cfg.Specs(), func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		cfg.Health = hc
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			cfg.Terminal = os.Stderr // a person is watching: show the login QR code
		}
		return allinone.Run(ctx, cfg, log)
	})
}
