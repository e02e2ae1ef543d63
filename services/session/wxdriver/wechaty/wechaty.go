// Package wechaty is the WeChat driver over a Wechaty puppet service: the gRPC API
// (wechaty.Puppet, github.com/wechaty/grpc) that Wechaty's gateway serves in front of any
// puppet. The account's contacts, rooms and room members are the roster's friends, groups and
// members; the puppet's event stream is the login (scan, login, logout), the messages and the
// roster's changes; the RPCs carry the sends and the admin calls.
//
// Ids: a contact is "@" + its puppet id, a room "@@" + its puppet id (the file assistant
// keeps "filehelper"); they are the puppet's ids, stable across logins of the same account.
//
// It registers itself as the WeChat driver "wechaty", configured by WECHATY_* variables.
package wechaty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session/wxdriver"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Config configures the connection to the puppet service.
type Config struct {
	// Endpoint is the puppet service's host:port.
	Endpoint string `envconfig:"ENDPOINT"`
	// Token is the puppet service's token.
	Token string `envconfig:"TOKEN"`
	// TLS is TLSAuto (a token that starts with "insecure_" means a connection without TLS,
	// any other TLS), TLSOn or TLSOff.
	TLS string `envconfig:"TLS" default:"auto"`
	// CACert is a PEM file of a CA to trust beyond the system's roots and Wechaty's root CA.
	CACert string `envconfig:"CA_CERT"`
	// ServerName is the TLS server name to expect; empty: the token's SNI (Wechaty's tokens
	// are "<sni>_<uuid>"), else the endpoint's host.
	ServerName string `envconfig:"SERVER_NAME"`
	// QRCodeDir is where the login QR code image is written.
	QRCodeDir string `envconfig:"QRCODE_DIR"`
	// CallTimeout bounds every call to the puppet service.
	CallTimeout time.Duration `envconfig:"CALL_TIMEOUT" default:"30s"`
	// PingInterval is how often the driver dings the puppet while the event stream is quiet;
	// a stream that stays silent for three intervals is dropped and reconnected.
	PingInterval time.Duration `envconfig:"PING_INTERVAL" default:"20s"`
	// LogoutOnStop logs the account out of the puppet when the session stops the driver, so
	// that the next start is a new QR login (as web WeChat's was); by default the puppet stays
	// logged in and the next start resumes it without a scan.
	LogoutOnStop bool `envconfig:"LOGOUT_ON_STOP" default:"false"`
	// BackoffMax bounds the wait before reconnecting, which doubles from 500ms at each failure.
	BackoffMax time.Duration `envconfig:"BACKOFF_MAX" default:"30s"`
}

func init() {
	wxdriver.Register("wechaty", "WECHATY", func(cfg Config, p wxdriver.Params) (wxdriver.Driver, error) { return New(cfg, p) })
}

// Driver is a WeChat account behind a Wechaty puppet service.
type Driver struct {
	cfg     Config
	account string
	log     *slog.Logger
	conn    *grpc.ClientConn
	c       pb.PuppetClient

	mu       sync.Mutex
	cond     *sync.Cond // signals the end of sends under way (inflight)
	sink     wxdriver.Sink
	runCtx   context.Context
	self     string // the puppet id of the account, while logged in
	ro       *wxroster.Roster
	pids     map[string]string // wx id → puppet id, for the ids handed out
	sent     map[string]string // puppet message ids sent by Send → their peer's wx id
	sentSeq  []string
	inflight int
	localSeq int               // ids made for sends the puppet gave none
	requests map[string]string // friendship ids reported → the contact's puppet id
	failures int               // Runs that failed in a row: the back-off
}

// New makes the driver; it connects when Run runs.
func New(cfg Config, p wxdriver.Params) (*Driver, error) {
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("wechaty: WECHATY_ENDPOINT (host:port of the puppet service) is required: %w", wxdriver.ErrFatal)
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("wechaty: WECHATY_TOKEN (the puppet service's token) is required: %w", wxdriver.ErrFatal)
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 30 * time.Second
	}
	if cfg.QRCodeDir == "" {
		cfg.QRCodeDir = os.TempDir()
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	creds, secure, err := transport(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cfg.Endpoint, grpc.WithTransportCredentials(creds),
		grpc.WithPerRPCCredentials(tokenAuth{token: cfg.Token, secure: secure}))
	if err != nil {
		return nil, fmt.Errorf("wechaty: endpoint %q: %w", cfg.Endpoint, err)
	}
	d := &Driver{cfg: cfg, account: p.Account, log: log.With("driver", "wechaty"), conn: conn, c: pb.NewPuppetClient(conn),
		pids: map[string]string{}, sent: map[string]string{}, requests: map[string]string{}}
	d.cond = sync.NewCond(&d.mu)
	return d, nil
}

// Close closes the connection.
func (d *Driver) Close() error { return d.conn.Close() }

// tokenAuth is the puppet service's authentication: "authorization: Wechaty <token>".
type tokenAuth struct {
	token  string
	secure bool
}

func (a tokenAuth) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Wechaty " + a.token}, nil
}

func (a tokenAuth) RequireTransportSecurity() bool { return a.secure }

// Capabilities: messages the account sent elsewhere, room topics and remarks (Properties),
// friend requests.
func (d *Driver) Capabilities() wxdriver.Capabilities {
	return wxdriver.Capabilities{SentElsewhere: true, Properties: true, FriendRequests: true}
}

// call bounds a call to the puppet service.
func (d *Driver) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.cfg.CallTimeout)
}

// refused reports whether err is the puppet service refusing the token.
func refused(err error) bool {
	c := status.Code(err)
	return c == codes.Unauthenticated || c == codes.PermissionDenied
}

var (
	errLoggedOut = errors.New("wechaty: the account logged out")
	errStalled   = errors.New("wechaty: the event stream stalled")
	errStreamEnd = errors.New("wechaty: the event stream ended")
)

// Run connects, follows the event stream through the login and then delivers what the account
// receives, until ctx ends (nil) or the stream fails (an error: the session calls Run again,
// which waits a back-off first).
func (d *Driver) Run(ctx context.Context, sink wxdriver.Sink) error {
	d.mu.Lock()
	failures := d.failures
	d.mu.Unlock()
	if failures > 0 {
		back := min(d.cfg.BackoffMax, 500*time.Millisecond<<min(failures-1, 10))
		d.log.Info("wechaty: reconnecting", "after", back, "failures", failures)
		if err := wait.Sleep(ctx, back); err != nil {
			return nil
		}
	}
	err := d.run(ctx, sink)
	if ctx.Err() != nil && d.cfg.LogoutOnStop {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.CallTimeout)
		if _, err := d.c.Logout(lctx, &pb.LogoutRequest{}); err != nil {
			d.log.Warn("wechaty: logout at stop", "err", err)
		}
		cancel()
	}
	d.mu.Lock()
	d.sink, d.runCtx, d.self = nil, nil, ""
	if err != nil && ctx.Err() == nil {
		d.failures++
	}
	d.mu.Unlock()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (d *Driver) run(ctx context.Context, sink wxdriver.Sink) error {
	sink.State(stateLoading)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := d.c.Event(ctx, &pb.EventRequest{})
	if err != nil {
		return d.streamErr(err)
	}
	// The stream is open before Start so that no event of the start is missed.
	events := make(chan *pb.EventResponse)
	recvErr := make(chan error, 1)
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case events <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Start once the stream is known to be open (the puppet service greets a new stream with
	// a heartbeat), so that no event of the start is missed; a service that does not greet
	// is started at the first ping.
	started := false
	start := func() error {
		if started {
			return nil
		}
		started = true
		sctx, scancel := d.call(ctx)
		defer scancel()
		if _, err := d.c.Start(sctx, &pb.StartRequest{}); err != nil {
			return d.streamErr(err)
		}
		return nil
	}
	l := &login{d: d, sink: sink}
	ping := time.NewTicker(d.cfg.PingInterval)
	defer ping.Stop()
	quiet := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-recvErr:
			if errors.Is(err, io.EOF) {
				return errStreamEnd
			}
			return d.streamErr(err)
		case <-ping.C:
			if err := start(); err != nil {
				return err
			}
			quiet++
			if quiet >= 3 {
				return errStalled
			}
			go func() {
				pctx, pcancel := d.call(ctx)
				defer pcancel()
				if _, err := d.c.Ding(pctx, &pb.DingRequest{Data: "openqq"}); err != nil && ctx.Err() == nil {
					d.log.Debug("wechaty: ding", "err", err)
				}
			}()
		case e := <-events:
			quiet = 0
			if err := l.handle(ctx, e); err != nil {
				return err
			}
			if err := start(); err != nil {
				return err
			}
		}
	}
}

// streamErr classifies an error of the connection: a refused token is fatal.
func (d *Driver) streamErr(err error) error {
	if refused(err) {
		return fmt.Errorf("wechaty: the puppet service at %s refused the token (WECHATY_TOKEN): %s: %w", d.cfg.Endpoint, status.Convert(err).Message(), wxdriver.ErrFatal)
	}
	return fmt.Errorf("wechaty: puppet service %s: %w", d.cfg.Endpoint, err)
}
