// Package embednats runs a NATS server with JetStream inside the process: the all-in-one
// binary's broker, and every test's.
package embednats

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/metrics"
	"github.com/openqq/openqq/pkg/infra/natsconn"
)

// Config is read from the environment by the all-in-one binary.
type Config struct {
	// Host and Port are where standard NATS clients (the nats CLI) connect. Port -1 picks a
	// free port; DontListen opens none (in-process connections only).
	Host       string `envconfig:"NATS_HOST" default:"127.0.0.1"`
	Port       int    `envconfig:"NATS_PORT" default:"4222"`
	DontListen bool   `envconfig:"NATS_DONT_LISTEN" default:"false"`
	// StoreDir holds the JetStream file store. It must be given: the server's fallback is a
	// directory shared by every process on the machine.
	StoreDir string `envconfig:"NATS_STORE_DIR" default:"./data/nats"`
	// User and Password, or Token, make the server require them of every client (the same
	// variables the services connect with). Without them any local user can call qq.api.*
	// on the NATS port, bypassing the gateway's ACCESS_TOKEN.
	User     string `envconfig:"NATS_USER"`
	Password string `envconfig:"NATS_PASSWORD"`
	Token    string `envconfig:"NATS_TOKEN"`
}

// maxPayload is the largest message NATS accepts (its hard limit); the default is 1 MiB.
const maxPayload = 64 << 20

// Server is a running embedded server.
type Server struct {
	*server.Server
	log *slog.Logger
	cfg Config
}

// Start starts a server and waits until it takes connections.
func Start(cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("embednats: StoreDir is required")
	}
	if cfg.Token != "" && (cfg.User != "" || cfg.Password != "") {
		return nil, errors.New("embednats: NATS_TOKEN or NATS_USER/NATS_PASSWORD, not both")
	}
	if (cfg.User == "") != (cfg.Password == "") {
		return nil, errors.New("embednats: NATS_USER and NATS_PASSWORD go together")
	}
	if log == nil {
		log = slog.Default()
	}
	s, err := server.NewServer(&server.Options{
		Username:      cfg.User,
		Password:      cfg.Password,
		Authorization: cfg.Token,
		ServerName:    "openqq",
		Host:          cfg.Host,
		Port:          cfg.Port,
		DontListen:    cfg.DontListen,
		JetStream:     true,
		StoreDir:      cfg.StoreDir,
		NoSigs:        true,
		// get_group_info of a large roster is one reply: allow what NATS allows at most, and
		// buffer a few of them for one client before calling it a slow consumer (the default
		// max_pending is one max_payload).
		MaxPayload: maxPayload,
		MaxPending: 4 * maxPayload,
	})
	if err != nil {
		return nil, fmt.Errorf("embednats: %w", err)
	}
	s.SetLoggerV2(&slogAdapter{log.With("svc", "nats")}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embednats: not ready after 10s (is %s:%d free?)", cfg.Host, cfg.Port)
	}
	return &Server{Server: s, log: log, cfg: cfg}, nil
}

// Connect opens an in-process connection named name.
func (s *Server) Connect(name string) (*nats.Conn, error) {
	opts := append(natsconn.Options(name, s.log), nats.InProcessServer(s.Server),
		nats.ConnectHandler(func(*nats.Conn) { s.log.Debug("nats connected", "conn", name, "url", "in-process") }))
	if s.cfg.User != "" {
		opts = append(opts, nats.UserInfo(s.cfg.User, s.cfg.Password))
	}
	if s.cfg.Token != "" {
		opts = append(opts, nats.Token(s.cfg.Token))
	}
	nc, err := nats.Connect("", opts...)
	metrics.TrackNATS(name, nc)
	return nc, err
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.Shutdown()
	s.WaitForShutdown()
}

// slogAdapter is the server's Logger on slog.
type slogAdapter struct{ log *slog.Logger }

// Notices (the start-up banner) go to debug: the binary logs where it listens itself.
func (a *slogAdapter) Noticef(format string, v ...any) { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.log.Error(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.log.Debug(fmt.Sprintf(format, v...)) }

func (a *slogAdapter) Warnf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.HasPrefix(msg, "Maximum payloads over") {
		// The large max_payload is chosen (maxPayload): the server's advice against it is
		// noise, and a fresh run warns only about what the user should act on.
		a.log.Debug(msg)
		return
	}
	a.log.Warn(msg)
}
