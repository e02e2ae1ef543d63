// Command openqq-bench is openqq's benchmark harness (`make bench`): it builds openqq into a
// temporary directory, runs each row of the benchmark table with its baseline side by side, and
// writes bench/out/results.md and bench/out/results.json.
//
//	make bench                 # the full pass, a few minutes
//	BENCH_QUICK=1 make bench   # about a minute
//	BENCH_PROFILE=1 make bench # also CPU profiles of the all-in-one (small replies, large replies, events),
//	                           # and of the many-accounts processes (hosts-*.cpu.pprof)
//
// Flags: -only api-small,send-durable,api-large,events,scale-out,ordered,long-poll,start,wx-api,wx-media,wx-memory,hosts
// runs some rows only.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/openqq/openqq/bench/scenario"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

func main() {
	if scenario.ServeBareIfChild() {
		return
	}
	var (
		out     = flag.String("out", "bench/out", "where results.md and results.json go")
		quick   = flag.Bool("quick", os.Getenv("BENCH_QUICK") == "1", "the one-minute pass (also BENCH_QUICK=1)")
		only    = flag.String("only", "", "comma-separated scenarios to run (default: all)")
		profile = flag.Bool("profile", os.Getenv("BENCH_PROFILE") == "1", "also profile the all-in-one under the small-reply, large-reply and events loads (also BENCH_PROFILE=1)")
	)
	flag.Parse()
	if err := run(*out, *quick, *only, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "openqq-bench:", err)
		os.Exit(1)
	}
}

func run(out string, quick bool, only string, profile bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	repo, err := proctest.FindRepo(wd)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(repo, out)
	}
	cfg := scenario.Full()
	if quick {
		cfg = scenario.Quick()
	}
	h, err := scenario.NewHarness(ctx, cfg, repo, os.Stderr)
	if err != nil {
		return err
	}
	defer h.Close()

	sel := map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			sel[s] = true
		}
	}
	if profile {
		h.ProfileDir = out
	}
	res := h.Run(ctx, sel)
	res.Command = command(quick, only, profile)
	if len(res.Rows) > 0 {
		if err := res.Write(out); err != nil {
			return err
		}
	}
	// The all-in-one's profiles are of the small-reply, large-reply and events loads: with
	// -only, when it names one of them (the hosts scenario takes its own).
	if profile && ctx.Err() == nil && (len(sel) == 0 || sel["api-small"] || sel["api-large"] || sel["events"]) {
		top, err := h.Profile(ctx, out)
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		fmt.Fprintln(os.Stderr, top)
	}
	if len(res.Rows) > 0 {
		fmt.Print(res.Markdown())
		fmt.Printf("\nwritten: %s, %s\n", filepath.Join(out, "results.md"), filepath.Join(out, "results.json"))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errs := res.Errors(); len(errs) > 0 {
		return fmt.Errorf("%d rows could not be measured", len(errs))
	}
	return nil
}

// command is how to run this again.
func command(quick bool, only string, profile bool) string {
	var env []string
	if quick {
		env = append(env, "BENCH_QUICK=1")
	}
	if profile {
		env = append(env, "BENCH_PROFILE=1")
	}
	if os.Getenv("MAKELEVEL") != "" && only == "" {
		return strings.TrimSpace(strings.Join(env, " ") + " make bench")
	}
	return strings.TrimSpace(strings.Join(env, " ") + " go run ./bench/cmd/openqq-bench " + strings.Join(os.Args[1:], " "))
}
