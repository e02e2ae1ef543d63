// Package natsconn connects a service to NATS the way every openqq service does: it never gives
// up reconnecting, it starts even while the server is not up yet, and it logs what happens to
// the connection.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// Config is read from the environment.
type Config struct {
	// URL is the NATS server (a comma-separated list for a cluster).
	URL string `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222"`
}

// Connect dials cfg.URL as name. It returns at once even when the server is not reachable
// yet; the connection comes up by itself when it is.
func Connect(cfg Config, name string, log *slog.Logger) (*nats.Conn, error) {
	return nats.Connect(cfg.URL, Options(name, log)...)
}

// Options are the connection options of every openqq service, for Connect and for in-process
// connections of the all-in-one binary.
func Options(name string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(c *nats.Conn) {
			log.Info("nats connected", "conn", name, "url", c.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "conn", name, "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			log.Info("nats reconnected", "conn", name, "url", c.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats error", "conn", name, "subject", subject, "err", err)
		}),
	}
}

// Close drains nc, so that what it still has to publish or handle goes out, and waits until it
// is closed or timeout passes.
func Close(nc *nats.Conn, timeout time.Duration) error {
	if nc == nil || nc.IsClosed() {
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
