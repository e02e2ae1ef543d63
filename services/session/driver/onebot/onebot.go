// Package onebot is the driver that reaches a real QQ account through a OneBot v11
// implementation (NapCat, Lagrange.OneBot, LLOneBot, go-cqhttp) over WebSocket: it dials the
// implementation's forward WebSocket (ONEBOT_URL), or takes the implementation's reverse
// WebSocket connection (ONEBOT_REVERSE_ADDR). It maps the roster, the sends and the events
// both ways, as ../shared/ONEBOT.md lays out.
//
// It registers itself as the driver "onebot", configured by ONEBOT_* variables (Config) and
// the session's SEND_INTERVAL and SEND_BURST.
package onebot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

// Config configures the driver; the session reads it from ONEBOT_* variables.
type Config struct {
	// URL is the implementation's forward WebSocket (ws://127.0.0.1:3001 for NapCat's default).
	URL string `envconfig:"URL"`
	// ReverseAddr is where the driver listens for the implementation's reverse WebSocket
	// (any path), instead of dialing URL.
	ReverseAddr string `envconfig:"REVERSE_ADDR"`
	// AccessToken is the implementation's token: sent as Authorization: Bearer, and required
	// of a reverse connection (Bearer, Token or ?access_token). Empty is refused unless the
	// peer is on loopback.
	AccessToken string `envconfig:"ACCESS_TOKEN"`
	// CallTimeout bounds one action; metadata calls can take seconds on NapCat.
	CallTimeout time.Duration `envconfig:"CALL_TIMEOUT" default:"10s"`
	// IdleTimeout is how long a silent peer counts as alive when it sends no heartbeat;
	// with heartbeats, three missed intervals end the connection.
	IdleTimeout time.Duration `envconfig:"IDLE_TIMEOUT" default:"90s"`
	// ReconnectMin and ReconnectMax bound the back-off between dials.
	ReconnectMin time.Duration `envconfig:"RECONNECT_MIN" default:"1s"`
	ReconnectMax time.Duration `envconfig:"RECONNECT_MAX" default:"60s"`
	// UpdateInterval is how often the roster is fetched again and compared, as Mojo's
	// update_interval: OneBot has no event for a lost friend.
	UpdateInterval time.Duration `envconfig:"UPDATE_INTERVAL" default:"10m"`
	// DedupWindow is how long an event's id is remembered to drop the peer's duplicates.
	DedupWindow time.Duration `envconfig:"DEDUP_WINDOW" default:"5m"`
	// MediaURL sends a picture that came from an http(s) URL as that URL, for the
	// implementation to fetch, instead of its bytes as base64://.
	MediaURL bool `envconfig:"MEDIA_URL"`
	// MediaMax bounds a received picture fetched from its url (bytes); a larger one is
	// reported as [图片] without its bytes.
	MediaMax int64 `envconfig:"MEDIA_MAX" default:"33554432"`

	// SendInterval and SendBurst are the session's SEND_INTERVAL and SEND_BURST
	// (driver.Params), which the registered driver takes over; an interval of 0 sends without
	// limit.
	SendInterval time.Duration `ignored:"true"`
	SendBurst    int           `ignored:"true"`
	// OnListen, if set, is told where the reverse WebSocket listens (tests use port 0).
	OnListen func(net.Addr) `ignored:"true"`
}

// fill gives zero fields their defaults (the `default` tags).
func (c *Config) fill() {
	config.Defaults(c)
	c.ReconnectMax = max(c.ReconnectMax, c.ReconnectMin)
	if c.SendBurst <= 0 {
		c.SendBurst = 1
	}
}

// Driver is a QQ account behind a OneBot v11 implementation.
type Driver struct {
	cfg     Config
	log     *slog.Logger
	limiter *rate.Limiter
	seen    *dedup
	sends   inflight // our sends still waiting for their answer

	// everConnected is set once a connection worked: a refused token after that is the
	// peer's configuration changing, worth retrying, not a mistake at start.
	everConnected bool

	mu       sync.Mutex
	conn     *conn          // the live connection, nil while there is none
	ro       *roster.Roster // the account's roster as the implementation last told it
	self     int64
	noCats   bool                // get_friends_with_category failed: not NapCat
	requests map[string]*request // friend and group requests not answered yet, by flag
	ownSends map[int64]time.Time // ids of messages this driver sent, not to report twice
}

var (
	_ driver.Driver   = (*Driver)(nil)
	_ driver.Requests = (*Driver)(nil)
)

func init() {
	driver.Register("onebot", "ONEBOT", func(cfg Config, p driver.Params) (driver.Driver, error) {
		cfg.SendInterval, cfg.SendBurst = p.SendInterval, p.SendBurst
		return New(cfg, p.Log)
	})
}

// Capabilities declares everything a OneBot account does beyond WebQQ: friend and group
// requests, messages sent from elsewhere, property changes, faces and pictures.
func (d *Driver) Capabilities() driver.Capabilities {
	return driver.Capabilities{Requests: d, SentElsewhere: true, Properties: true, Faces: true, Media: true}
}

// New checks the configuration. It does not connect: Run does.
func New(cfg Config, log *slog.Logger) (*Driver, error) {
	cfg.fill()
	if log == nil {
		log = slog.Default()
	}
	switch {
	case cfg.URL == "" && cfg.ReverseAddr == "":
		return nil, errors.New("onebot: set ONEBOT_URL (the implementation's forward WebSocket) or ONEBOT_REVERSE_ADDR (where it connects to)")
	case cfg.URL != "" && cfg.ReverseAddr != "":
		return nil, errors.New("onebot: set ONEBOT_URL or ONEBOT_REVERSE_ADDR, not both")
	}
	var host string
	if cfg.URL != "" {
		u, err := url.Parse(cfg.URL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("onebot: ONEBOT_URL %q is not a ws:// or wss:// URL", config.MaskURL(cfg.URL))
		}
		host = u.Hostname()
		if cfg.AccessToken == "" && u.Query().Get("access_token") != "" {
			cfg.AccessToken = u.Query().Get("access_token")
		}
	} else {
		h, _, err := net.SplitHostPort(cfg.ReverseAddr)
		if err != nil {
			return nil, fmt.Errorf("onebot: ONEBOT_REVERSE_ADDR %q: %w", cfg.ReverseAddr, err)
		}
		host = h
	}
	// An open OneBot endpoint is an open QQ account: instances with empty tokens were
	// abused in 2025 (NapCatDocs security.md).
	if cfg.AccessToken == "" && !loopback(host) {
		return nil, fmt.Errorf("onebot: ONEBOT_ACCESS_TOKEN is empty and the peer is not on loopback (%q): set the same token here and on the OneBot implementation", host)
	}
	lim := rate.NewLimiter(rate.Inf, 0)
	if cfg.SendInterval > 0 {
		lim = rate.NewLimiter(rate.Every(cfg.SendInterval), cfg.SendBurst)
	}
	return &Driver{
		cfg: cfg, log: log.With("driver", "onebot"), limiter: lim, seen: newDedup(cfg.DedupWindow),
		requests: map[string]*request{}, ownSends: map[int64]time.Time{},
	}, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run connects, keeps the account's roster and reports its traffic until ctx ends. A lost
// peer is not the end: the state goes back to loading (the documented "peer away" state),
// the driver reconnects (or waits for the peer to, with the reverse WebSocket), fetches the
// roster again and reports running. A refused token before any connection worked is fatal.
func (d *Driver) Run(ctx context.Context, sink driver.Sink) error {
	if d.cfg.ReverseAddr != "" {
		return d.runReverse(ctx, sink)
	}
	return d.runForward(ctx, sink)
}

func (d *Driver) runForward(ctx context.Context, sink driver.Sink) error {
	target := config.MaskURL(d.cfg.URL)
	for attempt := 0; ; attempt++ {
		c, err := d.dial(ctx)
		if err == nil {
			attempt = 0
			err = d.serve(ctx, c, sink)
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errAuth) {
			if !d.everConnected {
				return fmt.Errorf("onebot: %s refused the access token (ONEBOT_ACCESS_TOKEN must be the implementation's token): %w: %w", target, driver.ErrFatal, err)
			}
			d.log.Error("onebot: access token refused", "url", target, "err", err)
		}
		pause := backoff(attempt, d.cfg.ReconnectMin, d.cfg.ReconnectMax)
		d.log.Warn("onebot: not connected, dialing again", "url", target, "err", err, "in", pause.Round(time.Millisecond))
		sink.State(events.StateLoading)
		if wait.Sleep(ctx, pause) != nil {
			return nil
		}
	}
}

// backoff doubles from lo up to hi, and picks at random in its upper half so that many
// clients of one restarted peer do not dial it in step.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for range min(attempt, 30) {
		d *= 2
		if d >= hi {
			d = hi
			break
		}
	}
	return d/2 + rand.N(d/2+1)
}

// current is the live connection, or nil.
func (d *Driver) current() *conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn
}

// serve runs one connection: fetch the roster, report running, then handle its events and
// refresh the roster on a timer until it ends. It returns why it ended.
func (d *Driver) serve(ctx context.Context, c *conn, sink driver.Sink) error {
	defer c.close()
	sess := &session{d: d, c: c, sink: sink, online: true}
	if err := sess.login(ctx); err != nil {
		if errors.Is(c.err(), errAuth) {
			return c.err()
		}
		return err
	}
	d.everConnected = true
	defer func() {
		d.mu.Lock()
		if d.conn == c {
			d.conn = nil
		}
		d.mu.Unlock()
	}()

	update := time.NewTicker(d.cfg.UpdateInterval)
	defer update.Stop()
	for {
		items, ok := c.events.pop()
		for _, raw := range items {
			sess.handle(ctx, raw)
		}
		if !ok {
			return c.err()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.events.wake:
		case <-update.C:
			if sess.online {
				sess.refresh(ctx)
			}
		}
	}
}
