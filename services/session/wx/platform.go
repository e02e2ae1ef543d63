// Package wx is the WeChat platform of the session engine: Mojo-Weixin's Openwx routes
// (/openwx/*, served on wx.api.<route> by the micro service "openwx") over a WeChat driver
// (services/session/wxdriver), the WeChat roster (wxroster), the media store
// (pkg/infra/media), and the Openwx reports the driver's news become (wx.events.<name>, stream
// WX_EVENTS). The engine (services/session/engine) runs it: login loop, publisher,
// check_event, control routes.
package wx

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Config is the WeChat platform's own configuration; the shared settings are engine.Config's,
// the media store's are media.Config's (MEDIA_*).
type Config struct {
	// Driver names the WeChat connection, a driver registered with wxdriver.Register by a
	// package the binary imports: "sim", the simulated account (wxdriver/sim).
	Driver string `envconfig:"DRIVER" default:"sim"`
	// DriverConfig is the driver's configuration built in code (sim.Config); nil: the driver
	// reads its own variables (WX_SIM_*).
	DriverConfig any `ignored:"true"`
	// MembersMax bounds the distinct ids of one create_group, invite_friend or
	// kick_group_member (each is a call to WeChat).
	MembersMax int `envconfig:"MEMBERS_MAX" default:"100"`
	// ConsultMax bounds the consult calls waiting for an answer at once; one more is refused.
	ConsultMax int `envconfig:"CONSULT_MAX" default:"256"`
	media.Config
}

// Platform is one WeChat account on an engine.
type Platform struct {
	e     *engine.Engine
	cfg   Config
	log   *slog.Logger
	drv   wxdriver.Driver
	caps  wxdriver.Capabilities
	media *media.Store

	avatarWait atomic.Int64 // get_avatar's wait for the driver, in nanoseconds (tests shorten it)

	answers  *answers      // consult calls waiting for their friend
	consults chan struct{} // bounds them (ConsultMax)
	ctx      context.Context
	stop     context.CancelFunc

	ro *wxroster.Roster // under the engine's roster lock; nil between logins
}

var (
	_ engine.Platform        = (*Platform)(nil)
	_ engine.Metadata        = (*Platform)(nil)
	_ engine.CheckEventNamer = (*Platform)(nil)
	_ wxdriver.Sink          = (*Platform)(nil) // the platform is the driver's Sink
)

// Defaults gives an engine configuration Openwx's defaults where it has none: the
// post_event_list of Openwx's code (with friend_request and the roster changes), and the
// subject prefix wx.
func Defaults(ec *engine.Config) {
	if ec.SubjectPrefix == "" {
		ec.SubjectPrefix = wx.Prefix
	}
	if ec.PostEventList == nil {
		ec.PostEventList = wx.DefaultPostEventList
	}
}

// New opens the WeChat driver and the media store for the engine e. Zero fields of cfg take
// their defaults.
func New(e *engine.Engine, cfg Config) (*Platform, error) {
	config.Defaults(&cfg)
	if cfg.MembersMax <= 0 {
		return nil, fmt.Errorf("MEMBERS_MAX must be positive, got %d", cfg.MembersMax)
	}
	if cfg.ConsultMax <= 0 {
		return nil, fmt.Errorf("CONSULT_MAX must be positive, got %d", cfg.ConsultMax)
	}
	ec := e.Config()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := media.Open(ctx, e.JetStream(), e.Subjects().MediaBucket(), cfg.Config)
	if err != nil {
		return nil, fmt.Errorf("media store: %w", err)
	}
	d, err := wxdriver.Open(cfg.Driver, cfg.DriverConfig, wxdriver.Params{Account: ec.Account, Log: e.Log()})
	if err != nil {
		return nil, err
	}
	pctx, stop := context.WithCancel(context.Background())
	w := &Platform{
		e: e, cfg: cfg, log: e.Log(), drv: d, caps: d.Capabilities(), media: st,
		answers: newAnswers(), consults: make(chan struct{}, cfg.ConsultMax), ctx: pctx, stop: stop,
	}
	w.avatarWait.Store(int64(avatarWait))
	return w, nil
}

// Build is engine.New's build func for a WeChat platform of cfg.
func Build(cfg Config) func(*engine.Engine) (engine.Platform, error) {
	return func(e *engine.Engine) (engine.Platform, error) { return New(e, cfg) }
}

// Driver returns the platform's driver (tests read the sim's state through it).
func (w *Platform) Driver() wxdriver.Driver { return w.drv }

// Media returns the platform's media store.
func (w *Platform) Media() *media.Store { return w.media }

// Engine returns the engine the platform runs on.
func (w *Platform) Engine() *engine.Engine { return w.e }

// ServiceName is "openwx".
func (w *Platform) ServiceName() string { return wx.ServiceName }

// Description describes the micro service.
func (w *Platform) Description() string {
	return "Mojo-Weixin Openwx API for account " + w.e.Config().Account
}

// Metadata names the driver in the micro service's metadata.
func (w *Platform) Metadata() map[string]string {
	return map[string]string{"driver": w.cfg.Driver, "platform": wx.Prefix}
}

// CheckEventNames are Openwx's: its message types (group_notice too) and the chosen events
// but the client's own and update_*.
func (w *Platform) CheckEventNames(postEvent bool, list []string) []string {
	return wx.CheckEventNames(postEvent, list)
}

// AnswersBeforeRunning: get_client_info and stop_client answer in every state.
func (w *Platform) AnswersBeforeRunning(route string) bool { return wx.AnswersBeforeRunning(route) }

// Run is one login: the driver runs with the platform as its Sink.
func (w *Platform) Run(ctx context.Context) error { return w.drv.Run(ctx, w) }

// LoggedOut forgets the roster, whose ids are the ended login's, and ends the consult calls
// waiting on them (they answer "reply timeout").
func (w *Platform) LoggedOut() {
	w.e.Lock()
	w.ro = nil
	w.e.Changed()
	w.e.Unlock()
	w.answers.endAll()
}

// CanInject tells whether the driver declared an Injector: the engine then serves
// wx.sim.inject while a login lasts.
func (w *Platform) CanInject() bool { return w.caps.Injector != nil }

// Inject hands a wx.Injection to the driver's Injector; its wx.InjectReply names the message
// by its string id, and a friend request by its ticket.
func (w *Platform) Inject(ctx context.Context, data []byte) (any, error) {
	if w.caps.Injector == nil {
		return nil, engine.ErrNoInjector
	}
	var in wx.Injection
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, events.ErrBadRequest("injection: %v", err)
	}
	return w.caps.Injector.Inject(ctx, in)
}

// Close ends what the platform runs beside the engine: consult calls still waiting answer at
// once with a time-out.
func (w *Platform) Close() { w.stop() }

// roster runs f under the read lock with the roster; "not ready" between logins.
func (w *Platform) roster(f func(ro *wxroster.Roster) error) error {
	w.e.RLock()
	defer w.e.RUnlock()
	if w.ro == nil {
		return events.ErrNotReady(w.e.State())
	}
	return f(w.ro)
}
