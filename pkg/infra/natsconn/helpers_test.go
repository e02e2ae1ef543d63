package natsconn_test

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/infra/natsconn"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// Helpers for the security tests: embedded servers that require a mechanism, connections made
// the way the services make them (natsconn.Connect), and a throw-away PKI.

const (
	// connectWait bounds how long a connection that should come up may take.
	connectWait = 5 * time.Second
	// refuseWait is how long a connection that should not come up is watched. Connect retries
	// every second (ReconnectWait), so this spans the first attempt and at least one retry.
	refuseWait = 2 * time.Second
)

// startServer starts an embedded server on a free loopback port with opts (Host, Port and the
// quiet settings are filled in) and stops it when the test ends.
func startServer(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = -1
	opts.NoSigs = true
	opts.NoLog = true
	if opts.JetStream && opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(5 * time.Second) {
		s.Shutdown()
		t.Fatal("nats-server not ready after 5s")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// hostPort is the server's client address, 127.0.0.1:port.
func hostPort(t testing.TB, s *server.Server) string {
	t.Helper()
	addr, ok := s.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("server address %v is not TCP", s.Addr())
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))
}

// dial connects with natsconn.Connect as the services do, logging into the returned buffer.
// The connection (when there is one) is closed when the test ends.
func dial(t testing.TB, cfg natsconn.Config) (*nats.Conn, *proctest.SyncBuffer, error) {
	t.Helper()
	lb := &proctest.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	nc, err := natsconn.Connect(cfg, "security-test", log)
	if nc != nil {
		t.Cleanup(nc.Close)
	}
	if err == nil && nc == nil {
		t.Fatal("Connect returned neither a connection nor an error")
	}
	return nc, lb, err
}

// mustConnect dials cfg and fails the test unless the connection is up within connectWait and
// carries a request-reply round trip.
func mustConnect(t testing.TB, cfg natsconn.Config) *nats.Conn {
	t.Helper()
	nc, lb, err := dial(t, cfg)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if !waitConnected(nc, connectWait) {
		t.Fatalf("not connected after %v (status %v, last error %v); log:\n%s", connectWait, nc.Status(), nc.LastError(), lb)
	}
	roundTrip(t, nc)
	return nc
}

// waitConnected polls until nc is connected or d has passed.
func waitConnected(nc *nats.Conn, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if nc.IsConnected() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refusal is what became of a connection that the server should refuse.
type refusal struct {
	// connected is set if the connection was ever up while it was watched.
	connected bool
	// err explains the refusal: Connect's own error, or else the connection's last error once
	// the watch ended (nil if the client recorded none).
	err error
	log *proctest.SyncBuffer
}

// refuseAll dials every cfg at once and watches the connections together for refuseWait, so
// that a table of refusals costs one wait. A connection that nats.go closed for good (it gives
// up after the same authorization error twice) can never come up, and ends its watch early.
func refuseAll(t testing.TB, cfgs ...natsconn.Config) []refusal {
	t.Helper()
	out := make([]refusal, len(cfgs))
	conns := make([]*nats.Conn, len(cfgs))
	for i, cfg := range cfgs {
		nc, lb, err := dial(t, cfg)
		out[i] = refusal{err: err, log: lb}
		conns[i] = nc
	}
	deadline := time.Now().Add(refuseWait)
	for {
		open := 0
		for i, nc := range conns {
			if nc == nil {
				continue
			}
			if nc.IsConnected() {
				out[i].connected = true
			}
			if !nc.IsClosed() {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, nc := range conns {
		if nc != nil {
			out[i].err = nc.LastError()
		}
	}
	return out
}

// connCase is a row of a table of connections: cfg comes up (ok) or is refused.
type connCase struct {
	name string
	cfg  natsconn.Config
	ok   bool
}

// runConnCases runs a table: each ok row must connect and carry a round trip; the refused
// rows are dialled together and each must never come up, and then passes check.
func runConnCases(t *testing.T, cases []connCase, check func(t *testing.T, r refusal)) {
	t.Helper()
	var refusedCfgs []natsconn.Config
	for _, c := range cases {
		if !c.ok {
			refusedCfgs = append(refusedCfgs, c.cfg)
		}
	}
	refusals := refuseAll(t, refusedCfgs...)
	for _, c := range cases {
		if c.ok {
			t.Run(c.name, func(t *testing.T) { mustConnect(t, c.cfg) })
			continue
		}
		r := refusals[0]
		refusals = refusals[1:]
		t.Run(c.name, func(t *testing.T) {
			if r.connected {
				t.Fatalf("connected, but the server should have refused it")
			}
			t.Logf("refused: %v", r.err)
			if check != nil {
				check(t, r)
			}
		})
	}
}

// roundTrip answers a request on nc with nc and checks the reply: the server let the
// connection subscribe and publish.
func roundTrip(t testing.TB, nc *nats.Conn) {
	t.Helper()
	subject := "security.echo." + nuid.Next()
	sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
		_ = m.Respond(append([]byte("echo:"), m.Data...))
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	msg, err := nc.Request(subject, []byte("ping"), 2*time.Second)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got := string(msg.Data); got != "echo:ping" {
		t.Fatalf("reply = %q, want %q", got, "echo:ping")
	}
}

// isAuthErr tells whether err is the server refusing the client's credentials.
func isAuthErr(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) ||
		(err != nil && strings.Contains(strings.ToLower(err.Error()), "authorization violation"))
}

// serverTLS is the server's TLS configuration: its certificate, and with verify a client
// certificate signed by the CA is required (mutual TLS).
func serverTLS(t testing.TB, p proctest.PKI, verify bool) *server.Options {
	t.Helper()
	opts := server.TLSConfigOpts{CertFile: p.ServerCert, KeyFile: p.ServerKey, Verify: verify}
	if verify {
		opts.CaFile = p.CA
	}
	tc, err := server.GenTLSConfig(&opts)
	if err != nil {
		t.Fatalf("GenTLSConfig: %v", err)
	}
	return &server.Options{TLS: true, TLSVerify: verify, TLSConfig: tc, TLSTimeout: 2}
}
