// Package session owns the QQ connection (a driver), the roster and the client state. It
// serves every /openqq/* route as the NATS micro service "openqq" on qq.api.<route>, and
// publishes every message and event on qq.events.<name>.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// Version is openqq's version, reported by get_client_info and the micro service.
const Version = "0.1.0"

// Config is the session's configuration, read from the environment.
type Config struct {
	// SubjectPrefix is the first token of every subject (qq.api.*, qq.events.*).
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// Account names the client in get_client_info and the QR code file, as Mojo's account.
	Account string `envconfig:"ACCOUNT" default:"default"`
	// Driver names the QQ connection, a driver registered with driver.Register by a package
	// the binary imports: "sim" (the simulated account, driver/sim) or "onebot" (a OneBot v11
	// implementation such as NapCat or Lagrange.OneBot, driver/onebot).
	Driver string `envconfig:"DRIVER" default:"sim"`
	// DriverConfig is the driver's configuration built in code: its own Config type (or a
	// pointer to it), sim.Config or onebot.Config. Nil: the driver reads its configuration
	// from its own variables (SIM_*, ONEBOT_*).
	DriverConfig any `ignored:"true"`
	// SendInterval and SendBurst rate-limit the sends of drivers that need it, the onebot
	// driver (a token bucket: one more send every SendInterval, up to SendBurst at once), as
	// Mojo's send_interval did: the QQ implementations have none, and QQ's risk control
	// punishes bursts.
	SendInterval time.Duration `envconfig:"SEND_INTERVAL" default:"1s" zero:"off"`
	SendBurst    int           `envconfig:"SEND_BURST" default:"5"`
	// DriverTimeout bounds one send, mute or kick; it stays below the gateway's API_TIMEOUT so
	// that a bot gets a send failure rather than a time-out.
	DriverTimeout time.Duration `envconfig:"DRIVER_TIMEOUT" default:"8s"`
	// ControlDelay is how long stop_client and relogin wait before they act (Mojo: 3 s).
	ControlDelay time.Duration `envconfig:"CONTROL_DELAY" default:"3s" zero:"off"`
	// LogLevel is reported by get_client_info.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// Stream sets the limits of the event stream (STREAM_MAX_AGE, STREAM_MAX_BYTES, ...).
	Stream StreamConfig `envconfig:"STREAM"`
	// OutboxSize bounds the reports kept while NATS is away.
	OutboxSize int `envconfig:"OUTBOX_SIZE" default:"100000"`
	// MembersMax bounds the distinct members of one shutup or kick (each is a driver call).
	MembersMax int `envconfig:"MEMBERS_MAX" default:"100"`
	CheckEventConfig
}

// fill gives zero fields their defaults, as Mojo's `|| default` did, so that a Config built in
// code needs only what it changes.
func (c *Config) fill() {
	config.Defaults(c)
	if c.PostEventList == nil {
		c.PostEventList = events.DefaultPostEventList
	}
}

// Session is one QQ account's session.
type Session struct {
	nc     *nats.Conn
	cfg    Config
	subj   events.Subjects
	log    *slog.Logger
	drv    driver.Driver
	caps   driver.Capabilities // what drv declared when it was opened
	pub    *publisher
	checks *checkEvents
	ids    idGen
	start  time.Time

	mu      sync.RWMutex
	state   events.State
	ro      *roster.Roster
	gen     uint64   // counts roster changes: the version of the get_*_info replies (cache.go)
	boot    string   // tells this process's versions from an earlier one's
	replies sync.Map // route → lastReply of its get_*_info (cache.go)

	inflight chan struct{} // bounds the API calls handled at once
	calls    chan func()   // to the idle workers (api.go)

	control chan controlOp // stop_client and relogin, for Run
	async   sync.WaitGroup // async sends still going
}

type controlOp int

const (
	opStop controlOp = iota
	opRelogin
)

// New builds a session and its driver. Zero fields of cfg take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Session, error) {
	cfg.fill()
	if !events.ValidPrefix(cfg.SubjectPrefix) {
		return nil, fmt.Errorf("session: SUBJECT_PREFIX %q is not a valid subject prefix", cfg.SubjectPrefix)
	}
	if cfg.MembersMax < 0 {
		return nil, fmt.Errorf("session: MEMBERS_MAX must be positive, got %d", cfg.MembersMax)
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("svc", "session")
	config.Log(log, "session", &cfg)
	subj := events.Subjects{Prefix: cfg.SubjectPrefix}
	pub, err := newPublisher(nc, subj, cfg.Stream, cfg.OutboxSize, log)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s := &Session{
		nc: nc, cfg: cfg, subj: subj, log: log, start: time.Now(),
		state:    events.StateInit,
		pub:      pub,
		checks:   newCheckEvents(cfg.CheckEventConfig, log),
		control:  make(chan controlOp, 1),
		boot:     nuid.Next(),
		inflight: make(chan struct{}, maxInflight),
		calls:    make(chan func()),
	}
	d, err := driver.Open(cfg.Driver, cfg.DriverConfig, driver.Params{
		Account: cfg.Account, Log: log, SendInterval: cfg.SendInterval, SendBurst: cfg.SendBurst,
	})
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s.drv, s.caps = d, d.Capabilities()
	return s, nil
}

// Driver returns the session's driver (tests read the sim's state through it).
func (s *Session) Driver() driver.Driver { return s.drv }

// Run serves the API and keeps the driver logged in until ctx ends or stop_client is called;
// either way it reports the stop and returns nil.
func (s *Session) Run(ctx context.Context) error {
	defer trackState(s)()
	// The publisher outlives ctx: the stop events still have to be stored.
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	pubDone := make(chan struct{})
	go func() { s.pub.run(pubCtx); close(pubDone) }()
	defer func() { stopPub(); <-pubDone }()
	go s.feedCheckEvents(ctx)

	svc, err := s.serve(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			s.log.Warn("stop micro service", "err", err)
		}
	}()
	s.log.Info("session started", "account", s.cfg.Account, "driver", s.cfg.Driver,
		"api", s.subj.API("*"), "events", s.subj.Events())

	backoff := time.Second
	for {
		s.setState(events.StateLoading)
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.runDriver(dctx) }()

		var op controlOp = -1
		select {
		case <-ctx.Done():
		case op = <-s.control:
		case err := <-done:
			done <- err // read again below
		}
		cancel()
		err := <-done
		s.mu.Lock()
		s.ro = nil
		s.gen++
		s.mu.Unlock()

		switch {
		case ctx.Err() != nil || op == opStop:
			s.finish()
			return nil
		case op == opRelogin:
			s.log.Info("relogin")
			backoff = time.Second
			continue
		case errors.Is(err, driver.ErrFatal):
			s.log.Error("driver failed, stopping", "err", err)
			s.finish()
			return fmt.Errorf("session: %w", err)
		case err != nil:
			s.log.Error("driver failed, logging in again", "err", err, "in", backoff)
		default:
			s.log.Warn("driver stopped, logging in again", "in", backoff)
		}
		if wait.Sleep(ctx, backoff) != nil {
			s.finish()
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runDriver runs the driver once, with the injection endpoint served while it runs if the
// driver declares an Injector.
func (s *Session) runDriver(ctx context.Context) error {
	stop, err := s.serveInjections(ctx, s.caps.Injector)
	if err != nil {
		return err
	}
	err = s.drv.Run(ctx, s)
	stop()
	return err
}

// finish waits for async sends, then reports the stop.
func (s *Session) finish() {
	waited := make(chan struct{})
	go func() { s.async.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(s.cfg.DriverTimeout):
		s.log.Warn("stopping with async sends still going")
	}
	s.setState(events.StateStop)
	s.publishEvent(events.EventStop)
	s.pub.drain(5 * time.Second)
	s.log.Info("session stopped")
}

// after asks Run for op once ControlDelay has passed.
func (s *Session) after(op controlOp) {
	time.AfterFunc(s.cfg.ControlDelay, func() {
		select {
		case s.control <- op:
		default: // one is pending already
		}
	})
}

// Ready is nil while the client is running: the session's readiness.
func (s *Session) Ready() error {
	if st := s.ClientState(); st != events.StateRunning {
		return fmt.Errorf("client %s", st)
	}
	return nil
}

// ClientState returns the client state.
func (s *Session) ClientState() events.State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.state
}

// setState moves to st and publishes state_change [old,new] if that is a change.
func (s *Session) setState(st events.State) {
	s.mu.Lock()
	old := s.state
	s.state = st
	s.mu.Unlock()
	if old == st {
		return
	}
	s.log.Info("state", "from", old, "to", st)
	s.publishEvent(events.EventStateChange, old, st)
}

// serve registers one micro endpoint per route.
func (s *Session) serve(ctx context.Context) (micro.Service, error) {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:        events.ServiceName,
		Version:     Version,
		Description: "Mojo-Webqq Openqq API for account " + s.cfg.Account,
		Metadata:    map[string]string{"account": s.cfg.Account, "prefix": s.subj.Prefix, "driver": s.cfg.Driver},
	})
	if err != nil {
		return nil, fmt.Errorf("session: add micro service: %w", err)
	}
	g := svc.AddGroup(s.subj.APIGroup())
	if err := g.AddEndpoint(events.RouteCheckEvent, micro.HandlerFunc(s.checkEvent)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("session: add endpoint check_event: %w", err)
	}
	if err := g.AddEndpoint(events.EndpointCheckEventRelease, micro.HandlerFunc(s.checkEventRelease),
		micro.WithEndpointSubject(events.CheckEventReleaseSubject)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("session: add endpoint %s: %w", events.EndpointCheckEventRelease, err)
	}
	for range workers {
		go s.work(ctx)
	}
	handlers := s.handlers()
	for _, route := range events.Routes {
		if route == events.RouteCheckEvent {
			continue
		}
		h, ok := handlers[route]
		if !ok {
			_ = svc.Stop()
			return nil, fmt.Errorf("session: no handler for route %s", route)
		}
		if err := g.AddEndpoint(route, s.endpoint(ctx, route, h)); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("session: add endpoint %s: %w", route, err)
		}
	}
	return svc, nil
}
