package scenario

import (
	"context"
	"encoding/json"
	"errors"
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
	Addr string `json:"addr"`
	// Object: each call streams its multipart file part "media" into a JetStream object store
	// (the media baseline) instead of storing a report.
	Object   bool        `json:"object,omitempty"`
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
	if spec.Object {
		obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "DURABLE_MEDIA", Storage: jetstream.FileStorage})
		if err != nil {
			return err
		}
		mux.HandleFunc(spec.Path, func(w http.ResponseWriter, req *http.Request) {
			if err := putUpload(req, obs); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			writeAnswer(w, spec.Header, body)
		})
		return serveUntil(ctx, spec.Addr, mux)
	}
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

// putUpload streams the multipart file part "media" of req into obs under a new name, as the
// gateway streams an upload into the media store; a GET (the probe) stores nothing.
func putUpload(req *http.Request, obs jetstream.ObjectStore) error {
	if req.Method == http.MethodGet {
		return nil
	}
	mr, err := req.MultipartReader()
	if err != nil {
		return err
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("no media part")
			}
			return err
		}
		if part.FormName() != "media" {
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		_, err = obs.Put(req.Context(), jetstream.ObjectMeta{Name: nuid.Next()}, part)
		_, _ = io.Copy(io.Discard, req.Body)
		return err
	}
}

// ObjectBare starts the media baseline (an upload streamed into a JetStream object store,
// then rep's bytes) on path, and returns its base URL.
func (h *Harness) ObjectBare(ctx context.Context, path string, rep Reply) (*Proc, string, error) {
	dir := h.Dir("object")
	hdr, bodyFile, err := writeReply(dir, "body", rep)
	if err != nil {
		return nil, "", err
	}
	spec := durableSpec{Path: path, Object: true, StoreDir: filepath.Join(dir, "store"), Header: hdr, BodyFile: bodyFile}
	return h.startChild(ctx, "object", durableEnv, dir, &spec.Addr, &spec, path)
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

	client := NewClient(cfg.Conns)
	iv := Interleaved{Client: client, Rounds: cfg.Rounds, Warmup: cfg.Warmup, Dur: cfg.ThroughputDur}
	rows := h.measure(ctx, iv, load{
		path: pathSendDurable, what: r.name, check: r.check(rep),
		bases: []baseline{{Get{Client: client, URL: durURL + r.query}, "durable-send handler"}},
		systems: []measured{
			{"all-in-one", Get{Client: client, URL: aio.API + r.query}, []float64{0.7}},
			{"multi-process", Get{Client: client, URL: multi.API + r.query}, []float64{0.7}},
		},
		latency: true,
	})
	if err := aio.Crashed(); err != nil {
		return rows, err
	}
	if err := multi.Crashed(); err != nil {
		return rows, err
	}
	return rows, nil
}
