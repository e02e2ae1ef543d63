// Package health serves a service's /healthz (the process is alive) and /readyz (it can do its
// job: connected to NATS, and whatever the service adds) next to its Prometheus /metrics, and
// probes /readyz for the binaries' `healthcheck` subcommand, which container health checks
// run (the images have no shell).
package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is read from the environment.
type Config struct {
	// Addr is where /healthz, /readyz and /metrics are served; empty turns them off.
	Addr string `envconfig:"HEALTH_ADDR" default:"127.0.0.1:8081"`
	// Pprof also serves net/http/pprof under /debug/pprof/ on Addr (never on the API's port):
	// off by default, since profiles show the process's internals.
	Pprof bool `envconfig:"HEALTH_PPROF" default:"false"`
}

// Check is one readiness condition.
type Check struct {
	Name  string
	Ready func() error
}

// NATS is ready while the connection is up.
func NATS(nc *nats.Conn) Check {
	return Check{Name: "nats", Ready: func() error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected (%s)", nc.Status())
		}
		return nil
	}}
}

// Handler serves /healthz, /readyz and /metrics (Prometheus: the process's default
// registry); anything else is 404.
func Handler(checks ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		failed := map[string]string{}
		for _, c := range checks {
			if err := c.Ready(); err != nil {
				failed[c.Name] = err.Error()
			}
		}
		if len(failed) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve serves the checks on cfg.Addr until ctx ends. A port that cannot be had is logged, not
// fatal: the service itself still works.
func Serve(ctx context.Context, cfg Config, log *slog.Logger, checks ...Check) {
	if cfg.Addr == "" {
		return
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		log.Error("health: cannot listen; /healthz, /readyz and /metrics are off", "addr", cfg.Addr, "err", err)
		return
	}
	h := Handler(checks...)
	if cfg.Pprof {
		h = withPprof(h)
		log.Warn("health: pprof is on", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("health checks", "url", "http://"+ln.Addr().String()+"/readyz")
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("health", "err", err)
	}
}

// withPprof adds the profiling handlers to h.
func withPprof(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Probe asks a running service on cfg.Addr whether it is ready.
func Probe(cfg Config) error {
	if cfg.Addr == "" {
		return errors.New("HEALTH_ADDR is empty: no health checks to probe")
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b strings.Builder
		_ = json.NewDecoder(resp.Body).Decode(&struct{}{})
		fmt.Fprintf(&b, "not ready: HTTP %d", resp.StatusCode)
		return errors.New(b.String())
	}
	return nil
}
