// Package natsconn connects a service to NATS the way every openqq service does: it never gives
// up reconnecting, it starts even while the server is not up yet, and it logs what happens to
// the connection.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/metrics"
)

// Config is read from the environment. Credentials may also be given in NATS_URL
// (nats://user:password@host:4222); they are never logged.
type Config struct {
	// URL is the NATS server (a comma-separated list for a cluster).
	URL string `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222"`
	// User and Password authenticate with a user name.
	User     string `envconfig:"NATS_USER"`
	Password string `envconfig:"NATS_PASSWORD"`
	// Token authenticates with a token.
	Token string `envconfig:"NATS_TOKEN"`
	// Creds is a credentials file (a user JWT and its NKey seed), for decentralised auth.
	Creds string `envconfig:"NATS_CREDS"`
	// TLSCA trusts a CA for the server's certificate; TLSCert and TLSKey present a client
	// certificate. Any of them turns TLS on (tls:// URLs do too).
	TLSCA   string `envconfig:"NATS_TLS_CA"`
	TLSCert string `envconfig:"NATS_TLS_CERT"`
	TLSKey  string `envconfig:"NATS_TLS_KEY"`
}

// Auth are the connection options cfg asks for beyond the URL.
func (cfg Config) Auth() ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.User != "" || cfg.Password != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.Token != "" {
		opts = append(opts, nats.Token(cfg.Token))
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return nil, errors.New("NATS_TLS_CERT and NATS_TLS_KEY go together")
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	if cfg.TLSCA != "" || cfg.TLSCert != "" {
		opts = append(opts, nats.Secure())
	}
	return opts, nil
}

// Connect dials cfg.URL as name. It returns at once even when the server is not reachable
// yet; the connection comes up by itself when it is. Wrong credentials are reported at once.
func Connect(cfg Config, name string, log *slog.Logger) (*nats.Conn, error) {
	auth, err := cfg.Auth()
	if err != nil {
		return nil, fmt.Errorf("nats: %w", err)
	}
	// Check the URLs first: nats.go's own parse errors quote them, credentials and all.
	for i, p := range strings.Split(cfg.URL, ",") {
		if _, err := url.Parse(strings.TrimSpace(p)); err != nil {
			return nil, fmt.Errorf("nats: NATS_URL entry %d (%s) is not a valid URL", i+1, config.MaskURL(p))
		}
	}
	nc, err := nats.Connect(cfg.URL, append(Options(name, log), auth...)...)
	if err != nil {
		return nil, fmt.Errorf("nats %s: %s", config.MaskURL(cfg.URL), scrub(err.Error(), cfg))
	}
	metrics.TrackNATS(name, nc)
	return nc, nil
}

// scrub removes every secret of cfg from a text that might quote one.
func scrub(text string, cfg Config) string {
	for _, secret := range []string{cfg.Password, cfg.Token} {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "***")
		}
	}
	return text
}

// Options are the connection options of every openqq service, for Connect and for in-process
// connections of the all-in-one binary.
func Options(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		// Wrong credentials are retried too (the server's users may be fixed meanwhile), and
		// every failed attempt says why.
		nats.IgnoreAuthErrorAbort(),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			if isAuthError(err) {
				log.Error("nats refused our credentials: check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS", "conn", name, "err", err)
				return
			}
			log.Debug("nats connect attempt failed", "conn", name, "err", err)
		}),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("nats connected", "conn", name, "url", config.MaskURL(c.ConnectedUrl()))
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "conn", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "conn", name, "url", config.MaskURL(c.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if isAuthError(err) {
				log.Error("nats refused our credentials: check NATS_USER/NATS_PASSWORD, NATS_TOKEN or NATS_CREDS", "conn", name, "err", err)
				return
			}
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats error", "conn", name, "subject", subject, "err", err)
		}),
	}
}

func isAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) ||
		errors.Is(err, nats.ErrAuthRevoked) || errors.Is(err, nats.ErrAccountAuthExpired)
}

// Close drains nc, so that what it still has to publish or handle goes out, and waits until it
// is closed or timeout passes.
func Close(nc *nats.Conn, timeout time.Duration) error {
	if nc == nil || nc.IsClosed() {
		return nil
	}
	if !nc.IsConnected() {
		nc.Close() // nothing can be drained into a server that is away
		return nil
	}
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("nats drain: %w", err)
	}
	select {
	case <-closed:
		return nil
	case <-time.After(timeout):
		nc.Close()
		return errors.New("nats drain: timed out")
	}
}
