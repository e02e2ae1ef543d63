package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/infra/embednats"
)

// The send rows' second baseline pays what a send promises: a bare handler that stores one
// JetStream message (a report-sized body, under a Nats-Msg-Id, on a file store of an embedded
// server, as openqq stores its send_message report) and waits for the ack before it answers
// the bytes openqq answered. Like the bare handler, it is this binary started again.

// durableEnv names the spec file of a durable baseline process.
const durableEnv = "OPENQQ_BENCH_DURABLE"

const pathSendDurable = "API, durable send"

type durableSpec struct {
	Addr     string      `json:"addr"`
	Path     string      `json:"path"`
	StoreDir string      `json:"store_dir"`
	Header   http.Header `json:"header"`
	BodyFile string      `json:"body_file"`
}

// serveDurableIfChild serves as a durable baseline when this process was started as one.
func serveDurableIfChild() bool {
	path := os.Getenv(durableEnv)
	if path == "" {
		return false
	}
	if err := serveDurable(path); err != nil {
		fmt.Fprintln(os.Stderr, "durable baseline:", err)
		os.Exit(1)
	}
	return true
}

// durableReport is what each call stores: about the size of a send_message report.
var durableReport = []byte(`{"class":"send","content":"bench","id":1796168289335672,"post_type":"send_message","time":1796168289,` +
	`"type":"friend_message","from":"api","sender":"小灰","sender_id":4072574066,"sender_uid":1234567,"receiver":"老王",` +
	`"receiver_id":2372835507,"receiver_uid":456789,"code":0,"info":"发送正常","msg":"发送成功","status":"发送成功"}`)

func serveDurable(specPath string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec durableSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	body, err := os.ReadFile(spec.BodyFile)
	if err != nil {
		return err
	}
	srv, err := embednats.Start(embednats.Config{Host: "127.0.0.1", DontListen: true, StoreDir: spec.StoreDir},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer srv.Stop()
	nc, err := srv.Connect("durable-baseline")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "DURABLE", Subjects: []string{"durable.>"}, Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
	}); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc(spec.Path, func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		m := nats.NewMsg("durable.events.friend_message")
		m.Header.Set("Nats-Msg-Id", nuid.Next())
		m.Data = durableReport
		pctx, cancel := context.WithTimeout(req.Context(), 5*time.Second)
		_, err := js.PublishMsg(pctx, m)
		cancel()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeAnswer(w, spec.Header, body)
	})
	return serveUntil(ctx, spec.Addr, mux)
}

// DurableBare starts a durable baseline answering path with rep, and returns its base URL.
func (h *Harness) DurableBare(ctx context.Context, path string, rep Reply) (*Proc, string, error) {
	dir := h.Dir("durable")
	hdr, bodyFile, err := writeReply(dir, "body", rep)
	if err != nil {
		return nil, "", err
	}
	spec := durableSpec{Path: path, StoreDir: filepath.Join(dir, "store"), Header: hdr, BodyFile: bodyFile}
	return h.startChild(ctx, "durable", durableEnv, dir, &spec.Addr, &spec, path)
}

// SendDurable: send_friend_message through the all-in-one and the multi-process system
// against the durable baseline, closed loop at Conns connections and open loop at Rate.
func (h *Harness) SendDurable(ctx context.Context) []Row {
	rows, err := h.sendDurable(ctx)
	if err != nil {
		rows = append(rows, errorRow(pathSendDurable, "send_friend_message against a durable-send baseline", err))
	}
	return rows
}

func (h *Harness) sendDurable(ctx context.Context) ([]Row, error) {
	cfg := h.Cfg
	r := smallRoutes[1] // send_friend_message
	h.logf("durable send: starting the all-in-one and the multi-process system")
	aio, multi, err := h.bothSystems(ctx)
	if err != nil {
		return nil, err
	}
	defer aio.Stop()
	defer multi.Stop()
	rep, err := capture(ctx, aio.API, r.query)
	if err != nil {
		return nil, err
	}
	dur, durURL, err := h.DurableBare(ctx, pathOf(r.query), rep)
	if err != nil {
		return nil, err
	}
	defer dur.Stop()

	check := r.check(rep)
	urls := []string{durURL + r.query, aio.API + r.query, multi.API + r.query}
	iv := Interleaved{Client: NewClient(cfg.Conns), Rounds: cfg.Rounds, Warmup: cfg.Warmup, Dur: cfg.ThroughputDur}
	h.logf("durable send: closed loop at %d connections", cfg.Conns)
	t := iv.Closed(ctx, urls, cfg.Conns, check)
	var rows []Row
	for i, topo := range []string{"all-in-one", "multi-process"} {
		x := t[i+1]
		rt := ratio(x.PerSec, t[0].PerSec)
		met := atLeast(rt, 0.7)
		*met = *met && x.Errors == 0 && t[0].Errors == 0
		rows = append(rows, Row{
			Path: pathSendDurable, What: fmt.Sprintf("%s, %s, %d connections", r.name, topo, cfg.Conns),
			Metric: "req/s", Unit: "req/s", Value: x.PerSec, Baseline: f64(t[0].PerSec), Ratio: rt,
			Measured: throughputText(x), BaselineText: throughputText(t[0]) + " (durable-send handler)",
			Target: "≥ 0.7 of baseline", Met: met,
			Raw: map[string]any{"openqq": x, "baseline": t[0]},
		})
	}
	ivl := iv
	ivl.Dur = cfg.LatencyDur
	h.logf("durable send: open loop at %.0f req/s", cfg.Rate)
	l := ivl.Open(ctx, urls, cfg.Rate, check)
	for i, topo := range []string{"all-in-one", "multi-process"} {
		x := l[i+1]
		rows = append(rows, Row{
			Path: pathSendDurable, What: fmt.Sprintf("%s, %s, at %s req/s", r.name, topo, group(fmt.Sprintf("%.0f", cfg.Rate))),
			Metric: "p99 ms", Unit: "ms", Value: x.P99ms, Baseline: f64(l[0].P99ms), Ratio: ratio(x.P99ms, l[0].P99ms),
			Measured: latencyText(x), BaselineText: latencyText(l[0]) + " (durable-send handler)",
			Target: "–", Raw: map[string]any{"openqq": x, "baseline": l[0]},
		})
	}
	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	return rows, nil
}
