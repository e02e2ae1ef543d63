// Package qq is the QQ platform of the session engine: Mojo-Webqq's Openqq routes over a QQ
// driver (services/session/driver), the QQ roster, and the reports the driver's news become.
// The engine (services/session/engine) runs it: login loop, publisher, check_event, micro
// service.
package qq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/roster"
)

// Config is the QQ platform's own configuration; the shared settings are engine.Config's.
type Config struct {
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
	// MembersMax bounds the distinct members of one shutup or kick (each is a driver call).
	MembersMax int `envconfig:"MEMBERS_MAX" default:"100"`
	// The media store (MEDIA_*): the pictures sent and received, in the bucket
	// events.Subjects.MediaBucket names (QQ_MEDIA), as the wx platform's.
	media.Config
}

// Platform is one QQ account on an engine.
type Platform struct {
	e     *engine.Engine
	cfg   Config
	log   *slog.Logger
	drv   driver.Driver
	caps  driver.Capabilities // what drv declared when it was opened
	media *media.Store

	ro *roster.Roster // under the engine's roster lock; nil between logins
}

var (
	_ engine.Platform = (*Platform)(nil)
	_ engine.Metadata = (*Platform)(nil)
	_ driver.Sink     = (*Platform)(nil) // the platform is the driver's Sink
)

// New opens the QQ driver for the engine e. Zero fields of cfg take their defaults.
func New(e *engine.Engine, cfg Config) (*Platform, error) {
	config.Defaults(&cfg)
	if cfg.MembersMax < 0 {
		return nil, fmt.Errorf("MEMBERS_MAX must be positive, got %d", cfg.MembersMax)
	}
	ec := e.Config()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := media.Open(ctx, e.JetStream(), e.Subjects().MediaBucket(), cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	d, err := driver.Open(cfg.Driver, cfg.DriverConfig, driver.Params{
		Account: ec.Account, Log: e.Log(), SendInterval: cfg.SendInterval, SendBurst: cfg.SendBurst,
	})
	if err != nil {
		return nil, err
	}
	return &Platform{e: e, cfg: cfg, log: e.Log(), drv: d, caps: d.Capabilities(), media: st}, nil
}

// Driver returns the platform's driver (tests read the sim's state through it).
func (q *Platform) Driver() driver.Driver { return q.drv }

// Media returns the platform's media store.
func (q *Platform) Media() *media.Store { return q.media }

// Engine returns the engine the platform runs on.
func (q *Platform) Engine() *engine.Engine { return q.e }

// ServiceName is Openqq's micro service, "openqq".
func (q *Platform) ServiceName() string { return events.ServiceName }

// Description describes the micro service.
func (q *Platform) Description() string {
	return "Mojo-Webqq Openqq API for account " + q.e.Config().Account
}

// Metadata adds the driver's name to the micro service's metadata.
func (q *Platform) Metadata() map[string]string { return map[string]string{"driver": q.cfg.Driver} }

// Handlers is Openqq's route table.
func (q *Platform) Handlers() map[string]engine.Handler { return q.handlers() }

// AnswersBeforeRunning tells Openqq's routes answered in any state.
func (q *Platform) AnswersBeforeRunning(route string) bool { return events.AnswersBeforeRunning(route) }

// Run runs the driver once. driver.ErrFatal becomes the engine's: logging in again cannot help.
func (q *Platform) Run(ctx context.Context) error {
	err := q.drv.Run(ctx, q)
	if errors.Is(err, driver.ErrFatal) {
		return fmt.Errorf("%w: %w", engine.ErrFatal, err)
	}
	return err
}

// LoggedOut forgets the roster.
func (q *Platform) LoggedOut() {
	q.e.Lock()
	q.ro = nil
	q.e.Changed()
	q.e.Unlock()
}

// CanInject tells whether the driver declared an Injector.
func (q *Platform) CanInject() bool { return q.caps.Injector != nil }

// Inject hands an events.Injection to the driver's Injector; the reply names the message it
// made (no id for a change).
func (q *Platform) Inject(ctx context.Context, data []byte) (any, error) {
	if q.caps.Injector == nil {
		return nil, engine.ErrNoInjector
	}
	var in events.Injection
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, events.ErrBadRequest("injection: %v", err)
	}
	id, err := q.caps.Injector.Inject(ctx, in)
	if err != nil {
		return nil, err
	}
	return events.InjectReply{Code: events.CodeOK, ID: id, Status: "success"}, nil
}

// publishMessage publishes a message report under its message id.
func (q *Platform) publishMessage(m *events.Message) error {
	return q.e.PublishItem(m, strconv.FormatInt(m.ID, 10))
}
