// Package allinone runs the whole of openqq in one process around an embedded NATS server:
// the default for a first run (`make run`): one QQ account and one WeChat account, both
// simulated by default, behind one gateway (/openqq/* and /openwx/*). Each service gets its
// own in-process connection, as it would get its own process in a distributed deployment.
package allinone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	envcfg "github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/health"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/services/gateway"
	"github.com/openqq/openqq/services/poller"
	"github.com/openqq/openqq/services/reporter"
	"github.com/openqq/openqq/services/session"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/host"
	"github.com/openqq/openqq/services/session/wxdriver"
	// The drivers DRIVER (QQ's) and WX_DRIVER (WeChat's) can name.
	_ "github.com/openqq/openqq/services/session/drivers"
)

// Config is everything the all-in-one run reads from the environment.
type Config struct {
	NATS    embednats.Config
	Session session.Config
	// Host is the session hosts' own settings (HOST_ID, LEASE_TTL, DEFAULT_CLIENT,
	// KV_REPLICAS): the all-in-one is one host, one per platform's prefix.
	Host     host.Config
	Gateway  gateway.Config
	Reporter reporter.Config
	Poller   poller.Config
	// WX is the WeChat account: the same session, reporter and poller variables with a WX_
	// prefix (WX_ACCOUNT, WX_DRIVER, WX_POST_API, WX_POLL_API, ...), none of which falls back
	// to QQ's. WX_ENABLED=false runs QQ alone.
	WX Account
	// Health is where the all-in-one serves /healthz and /readyz for all of it.
	Health health.Config
	// Terminal, if set, shows the login QR codes while a client waits for a scan.
	Terminal io.Writer
	// Ready, if set, is told where everything listens once it is up (tests listen on free
	// ports).
	Ready func(Addrs)
}

// Account is the second account of the run, on a platform of its own.
type Account struct {
	Switch
	Session  session.Config
	Reporter reporter.Config
	Poller   poller.Config
}

// Switch turns an account on or off. Its default, true, is the environment's; a Config built
// in code runs the account only if it says so.
type Switch struct {
	Enabled bool `envconfig:"ENABLED" default:"true"`
}

// WXPrefix is the prefix of the WeChat account's variables (WX_ACCOUNT, ...).
const WXPrefix = "WX"

// WXPlatform is the WeChat account's platform.
const WXPlatform = "wx"

// Addrs are where a running openqq listens.
type Addrs struct {
	HTTP    net.Addr   // the API: HTTP_ADDR's first address
	HTTPAll []net.Addr // every address of HTTP_ADDR, in its order
	NATS    string     // the NATS server's client URL ("" with NATS_DONT_LISTEN)
}

// Specs are the configuration structs for envconfig.
func (c *Config) Specs() []any {
	// The drivers read their own variables when they are opened; listed here, they show in
	// --help and a malformed one stops the start.
	specs := []any{&c.NATS, &c.Session, &c.Host, &c.Gateway, &c.Reporter, &c.Poller}
	specs = append(specs, driver.EnvSpecs()...)
	// The WeChat account's (wxAccount completes them): its platform is fixed; its reporter
	// and poller take the session's prefix (WX_SUBJECT_PREFIX, read once); the log level and
	// the media store (MEDIA_*) are the process's; SEND_INTERVAL and SEND_BURST are QQ's.
	specs = append(specs,
		envcfg.Prefixed{Prefix: WXPrefix, Spec: &c.WX.Switch},
		envcfg.Prefixed{Prefix: WXPrefix, Spec: &c.WX.Session, Omit: append([]string{"PLATFORM", "LOG_LEVEL", "SEND_INTERVAL", "SEND_BURST"}, mediaVars...)},
		envcfg.Prefixed{Prefix: WXPrefix, Spec: &c.WX.Reporter, Omit: append([]string{"PLATFORM", "SUBJECT_PREFIX"}, mediaVars...)},
		envcfg.Prefixed{Prefix: WXPrefix, Spec: &c.WX.Poller, Omit: []string{"PLATFORM", "SUBJECT_PREFIX"}},
	)
	return append(specs, wxdriver.EnvSpecs()...)
}

// mediaVars are the media store's variables: one store configuration for the process, the
// gateway's (MEDIA_*), which the WeChat account's services share.
var mediaVars = func() []string {
	var out []string
	for _, s := range envcfg.Settings("", media.Config{}) {
		out = append(out, s.Key)
	}
	return out
}()

// qqAccount makes the first account QQ's, whatever PLATFORM says: the all-in-one's accounts are
// one of each platform, and the WeChat one has its own WX_ settings.
func (c *Config) qqAccount() {
	c.Session.Platform, c.Reporter.Platform, c.Poller.Platform = events.PlatformQQ, events.PlatformQQ, events.PlatformQQ
}

// wxDriverFromDRIVER lets DRIVER name a WeChat driver that QQ has none of (DRIVER=wechaty make
// run, as `openqq-session` takes it with PLATFORM=wx): the WeChat account runs it, unless
// WX_DRIVER names another, and the QQ account keeps its default, sim. It reports whether it
// moved DRIVER.
func (c *Config) wxDriverFromDRIVER() (bool, error) {
	d := c.Session.Driver
	if slices.Contains(driver.Drivers(), d) || !slices.Contains(wxdriver.Drivers(), d) {
		return false, nil
	}
	if !c.WX.Enabled {
		return false, fmt.Errorf("DRIVER=%s is a WeChat driver, and WX_ENABLED=false: run it with WX_ENABLED=true (or WX_DRIVER=%s)", d, d)
	}
	if w := c.WX.Session.Driver; w != "" && w != defaultDriver && w != d {
		return false, fmt.Errorf("DRIVER=%s is a WeChat driver, and WX_DRIVER=%s names another", d, w)
	}
	c.WX.Session.Driver, c.Session.Driver = d, defaultDriver
	return true, nil
}

// defaultDriver is DRIVER's and WX_DRIVER's default.
const defaultDriver = "sim"

// wxAccount completes the WeChat account's configuration from the rest: its platform, one
// subject prefix for its session, reporter, poller and the gateway's /openwx (WX_SUBJECT_PREFIX,
// "wx" by default), and the process's log level.
func (c *Config) wxAccount() error {
	w := &c.WX
	w.Session.Platform = WXPlatform
	if w.Session.LogLevel == "" {
		w.Session.LogLevel = c.Session.LogLevel
	}
	// One variable, WX_SUBJECT_PREFIX, sets both; the session's default is QQ's (its fill
	// turns it into wx on the wx platform) and the gateway's is wx.
	prefix := w.Session.SubjectPrefix
	if prefix == "" || prefix == events.DefaultPrefix {
		prefix = c.Gateway.WxSubjectPrefix
	}
	if prefix == "" {
		prefix = wx.Prefix
	}
	if c.Gateway.WxSubjectPrefix != "" && c.Gateway.WxSubjectPrefix != prefix {
		return fmt.Errorf("WX_SUBJECT_PREFIX: the gateway serves /openwx on %q, the WeChat session is on %q", c.Gateway.WxSubjectPrefix, prefix)
	}
	w.Session.SubjectPrefix, c.Gateway.WxSubjectPrefix = prefix, prefix
	w.Session.Config, w.Reporter.Config = c.Gateway.Config, c.Gateway.Config // the media store's
	w.Reporter.Platform, w.Reporter.SubjectPrefix = WXPlatform, prefix
	w.Poller.Platform, w.Poller.SubjectPrefix = WXPlatform, prefix
	return nil
}

// account is one account's services while the run lasts.
type account struct {
	name    string     // its platform, "qq" or "wx": in the logs and the connections' names
	account string     // its ACCOUNT
	prefix  string     // its subject prefix
	sess    *host.Host // the session host of its prefix, its default account among its accounts
	rep     *reporter.Reporter
	pol     *poller.Poller

	stopSession, stopReporter, stopPoller context.CancelFunc
	sessDone, repDone, polDone            chan error
	ended                                 bool // Run has heard that its session returned
}

// Run starts the NATS server, the QQ session host and (unless WX_ENABLED=false) the WeChat
// one, the gateway, and for each platform a reporter and a poller (which deliver the accounts
// that have a POST_API or POLL_API: the process's own for the default account, or one given to
// start_client). It runs until ctx ends or every client is stopped (stop_client). A
// client that stops takes its own poller and reporter with it (after their drain) while the
// others run on. At the end, the gateway and the pollers stop first, so calls in flight still
// reach the sessions; then the sessions, which store their last words; then the reporters,
// once they have delivered them (within POST_DRAIN_TIMEOUT); the NATS server stops last.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	moved, err := cfg.wxDriverFromDRIVER()
	if err != nil {
		return err
	}
	if moved {
		log.Info("DRIVER names a WeChat driver: the WeChat account runs it, the QQ account runs sim", "driver", cfg.WX.Session.Driver)
	}
	cfg.qqAccount()
	if cfg.WX.Enabled {
		if err := cfg.wxAccount(); err != nil {
			return err
		}
	}
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
	// One account's services, on connections named after them (openqq-session,
	// openqq-session-wx, ...).
	build := func(name, suffix string, sc session.Config, rc reporter.Config, pc poller.Config) (*account, error) {
		a := &account{name: name}
		// The reporter and the poller run even without a POST_API or POLL_API of their own:
		// an account start_client starts may name its own (they follow the clients bucket).
		ncR, err := connect("openqq-reporter" + suffix)
		if err != nil {
			return nil, err
		}
		if a.rep, err = reporter.New(ncR, rc, log.With("platform", name)); err != nil {
			return nil, fmt.Errorf("%s reporter: %w", name, err)
		}
		ncP, err := connect("openqq-poller" + suffix)
		if err != nil {
			return nil, err
		}
		if a.pol, err = poller.New(ncP, pc, log.With("platform", name)); err != nil {
			return nil, fmt.Errorf("%s poller: %w", name, err)
		}
		nc, err := connect("openqq-session" + suffix)
		if err != nil {
			return nil, err
		}
		if a.sess, err = host.New(nc, sc, cfg.Host, log.With("platform", name)); err != nil {
			return nil, fmt.Errorf("%s session host: %w", name, err)
		}
		filled := sc.Filled()
		a.account, a.prefix = filled.Account, filled.SubjectPrefix
		return a, nil
	}
	qq, err := build("qq", "", cfg.Session, cfg.Reporter, cfg.Poller)
	if err != nil {
		return err
	}
	accounts := []*account{qq}
	if cfg.WX.Enabled {
		wxa, err := build("wx", "-wx", cfg.WX.Session, cfg.WX.Reporter, cfg.WX.Poller)
		if err != nil {
			return err
		}
		accounts = append(accounts, wxa)
	}
	ncG, err := connect("openqq-gateway")
	if err != nil {
		return err
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
	if cfg.Terminal != nil {
		logins := []login{{subj: events.Subjects{Prefix: qq.prefix}, app: "QQ"}}
		if cfg.WX.Enabled {
			logins = append(logins, login{subj: events.Subjects{Prefix: cfg.WX.Session.SubjectPrefix}, app: "微信 WeChat"})
		}
		stop, err := showLogins(ncG, logins, cfg.Terminal, consoleURL(ln.Addr().String()))
		if err != nil {
			return err
		}
		defer stop()
	}

	gwCtx, stopGateway := context.WithCancel(ctx)
	defer stopGateway()
	checks := []health.Check{}
	for _, a := range accounts {
		name := "client"
		if a != qq {
			name = "client-" + a.name
		}
		checks = append(checks, health.Check{Name: name, Ready: a.sess.Ready})
	}
	for name, nc := range conns {
		c := health.NATS(nc)
		c.Name = name
		checks = append(checks, c)
	}
	go health.Serve(gwCtx, cfg.Health, log, checks...)
	mountHealth(gw, health.Handler(checks...)) // and on the API's port too

	// Each session runs until it is stopped; the reporters outlive them: the clients' last
	// words (running → stop, then stop), stored as a session ends, are delivered before the
	// run ends, within POST_DRAIN_TIMEOUT.
	ended := make(chan *account, len(accounts))
	for _, a := range accounts {
		a.start(ctx, gwCtx, ended)
	}
	gwDone := make(chan error, 1)
	go func() { gwDone <- gw.Serve(gwCtx, lns...) }()
	log.Info("console", "url", consoleURL(ln.Addr().String()))
	if cfg.Ready != nil {
		a := Addrs{HTTP: ln.Addr()}
		for _, l := range lns {
			a.HTTPAll = append(a.HTTPAll, l.Addr())
		}
		if !cfg.NATS.DontListen {
			a.NATS = srv.ClientURL()
		}
		cfg.Ready(a)
	}

	var errs []error
	for running := len(accounts); running > 0; {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			running = 0
		case a := <-ended:
			running--
			a.ended = true
			errs = append(errs, <-a.sessDone)
			if running > 0 {
				log.Info("client stopped, the other accounts run on", "platform", a.name, "account", a.account)
				// Its poller, then its reporter once it has delivered the last words.
				a.stopPoller()
				errs = append(errs, <-a.polDone)
				a.stopReporter()
				errs = append(errs, <-a.repDone)
				a.polDone, a.repDone = nil, nil
			} else {
				log.Info("client stopped, every client has: shutting down", "platform", a.name, "account", a.account)
			}
		case gwErr := <-gwDone:
			stopGateway()
			errs = append(errs, gwErr)
			for _, a := range accounts {
				a.stopSession()
				a.stopReporter()
				errs = append(errs, a.wait()...)
			}
			return errors.Join(errs...)
		}
	}
	stopGateway()
	errs = append(errs, <-gwDone)
	for _, a := range accounts {
		a.stopPoller()
		if a.polDone != nil {
			errs = append(errs, <-a.polDone)
		}
	}
	for _, a := range accounts {
		if !a.ended {
			a.stopSession()
			errs = append(errs, <-a.sessDone)
		}
	}
	for _, a := range accounts {
		a.stopReporter()
		if a.repDone != nil {
			errs = append(errs, <-a.repDone)
		}
	}
	return errors.Join(errs...)
}

// start runs the account's session, reporter and poller; ended hears of the session's end.
// The poller ends with the gateway (pollCtx), the session and the reporter only when told.
func (a *account) start(ctx, pollCtx context.Context, ended chan<- *account) {
	var sessCtx, repCtx, polCtx context.Context
	sessCtx, a.stopSession = context.WithCancel(context.WithoutCancel(ctx))
	repCtx, a.stopReporter = context.WithCancel(context.WithoutCancel(ctx))
	polCtx, a.stopPoller = context.WithCancel(pollCtx)
	a.sessDone, a.repDone, a.polDone = make(chan error, 1), make(chan error, 1), make(chan error, 1)
	go func() {
		a.sessDone <- a.sess.Run(sessCtx)
		ended <- a
	}()
	if a.rep != nil {
		go func() { a.repDone <- a.rep.Run(repCtx) }()
	} else {
		a.repDone <- nil
	}
	if a.pol != nil {
		go func() { a.polDone <- a.pol.Run(polCtx) }()
	} else {
		a.polDone <- nil
	}
}

// wait collects what has not been collected of the account's results.
func (a *account) wait() []error {
	var errs []error
	if !a.ended {
		errs = append(errs, <-a.sessDone)
	}
	for _, c := range []chan error{a.polDone, a.repDone} {
		if c != nil {
			errs = append(errs, <-c)
		}
	}
	return errs
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
