package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
)

// The NATS baseline of the API rows: a bare NATS responder answering the bytes the session
// answered, on a subject of its own of the same server, asked as the gateway asks the session
// (one connection, request-reply). It is this binary started again, connected over TCP like
// openqq-session, so that the two cross the same hops.

// natsReplyEnv names the spec file of a NATS responder process.
const natsReplyEnv = "OPENQQ_BENCH_NATSREPLY"

type natsReplySpec struct {
	Addr     string `json:"addr"` // its readiness probe (HTTP), answering once it is subscribed
	NATS     string `json:"nats"`
	Subject  string `json:"subject"`
	BodyFile string `json:"body_file"`
}

// serveNATSReplyIfChild answers on NATS when this process was started as a NATS responder.
func serveNATSReplyIfChild() bool {
	path := os.Getenv(natsReplyEnv)
	if path == "" {
		return false
	}
	if err := serveNATSReply(path); err != nil {
		fmt.Fprintln(os.Stderr, "NATS responder:", err)
		os.Exit(1)
	}
	return true
}

func serveNATSReply(specPath string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec natsReplySpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	body, err := os.ReadFile(spec.BodyFile)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(spec.NATS, nats.Name("bench-responder"))
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := nc.Subscribe(spec.Subject, func(m *nats.Msg) { _ = m.Respond(body) }); err != nil {
		return err
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return serveUntil(ctx, spec.Addr, mux)
}

// NATSReply starts a responder answering body on subject of the NATS server at natsURL.
func (h *Harness) NATSReply(ctx context.Context, natsURL, subject string, body []byte) (*Proc, error) {
	dir := h.Dir("natsreply")
	_, f, err := writeReply(dir, "body", Reply{Body: body})
	if err != nil {
		return nil, err
	}
	spec := natsReplySpec{NATS: natsURL, Subject: subject, BodyFile: f}
	p, _, err := h.startChild(ctx, "natsreply", natsReplyEnv, dir, &spec.Addr, &spec, "/ready")
	return p, err
}
