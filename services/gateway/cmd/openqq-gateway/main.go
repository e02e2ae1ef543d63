// Command openqq-gateway runs the HTTP gateway alone, against any NATS server (NATS_URL).
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/openqq/openqq/pkg/infra/cli"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/gateway"
)

func main() {
	var (
		nats natsconn.Config
		cfg  gateway.Config
	)
	cli.Main("openqq-gateway", []any{&nats, &cfg}, func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		nc, err := natsconn.Connect(nats, "openqq-gateway", log)
		if err != nil {
			return err
		}
		defer func() { _ = natsconn.Close(nc, 5*time.Second) }()
		g, err := gateway.New(nc, cfg, log)
		if err != nil {
			return err
		}
		go health.Serve(ctx, hc, log, health.NATS(nc))
		return g.Run(ctx)
	})
}
