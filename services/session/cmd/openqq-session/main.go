// Command openqq-session runs a session host against any NATS server (NATS_URL): the accounts
// of one subject prefix placed on it (services/session/host), the default account from its own
// environment among them, as a single-account session ran it.
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
	"github.com/openqq/openqq/services/session/host"
)

func main() {
	var (
		nats natsconn.Config
		cfg  session.Config
		hcfg host.Config
	)
	specs := append([]any{&nats, &cfg, &hcfg}, drivers.EnvSpecs()...)
	cli.Main("openqq-session", specs, func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		nc, err := natsconn.Connect(nats, "openqq-session", log)
		if err != nil {
			return err
		}
		defer func() { _ = natsconn.Close(nc, 5*time.Second) }()
		h, err := host.New(nc, cfg, hcfg, log)
		if err != nil {
			return err
		}
		// Ready: the host is live and the default account runs (running, when it runs here).
		go health.Serve(ctx, hc, log, health.NATS(nc), health.Check{Name: "client", Ready: h.Ready})
		// HOOK (Controller): the Controller routes (qq.controller.*) are served here once
		// services/session/controller lands (helper ctl): its Serve beside h.Run, on nc.
		return h.Run(ctx)
	})
}
