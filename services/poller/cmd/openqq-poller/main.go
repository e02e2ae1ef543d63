// Command openqq-poller runs the poll_api heartbeat alone, against any NATS server (NATS_URL).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/openqq/openqq/pkg/infra/cli"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/poller"
)

func main() {
	var (
		nats natsconn.Config
		cfg  poller.Config
	)
	cli.Main("openqq-poller", []any{&nats, &cfg}, func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		nc, err := natsconn.Connect(nats, "openqq-poller", log)
		if err != nil {
			return err
		}
		defer func() { _ = natsconn.Close(nc, 5*time.Second) }()
		p, err := poller.New(nc, cfg, log)
		if err != nil {
			return err
		}
		go health.Serve(ctx, hc, log, health.NATS(nc))
		return p.Run(ctx)
	})
}
