package allinone

import (
	"context"
	"log/slog"
	"net"
)

// RunReady is Run that reports the gateway's address, for tests that listen on port 0.
func RunReady(ctx context.Context, cfg Config, log *slog.Logger, ready func(net.Addr)) error {
	cfg.Ready = func(a Addrs) { ready(a.HTTP) }
	return Run(ctx, cfg, log)
}
