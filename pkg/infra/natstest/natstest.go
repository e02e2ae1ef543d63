// Package natstest starts an embedded NATS server with JetStream for a test: a free port on
// loopback and a store in the test's temporary directory, so tests run in parallel and beside a
// running openqq.
package natstest

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/infra/embednats"
)

// Start starts a server that stops when the test ends.
func Start(t testing.TB) *embednats.Server {
	t.Helper()
	s, err := embednats.Start(embednats.Config{Host: "127.0.0.1", Port: -1, StoreDir: t.TempDir()}, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Connect opens a connection to s that closes when the test ends.
func Connect(t testing.TB, s *embednats.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Logger returns a logger that writes into the test's log (shown for failed tests or -v). Lines
// logged by goroutines after the test ended are dropped: testing panics on them.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

var _ io.Writer = (*testWriter)(nil)
