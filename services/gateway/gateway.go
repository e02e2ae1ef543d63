// Package gateway is openqq's HTTP front: it turns each /openqq/<route> call (GET or POST;
// query, form, multipart or JSON parameters) into a NATS request on qq.api.<route> and writes
// the session's reply back unchanged, with Mojo-Webqq's CORS, JSONP and error behaviour; and
// each /openwx/<route> call into a request on wx.api.<route>, the same way, with Mojo-Weixin's
// rules where Openwx differs (platform.go).
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/gateway/console"
)

// Config is the gateway's configuration, read from the environment.
type Config struct {
	// Addr is where the HTTP API listens: one address or a comma-separated list, each
	// serving both APIs (Mojo's listen took a list; Openwx bots expect port 3000). Mojo's
	// default was 0.0.0.0:5000; ours is loopback, since a first run has no token: reaching it
	// from elsewhere is a choice (and then a token, or a warning at start).
	Addr string `envconfig:"HTTP_ADDR" default:"127.0.0.1:5000"`
	// SubjectPrefix is the first token of the API subjects (qq.api.<route>).
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// WxSubjectPrefix is the first token of the Openwx subjects: /openwx/<route> becomes a
	// request on wx.api.<route>.
	WxSubjectPrefix string `envconfig:"WX_SUBJECT_PREFIX" default:"wx"`
	// OpenwxOff turns /openwx/* off: its paths then answer like any unknown path.
	OpenwxOff bool `envconfig:"OPENWX_OFF"`
	// Media is the media store's configuration (MEDIA_MAX_BYTES, MEDIA_TTL, ...), the same
	// as the session's: Openwx uploads go there before a call crosses NATS, and the body of
	// an upload may be MEDIA_MAX_BYTES in base64 plus MAX_BODY_BYTES.
	media.Config
	// AccessToken, when set, is required on every call: "Authorization: Bearer <token>" or
	// the access_token parameter.
	AccessToken string `envconfig:"ACCESS_TOKEN"`
	// APITimeout bounds the wait for the session's reply (504 after it).
	APITimeout time.Duration `envconfig:"API_TIMEOUT" default:"10s"`
	// MaxBodyBytes bounds a request body (413 over it).
	MaxBodyBytes int64 `envconfig:"MAX_BODY_BYTES" default:"1048576"`
	// CheckEventHold is how long check_event waits for a first new item (Mojo: 30 s).
	CheckEventHold time.Duration `envconfig:"CHECK_EVENT_HOLD" default:"30s"`
	// ReadTimeout bounds reading a request, headers and body: a client that declares a body
	// and sends nothing is cut off after it.
	ReadTimeout time.Duration `envconfig:"HTTP_READ_TIMEOUT" default:"30s"`
	// WriteTimeout bounds writing a reply. An API call gets it on top of the API_TIMEOUT it
	// may wait for the session (check_event: and its hold); the event streams lift it, and
	// bound each of their writes instead.
	WriteTimeout time.Duration `envconfig:"HTTP_WRITE_TIMEOUT" default:"30s"`
	// IdleTimeout closes a kept-alive connection that sends no next request.
	IdleTimeout time.Duration `envconfig:"HTTP_IDLE_TIMEOUT" default:"120s"`
	// ConnsPerIP bounds the connections one client address holds open at once; the ones
	// beyond get a 503 and are closed.
	ConnsPerIP int `envconfig:"HTTP_CONNS_PER_IP" default:"2048"`
	// StreamClientsMax bounds the event stream clients (SSE and WebSocket) of this gateway:
	// each holds a JetStream consumer, and nats-server allows 1,000 per stream, which the
	// reporters, check_event and the poller need too.
	StreamClientsMax int `envconfig:"STREAM_CLIENTS_MAX" default:"500"`
	// StreamClientsPerIP bounds the stream clients of one client address.
	StreamClientsPerIP int `envconfig:"STREAM_CLIENTS_PER_IP" default:"50"`
	// AllowedOrigins are the origins, besides the gateway's own, whose pages may open the
	// WebSocket: host patterns ("console.example.com", "*.example.com") or full origins
	// ("https://console.example.com"). Comma-separated.
	AllowedOrigins []string `envconfig:"ALLOWED_ORIGINS"`
}

// Gateway serves the HTTP API.
type Gateway struct {
	nc      *nats.Conn
	qq      *platform // /openqq/<route>
	wx      *platform // /openwx/<route>; nil when OPENWX_OFF
	cfg     Config
	subj    events.Subjects
	log     *slog.Logger
	handler http.Handler
	mounts  mountTable  // paths served ahead of the API (Mount)
	media   mediaStores // where Openwx uploads go
	// stopping is closed when Serve starts to shut down.
	stopping chan struct{}
}

// fill gives zero fields their defaults (the `default` tags), so that a Config built in code
// needs only what it changes.
func (c *Config) fill() { config.Defaults(c) }

// New builds a gateway that sends its requests over nc. Zero fields of cfg take their defaults.
func New(nc *nats.Conn, cfg Config, log *slog.Logger) (*Gateway, error) {
	cfg.fill()
	if !events.ValidPrefix(cfg.SubjectPrefix) {
		return nil, fmt.Errorf("gateway: SUBJECT_PREFIX %q is not a valid subject prefix", cfg.SubjectPrefix)
	}
	if cfg.APITimeout <= 0 {
		return nil, fmt.Errorf("gateway: API_TIMEOUT must be positive, got %s", cfg.APITimeout)
	}
	if cfg.MaxBodyBytes <= 0 {
		return nil, fmt.Errorf("gateway: MAX_BODY_BYTES must be positive, got %d", cfg.MaxBodyBytes)
	}
	if !cfg.OpenwxOff {
		if !events.ValidPrefix(cfg.WxSubjectPrefix) {
			return nil, fmt.Errorf("gateway: WX_SUBJECT_PREFIX %q is not a valid subject prefix", cfg.WxSubjectPrefix)
		}
		if cfg.WxSubjectPrefix == cfg.SubjectPrefix {
			return nil, fmt.Errorf("gateway: WX_SUBJECT_PREFIX and SUBJECT_PREFIX are both %q: each platform needs its own", cfg.SubjectPrefix)
		}
		if cfg.Config.MaxBytes == 0 || cfg.Config.MaxBytes < -1 {
			return nil, fmt.Errorf("gateway: MEDIA_MAX_BYTES must be positive (or -1: no limit), got %d", cfg.Config.MaxBytes)
		}
	}
	if _, err := ParseAddrs(cfg.Addr); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	if cfg.CheckEventHold < 0 {
		return nil, fmt.Errorf("gateway: CHECK_EVENT_HOLD must not be negative, got %s", cfg.CheckEventHold)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"HTTP_READ_TIMEOUT", cfg.ReadTimeout}, {"HTTP_WRITE_TIMEOUT", cfg.WriteTimeout}, {"HTTP_IDLE_TIMEOUT", cfg.IdleTimeout}} {
		if d.v < 0 {
			return nil, fmt.Errorf("gateway: %s must be positive, got %s", d.name, d.v)
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"HTTP_CONNS_PER_IP", cfg.ConnsPerIP}, {"STREAM_CLIENTS_MAX", cfg.StreamClientsMax}, {"STREAM_CLIENTS_PER_IP", cfg.StreamClientsPerIP}} {
		if n.v < 0 {
			return nil, fmt.Errorf("gateway: %s must be positive, got %d", n.name, n.v)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{nc: nc, cfg: cfg, subj: events.Subjects{Prefix: cfg.SubjectPrefix}, log: log.With("svc", "gateway"),
		stopping: make(chan struct{})}
	g.qq = newQQ(nc, cfg)
	if !cfg.OpenwxOff {
		g.wx = newWx(nc, cfg)
	}
	g.handler = g.mounted(instrument(g.routes(), g.platforms()...))
	config.Log(g.log, "gateway", &cfg)
	return g, nil
}

// routes: CORS preflight for any path, the API routes of each platform on GET, HEAD and POST,
// and Mojo's catch-all 403 "api not found" for everything else (as JSON, or as Openwx's text
// under /openwx/).
func (g *Gateway) routes() http.Handler {
	// SkipClean: a path like /openqq//x must get the JSON 403, not mux's bare 301 redirect.
	r := mux.NewRouter().SkipClean(true)
	r.Methods(http.MethodOptions).PathPrefix("/").HandlerFunc(preflight)
	ui := console.Handler()
	r.Methods(http.MethodGet, http.MethodHead).Path("/").Handler(ui)
	r.Methods(http.MethodGet, http.MethodHead).Path("/console/{file:app\\.(?:js|css)}").Handler(ui)
	r.Methods(http.MethodGet).Path(pathReporters).HandlerFunc(g.reporters)
	r.Methods(http.MethodPost).Path(pathConsoleSession).HandlerFunc(g.openConsoleSession)
	for _, p := range g.platforms() {
		p.streams = g.newStreamer(p) // live events (SSE, WebSocket) and the reporters' state
		r.Methods(http.MethodGet).Path(p.path + "events").HandlerFunc(p.streams.sse)
		r.Methods(http.MethodGet).Path(p.path + "ws").HandlerFunc(p.streams.ws)
		r.Methods(http.MethodGet, http.MethodHead, http.MethodPost).Path(p.path + "{route}").HandlerFunc(g.api(p))
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.platformOf(r.URL.Path).notFound(w)
	})
	r.NotFoundHandler = notFound
	r.MethodNotAllowedHandler = notFound
	return g.recoverer(cors(g.auth(r)))
}

// Handler is the HTTP API, for tests and for embedding.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Run listens on every address of cfg.Addr and serves until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	lns, err := g.Listen()
	if err != nil {
		return err
	}
	return g.Serve(ctx, lns...)
}

// warnIfExposed warns when the API listens beyond loopback without an access token: anybody
// who reaches the port can then use the account.
func (g *Gateway) warnIfExposed(addr net.Addr) {
	if g.cfg.AccessToken != "" {
		return
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	g.log.Warn("the API listens beyond loopback without ACCESS_TOKEN: whoever reaches "+addr.String()+
		" can send messages, mute and kick members, stop the client, read every message (event streams,"+
		" check_event, the console) and /metrics; set ACCESS_TOKEN, or HTTP_ADDR=127.0.0.1:5000",
		"addr", addr.String())
}

// Serve serves on every listener until ctx ends, then shuts down gracefully: calls in flight
// get their answer. Each listener has its own HTTP_CONNS_PER_IP count; the server, its time-outs
// and its shutdown are shared.
func (g *Gateway) Serve(ctx context.Context, lns ...net.Listener) error {
	if len(lns) == 0 {
		return errNoListener
	}
	// Connections that have not sent a request yet count as busy for 5 s in Shutdown; they
	// have nothing in flight, so they are closed at once instead.
	var (
		mu    sync.Mutex
		fresh = map[net.Conn]bool{}
	)
	srv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: min(10*time.Second, g.cfg.ReadTimeout),
		ReadTimeout:       g.cfg.ReadTimeout,
		WriteTimeout:      g.cfg.WriteTimeout,
		IdleTimeout:       g.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			if st == http.StateNew {
				fresh[c] = true
			} else {
				delete(fresh, c)
			}
		},
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		for _, p := range g.platforms() {
			g.log.Info("gateway listening", "addr", "http://"+ln.Addr().String()+p.path)
		}
		g.warnIfExposed(ln.Addr())
		ln = &limitedListener{Listener: ln, limits: newAddrLimits(0, g.cfg.ConnsPerIP), log: g.log}
		go func() { errc <- srv.Serve(ln) }()
	}
	var failed error
	select {
	case failed = <-errc:
		// One listener failed: the others stop too, so that a half-served gateway does not
		// look healthy.
	case <-ctx.Done():
	}
	close(g.stopping) // held check_event calls answer [] now
	mu.Lock()
	for c := range fresh {
		_ = c.Close()
	}
	mu.Unlock()
	sctx, cancel := context.WithTimeout(context.Background(), g.cfg.APITimeout+time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		g.log.Warn("gateway: closing connections still open", "err", err)
		_ = srv.Close()
	}
	var errs []error
	if failed != nil {
		errs = append(errs, failed)
	}
	for range len(lns) - len(errs) {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.log.Info("gateway stopped")
	return nil
}
