// Package poller is Mojo-Webqq's and Mojo-Weixin's poll_api heartbeat, for every account of
// its prefix that has one: while the account is running it GETs its POLL_API (client=NAME
// merged for an account other than the default, and X-Openqq-Client) and waits; a redirect
// whose Location names /openqq/<route> (for the WeChat platform, /openwx/<route>) becomes a
// request on that account's <prefix>.api.<route> (<prefix>.api.<client>.<route>) with the
// Location's query as parameters, so a server outside can make the client call its own API.
// Any other Location is refused: a hostile poll server cannot make openqq fetch anything.
package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/logging"
	"github.com/openqq/openqq/pkg/infra/wait"
)

// Config is the poller's configuration, read from the environment.
type Config struct {
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// Platform is "qq" (redirects to /openqq/<route>) or "wx" (/openwx/<route>); when empty,
	// the first token of SUBJECT_PREFIX says, and any other prefix is QQ's.
	Platform string `envconfig:"PLATFORM"`
	// PollAPI is the heartbeat URL; without it the poller idles.
	PollAPI string `envconfig:"POLL_API"`
	// PollInterval is the pause after each answer or failure (Mojo: 5 s; 0 means 5 s).
	PollInterval time.Duration `envconfig:"POLL_INTERVAL" default:"5s"`
	// PollTimeout bounds one poll, which the server is expected to hold (Mojo: 120 s).
	PollTimeout time.Duration `envconfig:"POLL_TIMEOUT" default:"120s"`
	// PollConnectTimeout bounds connecting to the poll server (Mojo: 10 s).
	PollConnectTimeout time.Duration `envconfig:"POLL_CONNECT_TIMEOUT" default:"10s"`
	// PollReport POSTs the API's reply to a redirect back to POLL_API.
	PollReport bool `envconfig:"POLL_REPORT" default:"false"`
	// APITimeout bounds the API call a redirect turns into.
	APITimeout time.Duration `envconfig:"API_TIMEOUT" default:"10s"`
}

// fill gives zero fields their defaults (the `default` tags), so that a Config built in code
// needs only what it changes.
func (c *Config) fill() { config.Defaults(c) }

// platform is the platform's name: PLATFORM, or the one SUBJECT_PREFIX names (QQ's when
// neither says; New refuses an unknown PLATFORM).
func (c Config) platform() string {
	p, err := events.ResolvePlatform(c.Platform, c.SubjectPrefix)
	if err != nil {
		return events.PlatformQQ
	}
	return p
}

// Poller runs the heartbeat of every account of its prefix that has one: the default
// account's with POLL_API, and each other account's with the POLL_API of its ClientSpec in the
// clients bucket (Mojo's Controller took a client's poll_api only from its start_client
// parameters), as the specs come and go.
type Poller struct {
	nc     *nats.Conn
	qq     *client.Client
	cfg    Config
	subj   events.Subjects
	log    *slog.Logger
	client *http.Client
	// base is the default account's heartbeat; nil without POLL_API.
	base *heart

	mu     sync.Mutex
	cycles int
}

// heart is one account's heartbeat: its poll URL (client=NAME merged for an account other than
// the default), and its commands sent to that account's subjects.
type heart struct {
	p        *Poller
	client   string         // the account's name (events.DefaultClient for the default account)
	qq       *client.Client // the account's API
	pollURL  *url.URL
	interval time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	running bool
	changed chan struct{} // closed and replaced when running changes
}

// New validates cfg and builds a poller on nc. Zero fields take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Poller, error) {
	cfg.fill()
	if !events.ValidPrefix(cfg.SubjectPrefix) {
		return nil, fmt.Errorf("poller: SUBJECT_PREFIX %q is not a valid subject prefix", cfg.SubjectPrefix)
	}
	if _, err := events.ResolvePlatform(cfg.Platform, cfg.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("poller: %w", err)
	}
	var u *url.URL
	if cfg.PollAPI != "" {
		var err error
		if u, err = parsePollURL(cfg.PollAPI); err != nil {
			return nil, fmt.Errorf("poller: %w", err)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 0
	tr.TLSHandshakeTimeout = cfg.PollConnectTimeout
	dialer := &netDialer{timeout: cfg.PollConnectTimeout}
	tr.DialContext = dialer.DialContext
	log = log.With("svc", "poller")
	config.Log(log, "poller", &cfg)
	p := &Poller{
		nc: nc, cfg: cfg, subj: events.Subjects{Prefix: cfg.SubjectPrefix}, log: log,
		qq: client.New(nc, client.WithPrefix(cfg.SubjectPrefix), client.WithTimeout(cfg.APITimeout)),
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.PollTimeout,
			// Never follow a redirect: its Location is a command, read below.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if u != nil {
		p.base = p.newHeart(events.DefaultClient, u, cfg.PollInterval)
	}
	return p, nil
}

// parsePollURL reads a POLL_API.
func parsePollURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("POLL_API %q: want an http:// or https:// URL", config.MaskURL(raw))
	}
	return u, nil
}

func (p *Poller) newHeart(name string, u *url.URL, interval time.Duration) *heart {
	qq := p.qq
	log := p.log
	if !events.IsDefaultClient(name) {
		qq = p.qq.ForClient(name)
		log = log.With("client", name)
	}
	return &heart{p: p, client: name, qq: qq, pollURL: u, interval: interval, log: log, changed: make(chan struct{})}
}

// Run polls for every account while it is running, until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	showPollCycles()
	var wg sync.WaitGroup
	defer wg.Wait()
	if p.base == nil {
		p.log.Info("POLL_API not set: no heartbeat for the default account; the other accounts' from the clients bucket",
			"bucket", p.subj.ClientsBucket())
	} else {
		wg.Go(func() { p.base.run(ctx) })
	}
	view := p.qq.WatchAccounts(ctx, func(err error) { p.log.Warn("clients bucket", "err", err) })
	hearts := map[string]*runningHeart{}
	for {
		changed := view.Changes()
		p.reconcile(ctx, &wg, hearts, view.All())
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// runningHeart is an account's heartbeat running, and what it was started with.
type runningHeart struct {
	key  string // its URL and interval: a change restarts it
	stop context.CancelFunc
	done chan struct{}
}

// accountPoll is the part of an account's settings the poller reads (events.ClientDeliveryKeys).
type accountPoll struct {
	PollAPI      string        `envconfig:"POLL_API"`
	PollInterval time.Duration `envconfig:"POLL_INTERVAL"`
}

// accountHeart is the heartbeat an account's spec asks for: nil without POLL_API.
func (p *Poller) accountHeart(spec events.ClientSpec) (*heart, error) {
	s := accountPoll{PollInterval: p.cfg.PollInterval}
	vars := map[string]string{}
	for _, k := range events.ClientDeliveryKeys {
		if v, ok := spec.Settings[k]; ok {
			vars[k] = v
		}
	}
	if _, err := config.Apply("", &s, vars); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.PollAPI) == "" {
		return nil, nil
	}
	if s.PollInterval <= 0 {
		s.PollInterval = p.cfg.PollInterval
	}
	raw, err := events.ClientURL(strings.TrimSpace(s.PollAPI), spec.Client)
	if err != nil {
		return nil, fmt.Errorf("POLL_API %q: %w", config.MaskURL(s.PollAPI), err)
	}
	u, err := parsePollURL(raw)
	if err != nil {
		return nil, err
	}
	return p.newHeart(spec.Client, u, s.PollInterval), nil
}

// reconcile runs one heartbeat per account whose spec has a POLL_API, and stops the others'.
func (p *Poller) reconcile(ctx context.Context, wg *sync.WaitGroup, running map[string]*runningHeart, specs map[string]client.Account) {
	want := map[string]*heart{}
	for name, acc := range specs {
		if events.IsDefaultClient(name) {
			continue // the default account's is the poller's own POLL_API, as before accounts
		}
		h, err := p.accountHeart(acc.Spec)
		if err != nil {
			p.log.Error("account's POLL_API refused: no heartbeat for it", "client", name, "err", err)
			continue
		}
		if h != nil {
			want[name] = h
		}
	}
	for name, rh := range running {
		h, ok := want[name]
		if ok && h.key() == rh.key {
			continue
		}
		rh.stop()
		<-rh.done
		delete(running, name)
		p.log.Info("account heartbeat stopped", "client", name)
	}
	for name, h := range want {
		if _, ok := running[name]; ok {
			continue
		}
		hctx, stop := context.WithCancel(ctx)
		rh := &runningHeart{key: h.key(), stop: stop, done: make(chan struct{})}
		running[name] = rh
		wg.Go(func() {
			defer close(rh.done)
			h.run(hctx)
		})
	}
}

// key is what a heartbeat was started with.
func (h *heart) key() string { return h.pollURL.String() + " " + h.interval.String() }

// run polls while the account is running, until ctx ends.
func (h *heart) run(ctx context.Context) {
	fctx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	go h.followState(fctx)
	h.log.Info("heartbeat configured", "poll_api", config.MaskURL(h.pollURL.String()), "interval", h.interval)
	for ctx.Err() == nil {
		running, changed := h.state()
		if !running {
			select {
			case <-ctx.Done():
			case <-changed:
			}
			continue
		}
		// A poll in flight is cut short when the client stops running.
		pctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				cancel()
			case <-pctx.Done():
			}
		}()
		h.cycle(pctx)
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(h.interval):
		}
	}
}

// Cycles counts the polls made, over every account.
func (p *Poller) Cycles() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cycles
}

func (h *heart) state() (bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running, h.changed
}

func (h *heart) setRunning(r bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.running == r {
		return
	}
	h.running = r
	close(h.changed)
	h.changed = make(chan struct{})
	if r {
		h.log.Info("client running: polling")
	} else {
		h.log.Info("client not running: polling paused")
	}
}

// cycle is one poll: GET, then carry out a redirect if it names a route.
func (h *heart) cycle(ctx context.Context) {
	p := h.p
	p.mu.Lock()
	p.cycles++
	p.mu.Unlock()
	outcome := pollFailed
	defer func() {
		if outcome != "" {
			pollCycles.WithLabelValues(outcome).Inc()
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.pollURL.String(), nil)
	if err != nil {
		h.log.Error("poll", "err", err)
		return
	}
	req.Header.Set("User-Agent", platformOf(p.cfg.platform()).userAgent)
	req.Header.Set(events.HTTPHeaderClient, h.client)
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		// It quotes the URL in full, query and all: the poll URL may carry a key.
		err = config.MaskURLError(err, h.pollURL.String())
		if ctx.Err() == nil {
			h.log.Info("poll failed", "err", err, "took", time.Since(start).Round(time.Millisecond))
		} else {
			outcome = "" // cut short: the client stopped running
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // the body means nothing
	resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		outcome = pollAnswered
		h.log.Debug("poll answered", "status", resp.StatusCode, "took", time.Since(start).Round(time.Millisecond))
		return
	}
	loc := resp.Header.Get("Location")
	route, params, err := CommandFor(p.cfg.platform(), h.pollURL, loc)
	if err != nil {
		outcome = pollRefused
		// A hostile poll server chooses the Location: log a bounded part of it (the error
		// may quote it too).
		h.log.Warn("poll redirect refused", "location", logging.Clip(loc, logging.MaxValue), "location_bytes", len(loc), "err", logging.Clip(err.Error(), logging.MaxValue))
		return
	}
	// The command is the polling account's: its client= in the Location is only Mojo's echo
	// of the poll URL's (the gateway's rule: a route's client= names the account).
	delete(params, events.ParamClient)
	// A refusal is the API's answer to the command, reported as any other.
	reply, err := h.qq.Call(ctx, route, params)
	if reply == nil {
		h.log.Warn("poll command failed", "route", route, "err", err)
		return
	}
	outcome = pollCommand
	h.log.Info("poll command", "route", route, "reply_bytes", len(reply.Data), "code", client.Code(err))
	if p.cfg.PollReport {
		h.report(ctx, route, reply.Data)
	}
}

// apiPlatform is where a platform's redirects may point: its HTTP API's path prefix and
// routes.
type apiPlatform struct {
	path      *regexp.Regexp // the only paths a redirect may name: <prefix><route>
	isRoute   func(string) bool
	userAgent string
}

var apiPlatforms = map[string]apiPlatform{
	events.PlatformQQ: {
		path:    regexp.MustCompile(`^` + regexp.QuoteMeta(events.APIPathPrefix) + `([a-z_]+)$`),
		isRoute: events.IsRoute, userAgent: "openqq-poller/0.1 (Mojo-Webqq Openqq compatible)",
	},
	events.PlatformWX: {
		path:    regexp.MustCompile(`^` + regexp.QuoteMeta(wx.APIPathPrefix) + `([a-z_]+)$`),
		isRoute: wx.IsRoute, userAgent: "openqq-poller/0.1 (Mojo-Weixin Openwx compatible)",
	},
}

func platformOf(name string) apiPlatform {
	if p, ok := apiPlatforms[name]; ok {
		return p
	}
	return apiPlatforms[events.PlatformQQ]
}

// ErrRefused is wrapped by every Location Command will not carry out.
var ErrRefused = errors.New("not an API <route> location of the platform (/openqq/ or /openwx/)")

// Command is CommandFor the QQ platform: the path must be /openqq/<route>.
func Command(base *url.URL, location string) (string, events.Params, error) {
	return CommandFor(events.PlatformQQ, base, location)
}

// CommandFor reads a redirect's Location (relative to the poll URL) as an API call of a
// platform: the path must be /openqq/<route> of a QQ route, or /openwx/<route> of an Openwx
// route for "wx", over http or https; the host does not matter (the call goes to our own API
// over NATS, never to that host). Everything else is ErrRefused.
func CommandFor(platform string, base *url.URL, location string) (string, events.Params, error) {
	pl := platformOf(platform)
	if location == "" {
		return "", nil, fmt.Errorf("%w: no Location", ErrRefused)
	}
	ref, err := url.Parse(location)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	u := base.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", nil, fmt.Errorf("%w: scheme %q", ErrRefused, u.Scheme)
	}
	if u.RawPath != "" && u.RawPath != u.Path {
		return "", nil, fmt.Errorf("%w: encoded path %q", ErrRefused, u.RawPath)
	}
	m := pl.path.FindStringSubmatch(u.Path)
	if m == nil || !pl.isRoute(m[1]) {
		return "", nil, fmt.Errorf("%w: path %q", ErrRefused, u.Path)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("%w: query: %w", ErrRefused, err)
	}
	// The gateway's own rules for a query, so that a poll server cannot send what an HTTP
	// caller could not.
	params := events.Params{}
	if err := events.MergeValues(params, q); err != nil {
		return "", nil, fmt.Errorf("%w: query: %w", ErrRefused, err)
	}
	delete(params, "access_token")
	return m[1], params, nil
}

// report POSTs the API's reply to POLL_API (POLL_REPORT=1): the body is the reply JSON, and
// X-Openqq-Route names the route.
func (h *heart) report(ctx context.Context, route string, reply []byte) {
	ctx, cancel := context.WithTimeout(ctx, h.p.cfg.APITimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.pollURL.String(), bytes.NewReader(reply))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(events.HTTPHeaderRoute, route)
	req.Header.Set(events.HTTPHeaderClient, h.client)
	resp, err := h.p.client.Do(req)
	if err != nil {
		h.log.Info("poll report failed", "route", route)
		return
	}
	resp.Body.Close()
}

// followState keeps track of whether the client is running: get_client_info first, then every
// state_change from the stream.
func (h *heart) followState(ctx context.Context) {
	for ctx.Err() == nil {
		if st, err := h.clientState(ctx); err == nil {
			h.setRunning(st == events.StateRunning)
			break
		}
		_ = wait.Sleep(ctx, time.Second)
	}
	opts := client.ConsumeOptions{
		Names: []string{events.EventStateChange}, Stream: true, Deliver: client.DeliverLastPerName,
		OnError: func(_ *client.Item, err error) { h.log.Debug("state_change not read", "err", err) },
	}
	for ctx.Err() == nil {
		err := h.qq.Consume(ctx, opts, func(_ context.Context, it *client.Item) error {
			var from, to events.State
			if err := it.Params(&from, &to); err != nil {
				return err
			}
			h.setRunning(to == events.StateRunning)
			return nil
		})
		if err == nil {
			return // ctx ended
		}
		h.log.Info("waiting for the event stream", "err", err)
		_ = wait.Sleep(ctx, time.Second)
	}
}

// clientState reads the state of get_client_info's reply, and only it: the rest differs by
// platform (Openwx's http_debug is a string, Openqq's a number).
func (h *heart) clientState(ctx context.Context) (events.State, error) {
	reply, err := h.qq.Call(ctx, events.RouteGetClientInfo, nil)
	if err != nil {
		return "", err
	}
	var info struct {
		State events.State `json:"state"`
	}
	if err := json.Unmarshal(reply.Data, &info); err != nil {
		return "", fmt.Errorf("get_client_info: %w", err)
	}
	return info.State, nil
}
