// Package allinone runs the whole of openqq in one process around an embedded NATS server:
// the default for a first run (`make run`). Each service gets its own in-process connection,
// as it would get its own process in a distributed deployment.
package allinone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/poller"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver"
	// The drivers DRIVER can name.
	_ "github.com/openqq/openqq/services/session/driver/onebot"
	_ "github.com/openqq/openqq/services/session/driver/sim"
)

// Config is everything the all-in-one run reads from the environment.
type Config struct {
	NATS     embednats.Config
	Session  session.Config
	Gateway  gateway.Config
	Reporter reporter.Config
	Poller   poller.Config
	// Health is where the all-in-one serves /healthz and /readyz for all of it.
	Health health.Config
	// Terminal, if set, shows the login QR code while the client waits for a scan.
	Terminal io.Writer
	// Ready, if set, is told where everything listens once it is up (tests listen on free
	// ports).
	Ready func(Addrs)
}

// Addrs are where a running openqq listens.
type Addrs struct {
	HTTP net.Addr // the API
	NATS string   // the NATS server's client URL ("" with NATS_DONT_LISTEN)
}

// Specs are the configuration structs for envconfig.
func (c *Config) Specs() []any {
	// The drivers read their own variables when they are opened; listed here, they show in
	// --help and a malformed one stops the start.
	return append([]any{&c.NATS, &c.Session, &c.Gateway, &c.Reporter, &c.Poller}, driver.EnvSpecs()...)
}

// Run starts the NATS server, the session, the gateway, (with POST_API or POST_STDOUT) the
// reporter and (with POLL_API) the poller, and runs until ctx ends or the client is stopped
// (stop_client). The gateway and the poller stop first, so calls in flight still reach the
// session; then the session, which stores its last words; then the reporter, once it has
// delivered them (within POST_DRAIN_TIMEOUT); the NATS server stops last.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	srv, err := embednats.Start(cfg.NATS, log)
	if err != nil {
		return err
	}
	defer srv.Stop()
	if !cfg.NATS.DontListen {
		log.Info("nats listening", "url", srv.ClientURL(), "store", cfg.NATS.StoreDir)
	}

	conns := map[string]*nats.Conn{}
	defer func() {
		for name, nc := range conns {
			if cerr := natsconn.Close(nc, 5*time.Second); cerr != nil {
				log.Warn("close nats connection", "conn", name, "err", cerr)
			}
		}
	}()
	connect := func(name string) (*nats.Conn, error) {
		nc, err := srv.Connect(name)
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", name, err)
		}
		conns[name] = nc
		return nc, nil
	}
	ncS, err := connect("openqq-session")
	if err != nil {
		return err
	}
	ncG, err := connect("openqq-gateway")
	if err != nil {
		return err
	}
	var rep *reporter.Reporter
	if cfg.Reporter.Enabled() {
		ncR, err := connect("openqq-reporter")
		if err != nil {
			return err
		}
		if rep, err = reporter.New(ncR, cfg.Reporter, log); err != nil {
			return err
		}
	}
	var pol *poller.Poller
	if cfg.Poller.PollAPI != "" {
		ncP, err := connect("openqq-poller")
		if err != nil {
			return err
		}
		if pol, err = poller.New(ncP, cfg.Poller, log); err != nil {
			return err
		}
	}
	sess, err := session.New(ncS, cfg.Session, log)
	if err != nil {
		return err
	}
	if cfg.Terminal != nil {
		stop, err := showLogin(ncG, events.Subjects{Prefix: cfg.Gateway.SubjectPrefix}, cfg.Terminal, consoleURL(firstAddr(cfg.Gateway.Addr)))
		if err != nil {
			return err
		}
		defer stop()
	}
	gw, err := gateway.New(ncG, cfg.Gateway, log)
	if err != nil {
		return err
	}
	lns, err := gw.Listen() // every address of HTTP_ADDR
	if err != nil {
		return err
	}
	ln := lns[0]

	sessCtx, stopSession := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSession()
	gwCtx, stopGateway := context.WithCancel(ctx)
	defer stopGateway()

	checks := []health.Check{{Name: "client", Ready: sess.Ready}}
	for name, nc := range conns {
		c := health.NATS(nc)
		c.Name = name
		checks = append(checks, c)
	}
	go health.Serve(gwCtx, cfg.Health, log, checks...)
	mountHealth(gw, health.Handler(checks...)) // and on the API's port too

	sessDone := make(chan error, 1)
	go func() { sessDone <- sess.Run(sessCtx) }()
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Serve(gwCtx, lns...) }()
	// The reporter outlives the session: the client's last words (running → stop, then
	// stop), stored as the session ends, are delivered before the run ends, within
	// POST_DRAIN_TIMEOUT.
	repCtx, stopReporter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReporter()
	repDone := make(chan error, 1)
	if rep != nil {
		go func() { repDone <- rep.Run(repCtx) }()
	} else {
		repDone <- nil
	}
	polDone := make(chan error, 1)
	if pol != nil {
		go func() { polDone <- pol.Run(gwCtx) }()
	} else {
		polDone <- nil
	}
	log.Info("console", "url", consoleURL(ln.Addr().String()))
	if cfg.Ready != nil {
		a := Addrs{HTTP: ln.Addr()}
		if !cfg.NATS.DontListen {
			a.NATS = srv.ClientURL()
		}
		cfg.Ready(a)
	}

	var sessErr, gwErr error
	sessionEnded := false
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case sessErr = <-sessDone:
		sessionEnded = true
		log.Info("client stopped, shutting down")
	case gwErr = <-gwDone:
		stopGateway()
		stopSession()
		stopReporter()
		return errors.Join(gwErr, <-repDone, <-polDone, <-sessDone)
	}
	stopGateway()
	gwErr = <-gwDone
	polErr := <-polDone
	if !sessionEnded {
		stopSession()
		sessErr = <-sessDone
	}
	stopReporter()
	repErr := <-repDone
	return errors.Join(sessErr, gwErr, repErr, polErr)
}

// firstAddr is the first address of a comma-separated HTTP_ADDR.
func firstAddr(list string) string {
	first, _, _ := strings.Cut(list, ",")
	return strings.TrimSpace(first)
}

// consoleURL is where a browser on this machine finds the console.
func consoleURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
