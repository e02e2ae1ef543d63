// Package engine is the platform-neutral part of a session: what runs one account the same way
// whichever chat platform it is on (QQ, WeChat). It owns the client state and the login loop
// (back-off, stop_client, relogin, the stop report), the publisher that stores every report on
// the event stream, check_event's buffer, the NATS micro service with its endpoint machinery,
// the get_*_info reply cache, the injection endpoint and the metrics.
//
// A Platform adds the rest: its routes (Handlers), its roster, its driver (Run) and how an
// injection reaches it. The engine never looks inside a roster: the platform keeps its roster
// under the engine's roster lock (RLock, Lock), so that the reply cache and the roster agree.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// Version is openqq's version, reported by get_client_info and the micro service.
const Version = "0.1.0"

// Config is the engine's configuration: the settings every platform shares.
type Config struct {
	// SubjectPrefix is the first token of every subject (qq.api.*, qq.events.*).
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// Account names the client in get_client_info and the QR code file, as Mojo's account.
	Account string `envconfig:"ACCOUNT" default:"default"`
	// Carry are reports an earlier run of this account could not store (Engine.Unstored):
	// stored first, in their order, before anything this run reports.
	Carry []*nats.Msg `ignored:"true"`
	// SharedFeed says that whoever runs the engine feeds check_event (FeedCheckEvent) from a
	// consumer of its own shared by its accounts: the engine makes none.
	SharedFeed bool `ignored:"true"`
	// Client is the account's Controller name, a token of its subjects (events.Subjects):
	// "" (or "default") for the default account, whose subjects carry none. A session host
	// sets it; the environment does not.
	Client string `ignored:"true"`
	// DriverTimeout bounds one call (a send, a mute, a kick); it stays below the gateway's
	// API_TIMEOUT so that a bot gets a send failure rather than a time-out.
	DriverTimeout time.Duration `envconfig:"DRIVER_TIMEOUT" default:"8s"`
	// ControlDelay is how long stop_client and relogin wait before they act (Mojo: 3 s).
	ControlDelay time.Duration `envconfig:"CONTROL_DELAY" default:"3s" zero:"off"`
	// LogLevel is reported by get_client_info.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info"`
	// Stream sets the limits of the event stream (STREAM_MAX_AGE, STREAM_MAX_BYTES, ...).
	Stream StreamConfig `envconfig:"STREAM"`
	// OutboxSize bounds the reports kept while NATS is away.
	OutboxSize int `envconfig:"OUTBOX_SIZE" default:"100000"`
	CheckEventConfig
	// OnState, if set, hears of every change of the client state, after it is made (a session
	// host writes it into the account's lease, where check_client reads it). It must not block.
	OnState func(prev, cur events.State) `ignored:"true"`
	// StreamManaged says that the event stream exists already, created by whoever runs this
	// engine (a session host creates it once for all its accounts): the publisher does not
	// create or update it before its first report, only again if it is found gone.
	StreamManaged bool `ignored:"true"`
}

// Fill gives zero fields their defaults, as Mojo's `|| default` did, so that a Config built in
// code needs only what it changes. New calls it.
func (c *Config) Fill() {
	config.Defaults(c)
	if c.PostEventList == nil {
		c.PostEventList = events.DefaultPostEventList
	}
}

// Handler answers one route. It returns the reply, or an error that is the reply: an
// *events.Status, or any error with a `ReplyCode() int` method (its JSON encoding is the body,
// the code picks the HTTP status as events.HTTPStatus does). Any other error is a fault of
// openqq's own: logged, and answered with events.ErrInternal.
type Handler func(ctx context.Context, p events.Params) (any, error)

// Bytes is a reply of raw bytes (an avatar, a file), sent as they are with their type in the
// events.HeaderContentType and events.HeaderCacheControl headers.
type Bytes struct {
	ContentType, CacheControl string
	Body                      []byte
	// Code, if not 0, is the API code the bytes go out with, and so their HTTP status
	// (events.HTTPStatus): Openwx's get_avatar answers HTTP 503 with no body at all.
	Code int
	// HTTPStatus, if not 0, is the HTTP status they go out with, whatever Code's: Mojo's
	// get_qrcode answers 404 with an empty body when there is no QR code, a status no API
	// code maps to. A refusal keeps ContentType and CacheControl, so that its empty body
	// stays empty on its way to the caller.
	HTTPStatus int
}

// ErrNoInjector is what Platform.Inject returns when its driver takes no injections.
var ErrNoInjector = errors.New("the driver takes no injections")

// ErrFatal marks an error of Platform.Run after which logging in again cannot help (a refused
// access token, say): the engine stops with it instead of retrying. A platform's driver
// package may define its own as this one (var ErrFatal = engine.ErrFatal) or wrap it.
var ErrFatal = errors.New("fatal")

// Platform is what a chat platform adds to the engine.
type Platform interface {
	// ServiceName names the NATS micro service: "openqq", "openwx".
	ServiceName() string
	// Description describes the micro service.
	Description() string
	// Handlers is the route table: every route but check_event, which the engine serves.
	// The control routes are the engine's ClientInfo, StopClient and Relogin.
	Handlers() map[string]Handler
	// AnswersBeforeRunning tells the routes answered in any state; the others get "not
	// ready" until the client is running.
	AnswersBeforeRunning(route string) bool
	// Run is one login and what follows, as the QQ driver's Run: it reports its progress with
	// SetState, QRCode and LoggedIn, and returns nil when ctx ends, or an error when the
	// connection fails (wrapping ErrFatal if logging in again cannot help).
	Run(ctx context.Context) error
	// LoggedOut is called when a login ended: the platform forgets its roster.
	LoggedOut()
	// CanInject tells whether the driver takes injections; the engine asks once per login
	// and serves <prefix>.sim.inject during that login only if so.
	CanInject() bool
	// Inject hands one injection (the request's body) to the driver and returns the reply
	// the injection gets (the platform's shape: QQ's names the message by a number, WeChat's
	// by a string and carries a friend request's ticket). A refusal is an *events.Status,
	// answered {"code":...,"status":...}; ErrNoInjector if the driver takes none.
	Inject(ctx context.Context, data []byte) (reply any, err error)
}

// Metadata is an optional interface of a Platform: more metadata for its micro service
// (the driver's name, say).
type Metadata interface {
	Metadata() map[string]string
}

// CheckEventNamer is an optional interface of a Platform whose message types are not QQ's:
// the names of the items check_event hands out (events.CheckEventNames for QQ).
type CheckEventNamer interface {
	CheckEventNames(postEvent bool, list []string) []string
}

// Engine runs one account of one platform.
type Engine struct {
	nc     *nats.Conn
	cfg    Config
	subj   events.Subjects
	log    *slog.Logger
	plat   Platform
	pub    *publisher
	checks *checkEvents
	// checkNames are the item names check_event hands out (FeedCheckEvent).
	checkNames map[string]bool
	ids        idGen
	start      time.Time
	labels     metricLabels

	stateMu sync.RWMutex
	state   events.State
	qrcode  []byte // the current login's QR code, until the login ends (get_qrcode)

	// The roster lock guards the platform's roster, and with it the version of the get_*_info
	// replies (cache.go).
	mu      sync.RWMutex
	loaded  bool     // the platform has a roster: between LoggedIn and the end of the login
	gen     uint64   // counts roster changes: the version of the get_*_info replies (cache.go)
	boot    string   // tells this process's versions from an earlier one's
	replies sync.Map // route → lastReply of its get_*_info (cache.go)

	inflight chan struct{} // bounds the API calls handled at once
	calls    chan func()   // to the idle workers (api.go)
	workers  atomic.Int32  // workers started

	control chan controlOp // stop_client and relogin, for Run
	async   sync.WaitGroup // async work still going (Go)
}

type controlOp int

const (
	opStop controlOp = iota
	opRelogin
)

// New builds an engine and its platform (build, which may keep the engine to report to it).
// Zero fields of cfg take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger, build func(*Engine) (Platform, error)) (*Engine, error) {
	cfg.Fill()
	if !events.ValidPrefix(cfg.SubjectPrefix) {
		return nil, fmt.Errorf("session: SUBJECT_PREFIX %q is not a valid subject prefix", cfg.SubjectPrefix)
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("svc", "session")
	if !events.IsDefaultClient(cfg.Client) && !events.ValidClient(cfg.Client) {
		return nil, fmt.Errorf("session: %w", events.ErrBadClient(cfg.Client))
	}
	subj := events.Subjects{Prefix: cfg.SubjectPrefix, Client: cfg.Client}
	pub, err := newPublisher(nc, subj, cfg.Stream, cfg.OutboxSize, log)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if cfg.StreamManaged {
		pub.streamOK.Store(true)
		pub.readyOnce.Do(func() { close(pub.ready) })
	}
	e := &Engine{
		nc: nc, cfg: cfg, subj: subj, log: log, start: time.Now(),
		state:    events.StateInit,
		pub:      pub,
		checks:   newCheckEvents(cfg.CheckEventConfig, log),
		control:  make(chan controlOp, 1),
		boot:     nuid.Next(),
		inflight: make(chan struct{}, maxInflight),
		calls:    make(chan func()),
	}
	p, err := build(e)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	e.plat = p
	e.labels = metricLabels{service: p.ServiceName(), prefix: subj.Prefix}
	pub.labels = e.labels
	e.checkNames = map[string]bool{}
	for _, n := range e.checkEventNames() {
		e.checkNames[n] = true
	}
	pub.carry(cfg.Carry)
	return e, nil
}

// Log is the engine's logger, for the platform.
func (e *Engine) Log() *slog.Logger { return e.log }

// Config is the engine's configuration, its defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Subjects are the engine's subjects.
func (e *Engine) Subjects() events.Subjects { return e.subj }

// Conn is the engine's NATS connection.
func (e *Engine) Conn() *nats.Conn { return e.nc }

// JetStream is the engine's JetStream context.
func (e *Engine) JetStream() jetstream.JetStream { return e.pub.js }

// Platform is the engine's platform.
func (e *Engine) Platform() Platform { return e.plat }

// Run serves the API and keeps the platform logged in until ctx ends or stop_client is called;
// either way it reports the stop and returns nil.
func (e *Engine) Run(ctx context.Context) error {
	defer trackState(e)()
	// The publisher outlives ctx: the stop events still have to be stored.
	pubCtx, stopPub := context.WithCancel(context.WithoutCancel(ctx))
	pubDone := make(chan struct{})
	go func() { e.pub.run(pubCtx); close(pubDone) }()
	defer func() { stopPub(); <-pubDone }()
	if !e.cfg.SharedFeed {
		go e.feedCheckEvents(ctx)
	}

	svc, err := e.serve(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := svc.Stop(); err != nil {
			e.log.Warn("stop micro service", "err", err)
		}
	}()
	e.log.Info("session started", "account", e.cfg.Account, "service", e.plat.ServiceName(),
		"api", e.subj.API("*"), "events", e.subj.Events())

	backoff := time.Second
	for {
		e.SetState(events.StateLoading)
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.runOnce(dctx) }()

		var op controlOp = -1
		select {
		case <-ctx.Done():
		case op = <-e.control:
		case err := <-done:
			done <- err // read again below
		}
		cancel()
		err := <-done
		e.mu.Lock()
		e.loaded = false
		e.gen++
		e.mu.Unlock()
		e.setQRCode(nil)
		e.plat.LoggedOut()

		switch {
		case ctx.Err() != nil || op == opStop:
			e.finish()
			return nil
		case op == opRelogin:
			e.log.Info("relogin")
			backoff = time.Second
			continue
		case errors.Is(err, ErrFatal):
			e.log.Error("driver failed, stopping", "err", err)
			e.finish()
			return fmt.Errorf("session: %w", err)
		case err != nil:
			e.log.Error("driver failed, logging in again", "err", err, "in", backoff)
		default:
			e.log.Warn("driver stopped, logging in again", "in", backoff)
		}
		if wait.Sleep(ctx, backoff) != nil {
			e.finish()
			return nil
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// runOnce runs one login, with the injection endpoint served while it runs if the platform
// takes injections.
func (e *Engine) runOnce(ctx context.Context) error {
	stop, err := e.serveInjections(ctx)
	if err != nil {
		return err
	}
	err = e.plat.Run(ctx)
	stop()
	return err
}

// finish waits for async work, then reports the stop.
func (e *Engine) finish() {
	waited := make(chan struct{})
	go func() { e.async.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(e.cfg.DriverTimeout):
		e.log.Warn("stopping with async sends still going")
	}
	e.SetState(events.StateStop)
	e.PublishEvent(events.EventStop)
	e.pub.drain(5 * time.Second)
	e.log.Info("session stopped")
}

// Go runs f in the background (an async send); the stop waits for it, up to DriverTimeout.
func (e *Engine) Go(f func()) {
	e.async.Add(1)
	go func() {
		defer e.async.Done()
		f()
	}()
}

// after asks Run for op once ControlDelay has passed.
func (e *Engine) after(op controlOp) {
	time.AfterFunc(e.cfg.ControlDelay, func() {
		select {
		case e.control <- op:
		default: // one is pending already
		}
	})
}

// Ready is nil while the client is running: the session's readiness.
func (e *Engine) Ready() error {
	if st := e.State(); st != events.StateRunning {
		return fmt.Errorf("client %s", st)
	}
	return nil
}

// State returns the client state.
func (e *Engine) State() events.State {
	e.stateMu.RLock()
	defer e.stateMu.RUnlock()
	return e.state
}

// SetState moves to st and publishes state_change [old,new] if that is a change.
func (e *Engine) SetState(st events.State) {
	e.stateMu.Lock()
	old := e.state
	e.state = st
	e.stateMu.Unlock()
	if old == st {
		return
	}
	e.log.Info("state", "from", old, "to", st)
	e.PublishEvent(events.EventStateChange, old, st)
	if e.cfg.OnState != nil {
		e.cfg.OnState(old, st)
	}
}

// QRCode publishes input_qrcode [path, base64 of the image, as MIME::Base64 writes it], and
// keeps the image for get_qrcode until the login ends.
func (e *Engine) QRCode(path string, img []byte) {
	e.log.Info("login QR code", "path", path, "bytes", len(img))
	e.setQRCode(img)
	e.PublishEvent(events.EventInputQRCode, path, events.MIMEBase64(img))
}

func (e *Engine) setQRCode(img []byte) {
	e.stateMu.Lock()
	e.qrcode = img
	e.stateMu.Unlock()
}

// PendingQRCode is the image of the QR code the account waits to have scanned: the last one
// of the current login, nil when it has none or has logged in. A session host tells it in
// the account's lease (events.ClientLease.QRCode).
func (e *Engine) PendingQRCode() []byte {
	e.stateMu.RLock()
	defer e.stateMu.RUnlock()
	return e.qrcode
}

// QRCodeNoCache is get_qrcode's Cache-Control, Mojo's: the image changes at every login.
const QRCodeNoCache = "no-cache"

// getQRCode is the account's get_qrcode: the image of its pending QR code, with its type
// (the bytes tell it: QQ's are PNG, WeChat's JPEG or PNG as the driver makes them), or HTTP
// 404 with an empty body when there is none, as Mojo's read of a missing file answered. The
// Controller serves get_qrcode?client=NAME by asking the account's engine here.
func (e *Engine) getQRCode(context.Context, events.Params) (any, error) {
	img := e.PendingQRCode()
	if len(img) == 0 {
		return Bytes{ContentType: "text/plain; charset=utf-8", CacheControl: QRCodeNoCache,
			Code: events.CodeNotFound, HTTPStatus: http.StatusNotFound}, nil
	}
	return Bytes{ContentType: http.DetectContentType(img), CacheControl: QRCodeNoCache, Body: img}, nil
}

// LoggedIn ends a login: the platform has installed its roster (under Lock), the engine
// publishes login [1|0] (scanned: a QR code was scanned) and moves to running.
func (e *Engine) LoggedIn(scanned bool) {
	e.mu.Lock()
	e.loaded = true
	e.gen++
	e.mu.Unlock()
	e.setQRCode(nil)
	flag := 0
	if scanned {
		flag = 1
	}
	e.PublishEvent(events.EventLogin, flag)
	e.SetState(events.StateRunning)
}

// serve registers one micro endpoint per route.
func (e *Engine) serve(ctx context.Context) (micro.Service, error) {
	md := map[string]string{"account": e.cfg.Account, "client": e.subj.ClientName(), "prefix": e.subj.Prefix}
	if m, ok := e.plat.(Metadata); ok {
		for k, v := range m.Metadata() {
			md[k] = v
		}
	}
	svc, err := micro.AddService(e.nc, micro.Config{
		Name:        e.plat.ServiceName(),
		Version:     Version,
		Description: e.plat.Description(),
		Metadata:    md,
	})
	if err != nil {
		return nil, fmt.Errorf("session: add micro service: %w", err)
	}
	g := svc.AddGroup(e.subj.APIGroup())
	if err := g.AddEndpoint(events.RouteCheckEvent, micro.HandlerFunc(e.checkEvent)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("session: add endpoint check_event: %w", err)
	}
	if err := g.AddEndpoint(events.EndpointCheckEventRelease, micro.HandlerFunc(e.checkEventRelease),
		micro.WithEndpointSubject(events.CheckEventReleaseSubject)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("session: add endpoint %s: %w", events.EndpointCheckEventRelease, err)
	}
	if err := g.AddEndpoint(events.RouteGetQRCode, e.endpoint(ctx, events.RouteGetQRCode, e.getQRCode)); err != nil {
		_ = svc.Stop()
		return nil, fmt.Errorf("session: add endpoint %s: %w", events.RouteGetQRCode, err)
	}
	handlers := e.plat.Handlers()
	for _, route := range sortedRoutes(handlers) {
		if route == events.RouteCheckEvent || route == events.RouteGetQRCode {
			_ = svc.Stop()
			return nil, fmt.Errorf("session: %s is the engine's, not a platform route", route)
		}
		if err := g.AddEndpoint(route, e.endpoint(ctx, route, handlers[route])); err != nil {
			_ = svc.Stop()
			return nil, fmt.Errorf("session: add endpoint %s: %w", route, err)
		}
	}
	return svc, nil
}
