// Command openqq-reporter delivers the event stream of every account of its prefix to post_api
// (the reporter's POST_API, or an account's own from the clients bucket), each conversation in order.
// Run any number of replicas: they share each URL's partitions (POST_PARTITIONS) and take over
// those of one that stops or dies.
// `openqq-reporter replay` retries the dead-lettered items once and exits.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/openqq/openqq/pkg/infra/cli"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/reporter"
)

func main() {
	var (
		nats natsconn.Config
		cfg  reporter.Config
	)
	cli.Main("openqq-reporter", []any{&nats, &cfg}, func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		nc, err := natsconn.Connect(nats, "openqq-reporter", log)
		if err != nil {
			return err
		}
		defer func() { _ = natsconn.Close(nc, 5*time.Second) }()
		r, err := reporter.New(nc, cfg, log)
		if err != nil {
			return err
		}
		if len(os.Args) > 1 && os.Args[1] == "replay" {
			res, err := r.Replay(ctx)
			fmt.Printf("replayed: %d delivered, %d failed (still parked), %d of other targets\n", res.Delivered, res.Failed, res.Skipped)
			return err
		}
		go health.Serve(ctx, hc, log, health.NATS(nc))
		return r.Run(ctx)
	})
}
