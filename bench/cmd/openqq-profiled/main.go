// Command openqq-profiled is the all-in-one binary (cmd/openqq) with a CPU profile: with
// CPUPROFILE set it profiles from start to exit and writes the profile there (and with TRACEFILE,
// an execution trace). The benchmark harness runs it to show where the time goes.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"runtime/trace"

	"github.com/openqq/openqq/cmd/openqq/allinone"
	"github.com/openqq/openqq/pkg/infra/cli"
	"github.com/openqq/openqq/pkg/infra/health"
)

func main() {
	var cfg allinone.Config
	cli.Main("openqq-profiled", cfg.Specs(), func(ctx context.Context, log *slog.Logger, hc health.Config) error {
		cfg.Health = hc
		if path := os.Getenv("CPUPROFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("CPUPROFILE: %w", err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("CPUPROFILE: %w", err)
			}
			defer pprof.StopCPUProfile()
		}
		if path := os.Getenv("TRACEFILE"); path != "" {
			f, err := os.Create(path)
			if err != nil {
				return fmt.Errorf("TRACEFILE: %w", err)
			}
			defer f.Close()
			if err := trace.Start(f); err != nil {
				return fmt.Errorf("TRACEFILE: %w", err)
			}
			defer trace.Stop()
		}
		return allinone.Run(ctx, cfg, log)
	})
}
