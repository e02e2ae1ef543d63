// Package cli is the frame of every openqq binary: configuration from the environment, the
// logger, a context that ends on SIGINT or SIGTERM, and an exit status.
package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"

	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/logging"
)

// Main reads specs (pointers to envconfig structs, or config.Prefixed for a second instance's
// prefixed variables), the logging and the health configuration
// from the environment and calls run. With -h or --help it prints every variable with its
// default instead; with healthcheck it asks the running service whether it is ready (exit 0)
// or not (exit 1), for container health checks. It exits 1 if anything fails, 0 otherwise.
func Main(name string, specs []any, run func(ctx context.Context, log *slog.Logger, h health.Config) error) {
	var (
		logCfg    logging.Config
		healthCfg health.Config
	)
	all := append([]any{&logCfg, &healthCfg}, specs...)
	if len(os.Args) > 1 && (os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help") {
		usage(name, all)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		if err := config.Process("", &healthCfg); err != nil {
			fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", name, err)
			os.Exit(1)
		}
		if err := health.Probe(healthCfg); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		return
	}
	for _, s := range all {
		if err := config.ProcessSpec(s); err != nil {
			fmt.Fprintf(os.Stderr, "%s: configuration: %v\n", name, err)
			os.Exit(1)
		}
	}
	log, err := logging.New(logCfg, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, healthCfg); err != nil {
		log.Error(name+" failed", "err", err)
		stop()
		os.Exit(1)
	}
}

func usage(name string, specs []any) {
	fmt.Printf("%s is configured by these environment variables:\n\n", name)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VARIABLE\tTYPE\tDEFAULT")
	seen := map[string]bool{} // services of one binary share some variables
	for _, s := range specs {
		var buf bytes.Buffer
		prefix, listed := "", func(string) bool { return true }
		if p, ok := s.(config.Prefixed); ok {
			keys := p.Keys()
			prefix, s, listed = p.Prefix, p.Spec, func(k string) bool { return slices.Contains(keys, k) }
		}
		_ = envconfig.Usagef(prefix, s, &buf, "{{range .}}{{usage_key .}}\t{{usage_type .}}\t{{usage_default .}}\n{{end}}")
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			key, _, _ := strings.Cut(line, "\t")
			if line != "" && !seen[key] && listed(key) {
				seen[key] = true
				fmt.Fprint(w, line)
			}
		}
	}
	_ = w.Flush()
}
