// Package gateway is openqq's HTTP front: it turns each /openqq/<route> call (GET or POST;
// query, form, multipart or JSON parameters) into a NATS request on qq.api.<route> and writes
// the session's reply back unchanged, with Mojo-Webqq's CORS, JSONP and error behaviour.
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

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/services/gateway/console"
)

// Config is the gateway's configuration, read from the environment.
type Config struct {
	// Addr is where the HTTP API listens (Mojo's default: 0.0.0.0:5000).
	Addr string `envconfig:"HTTP_ADDR" default:"0.0.0.0:5000"`
	// SubjectPrefix is the first token of the API subjects (qq.api.<route>).
	SubjectPrefix string `envconfig:"SUBJECT_PREFIX" default:"qq"`
	// AccessToken, when set, is required on every call: "Authorization: Bearer <token>" or
	// the access_token parameter.
	AccessToken string `envconfig:"ACCESS_TOKEN"`
	// APITimeout bounds the wait for the session's reply (504 after it).
	APITimeout time.Duration `envconfig:"API_TIMEOUT" default:"10s"`
	// MaxBodyBytes bounds a request body (413 over it).
	MaxBodyBytes int64 `envconfig:"MAX_BODY_BYTES" default:"1048576"`
	// CheckEventHold is how long check_event waits for a first new item (Mojo: 30 s).
	CheckEventHold time.Duration `envconfig:"CHECK_EVENT_HOLD" default:"30s"`
}

// Gateway serves the HTTP API.
type Gateway struct {
	nc      *nats.Conn
	qq      *client.Client // the calls of /openqq/<route>
	replies *replyCache    // the get_*_info replies
	cfg     Config
	subj    events.Subjects
	log     *slog.Logger
	handler http.Handler
	mounts  mountTable // paths served ahead of the API (Mount)
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
	if cfg.CheckEventHold < 0 {
		return nil, fmt.Errorf("gateway: CHECK_EVENT_HOLD must not be negative, got %s", cfg.CheckEventHold)
	}
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{nc: nc, cfg: cfg, subj: events.Subjects{Prefix: cfg.SubjectPrefix}, log: log.With("svc", "gateway"),
		qq:       client.New(nc, client.WithPrefix(cfg.SubjectPrefix), client.WithTimeout(cfg.APITimeout)),
		stopping: make(chan struct{}), replies: newReplyCache(cfg.APITimeout)}
	g.handler = g.mounted(instrument(g.routes()))
	config.Log(g.log, "gateway", &cfg)
	return g, nil
}

// routes: CORS preflight for any path, the API routes on GET, HEAD and POST, and Mojo's
// catch-all 403 "api not found" (as JSON) for everything else.
func (g *Gateway) routes() http.Handler {
	// SkipClean: a path like /openqq//x must get the JSON 403, not mux's bare 301 redirect.
	r := mux.NewRouter().SkipClean(true)
	r.Methods(http.MethodOptions).PathPrefix("/").HandlerFunc(preflight)
	ui := console.Handler()
	r.Methods(http.MethodGet, http.MethodHead).Path("/").Handler(ui)
	r.Methods(http.MethodGet, http.MethodHead).Path("/console/{file:app\\.(?:js|css)}").Handler(ui)
	st := g.newStreamer() // live events (SSE, WebSocket) and the reporters' state
	r.Methods(http.MethodGet).Path(pathEvents).HandlerFunc(st.sse)
	r.Methods(http.MethodGet).Path(pathWS).HandlerFunc(st.ws)
	r.Methods(http.MethodGet).Path(pathReporters).HandlerFunc(st.reporters)
	r.Methods(http.MethodGet, http.MethodHead, http.MethodPost).Path(events.APIPathPrefix + "{route}").HandlerFunc(g.api)
	notFound := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, events.ErrAPINotFound)
	})
	r.NotFoundHandler = notFound
	r.MethodNotAllowedHandler = notFound
	return g.recoverer(cors(g.auth(r)))
}

// Handler is the HTTP API, for tests and for embedding.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Run listens on cfg.Addr and serves until ctx ends.
func (g *Gateway) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", g.cfg.Addr)
	if err != nil {
		return fmt.Errorf("gateway: listen: %w", err)
	}
	return g.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: calls in flight get their
// answer.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	// Connections that have not sent a request yet count as busy for 5 s in Shutdown; they
	// have nothing in flight, so they are closed at once instead.
	var (
		mu    sync.Mutex
		fresh = map[net.Conn]bool{}
	)
	srv := &http.Server{
		Handler:           g.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
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
	g.log.Info("gateway listening", "addr", "http://"+ln.Addr().String()+"/openqq/")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: %w", err)
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
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("gateway: %w", err)
	}
	g.log.Info("gateway stopped")
	return nil
}
