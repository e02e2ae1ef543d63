// Package session runs one account: the platform-neutral engine (services/session/engine:
// client state, login loop, publisher, check_event, the micro service) with the account's
// platform on it, QQ (services/session/qq, Openqq's routes over a QQ driver) by default. It
// serves every route as a NATS micro service on <prefix>.api.<route>, and publishes every
// message and event on <prefix>.events.<name>.
package session

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/qq"
	wxplat "github.com/openqq/openqq/services/session/wx"
)

// Version is openqq's version, reported by get_client_info and the micro service.
const Version = engine.Version

// StreamConfig sets the limits of the event stream.
type StreamConfig = engine.StreamConfig

// CheckEventConfig is check_event's long poll.
type CheckEventConfig = engine.CheckEventConfig

// ErrOutboxFull is a report refused because NATS has been away for long enough to fill the
// outbox.
var ErrOutboxFull = engine.ErrOutboxFull

// Config is the session's configuration, read from the environment.
type Config struct {
	// Platform is the account's chat platform: a name of platforms ("qq", or "wx": WeChat's
	// Openwx, whose prefix is then wx unless SUBJECT_PREFIX says otherwise). Unset, the
	// subject prefix names it (events.ResolvePlatform), as for the reporter and the poller:
	// SUBJECT_PREFIX=wx alone is a WeChat session.
	Platform string `envconfig:"PLATFORM"`
	// SubjectPrefix is the first token of every subject (qq.api.*, qq.events.*).
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// Account names the client in get_client_info and the QR code file, as Mojo's account.
	Account string `envconfig:"ACCOUNT" default:"default"`
	// Client is the account's Controller name, a token of its subjects: "" for the default
	// account (engine.Config's Client). A session host sets it.
	Client string `ignored:"true"`
	// Carry are reports an earlier run of the account left unstored (engine.Config's Carry). A
	// session host sets it.
	Carry []*nats.Msg `ignored:"true"`
	// SharedFeed says that the session host feeds check_event from one consumer for all its
	// accounts (engine.Config's SharedFeed).
	SharedFeed bool `ignored:"true"`
	// Driver names the connection, a driver registered with driver.Register by a package
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
	// ConsultMax bounds the wx platform's consult calls waiting for an answer at once.
	ConsultMax int `envconfig:"CONSULT_MAX" default:"256"`
	CheckEventConfig
	// The media store of either platform (MEDIA_*).
	media.Config
	// OnState and StreamManaged are engine.Config's, set by a session host.
	OnState       func(prev, cur events.State) `ignored:"true"`
	StreamManaged bool                         `ignored:"true"`
}

// fill gives zero fields their defaults, as Mojo's `|| default` did, so that a Config built in
// code needs only what it changes.
func (c *Config) fill() {
	config.Defaults(c)
	if c.Platform == "" {
		if p, ok := events.PlatformOf(c.SubjectPrefix); ok {
			c.Platform = p
		} else {
			c.Platform = events.PlatformQQ
		}
	}
	if c.Platform == wx.Prefix {
		// The WeChat platform's own subjects (wx.api.*, WX_EVENTS) and Openwx's
		// post_event_list, unless they were given: the QQ defaults would share QQ's stream.
		if c.SubjectPrefix == events.DefaultPrefix {
			c.SubjectPrefix = wx.Prefix
		}
		if c.PostEventList == nil {
			c.PostEventList = wx.DefaultPostEventList
		}
	}
	if c.PostEventList == nil {
		c.PostEventList = events.DefaultPostEventList
	}
}

// Filled is c with its defaults (the platform resolved from the prefix and the other way
// round), as New runs it.
func (c Config) Filled() Config {
	c.fill()
	return c
}

// Engine is the engine's part of the configuration.
func (c Config) Engine() engine.Config {
	return engine.Config{
		SubjectPrefix: c.SubjectPrefix, Account: c.Account, Client: c.Client, Carry: c.Carry, SharedFeed: c.SharedFeed, DriverTimeout: c.DriverTimeout,
		ControlDelay: c.ControlDelay, LogLevel: c.LogLevel, Stream: c.Stream, OutboxSize: c.OutboxSize,
		CheckEventConfig: c.CheckEventConfig, OnState: c.OnState, StreamManaged: c.StreamManaged,
	}
}

// QQ is the QQ platform's part of the configuration.
func (c Config) QQ() qq.Config {
	return qq.Config{
		Driver: c.Driver, DriverConfig: c.DriverConfig, SendInterval: c.SendInterval,
		SendBurst: c.SendBurst, MembersMax: c.MembersMax, Config: c.Config,
	}
}

// WX is the WeChat platform's part of the configuration.
func (c Config) WX() wxplat.Config {
	return wxplat.Config{
		Driver: c.Driver, DriverConfig: c.DriverConfig, MembersMax: c.MembersMax, ConsultMax: c.ConsultMax, Config: c.Config,
	}
}

// A builder makes the platform PLATFORM names, on the engine it is given.
type builder func(cfg Config, e *engine.Engine) (engine.Platform, error)

// platforms are the platforms PLATFORM can name. Adding one is one line here.
var platforms = map[string]builder{
	"qq": func(cfg Config, e *engine.Engine) (engine.Platform, error) { return qq.New(e, cfg.QQ()) },
	"wx": func(cfg Config, e *engine.Engine) (engine.Platform, error) { return wxplat.New(e, cfg.WX()) },
}

// Session is one account's session: an engine and its platform.
type Session struct {
	e    *engine.Engine
	plat engine.Platform
}

// New builds a session, its platform and its driver. Zero fields of cfg take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Session, error) {
	cfg.fill()
	build, ok := platforms[cfg.Platform]
	if !ok {
		return nil, fmt.Errorf("session: unknown PLATFORM %q (known: %s)", cfg.Platform,
			strings.Join(slices.Sorted(maps.Keys(platforms)), ", "))
	}
	if log == nil {
		log = slog.Default()
	}
	config.Log(log.With("svc", "session"), "session", &cfg)
	e, err := engine.New(nc, cfg.Engine(), log, func(e *engine.Engine) (engine.Platform, error) { return build(cfg, e) })
	if err != nil {
		return nil, err
	}
	return &Session{e: e, plat: e.Platform()}, nil
}

// Driver returns the session's QQ driver (tests read the sim's state through it); nil on a
// platform that has no QQ driver.
func (s *Session) Driver() driver.Driver {
	if d, ok := s.plat.(interface{ Driver() driver.Driver }); ok {
		return d.Driver()
	}
	return nil
}

// Engine is the session's engine.
func (s *Session) Engine() *engine.Engine { return s.e }

// Platform is the session's platform.
func (s *Session) Platform() engine.Platform { return s.plat }

// Run serves the API and keeps the account logged in until ctx ends or stop_client is called;
// either way it reports the stop and returns nil.
func (s *Session) Run(ctx context.Context) error { return s.e.Run(ctx) }

// Ready is nil while the client is running: the session's readiness.
func (s *Session) Ready() error { return s.e.Ready() }

// ClientState returns the client state.
func (s *Session) ClientState() events.State { return s.e.State() }

// CheckEventFed is the stream sequence of the latest item check_event's feed has taken (into
// the buffer or to a waiting caller), 0 before the first: what a test waits on before a call
// that must find an item it published.
func (s *Session) CheckEventFed() uint64 { return s.e.CheckEventFed() }

// CheckEventWaiting is how many check_event calls wait for an item now.
func (s *Session) CheckEventWaiting() int { return s.e.CheckEventWaiting() }
