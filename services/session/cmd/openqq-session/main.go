// Command openqq-session runs the session service alone, against any NATS server (NATS_URL).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/openqq/openqq/pkg/infra/cli"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/session"
	// The drivers DRIVER can name: QQ's, and WeChat's with PLATFORM=wx.
	"github.com/openqq/openqq/services/session/drivers"
)

func main() {
	var (
		nats natsconn.Config
		cfg  session.Config
	)
	specs := append([]any{&nats, &cfg}, drivers.EnvSpecs()...)
	cli.Main("openqq-session", specs, func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		nc, err := natsconn.Connect(nats, "openqq-session", log)
		if err != nil {
			return err
		}
		defer func() { _ = natsconn.Close(nc, 5*time.Second) }()
		s, err := session.New(nc, cfg, log)
		if err != nil {
			return err
		}
		go health.Serve(ctx, hc, log, health.NATS(nc), health.Check{Name: "client", Ready: s.Ready})
		return s.Run(ctx)
	})
}
