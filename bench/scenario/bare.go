package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

// The baseline of the API rows is a bare net/http handler in this binary that serves the bytes
// openqq answered, from memory. It runs as a process of its own (this binary, started again), so
// that it shares the machine with the load generator exactly as openqq does.

// bareEnv names the spec file of a bare server process.
const bareEnv = "OPENQQ_BENCH_BARE"

// Reply is what a route answers: captured from openqq, served again by the bare handler.
type Reply struct {
	Header http.Header
	Body   []byte
}

type bareSpec struct {
	Addr   string               `json:"addr"`
	Routes map[string]bareRoute `json:"routes"`
}

type bareRoute struct {
	Header   http.Header `json:"header"`
	BodyFile string      `json:"body_file"`
}

// ServeBareIfChild serves as a bare baseline server when this process was started as one, and
// then returns true once it is told to stop; otherwise it returns false at once. Call it first
// thing in main (and in TestMain).
func ServeBareIfChild() bool {
	if serveDurableIfChild() || serveNATSReplyIfChild() {
		return true
	}
	path := os.Getenv(bareEnv)
	if path == "" {
		return false
	}
	if err := serveBare(path); err != nil {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		os.Exit(1)
	}
	return true
}

func serveBare(specPath string) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec bareSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	mux := http.NewServeMux()
	for path, r := range spec.Routes {
		body, err := os.ReadFile(r.BodyFile)
		if err != nil {
			return err
		}
		header := r.Header
		mux.HandleFunc(path, func(w http.ResponseWriter, req *http.Request) {
			_, _ = io.Copy(io.Discard, req.Body)
			writeAnswer(w, header, body)
		})
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveUntil(ctx, spec.Addr, mux)
}

// writeAnswer answers 200 with header and body, as openqq answered.
func writeAnswer(w http.ResponseWriter, header http.Header, body []byte) {
	h := w.Header()
	for k, v := range header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// serveUntil serves handler on addr until ctx ends (the baseline child's SIGTERM).
func serveUntil(ctx context.Context, addr string, handler http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	if err := hs.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// Bare starts a bare server answering each path with its reply, and returns its base URL.
func (h *Harness) Bare(ctx context.Context, routes map[string]Reply) (*Proc, string, error) {
	dir := h.Dir("bare")
	spec := bareSpec{Routes: map[string]bareRoute{}}
	var first string
	i := 0
	for path, r := range routes {
		i++
		hdr, f, err := writeReply(dir, fmt.Sprintf("body-%d", i), r)
		if err != nil {
			return nil, "", err
		}
		spec.Routes[path] = bareRoute{Header: hdr, BodyFile: f}
		first = path
	}
	return h.startChild(ctx, "bare", bareEnv, dir, &spec.Addr, &spec, first)
}

// writeReply writes r's body to dir/name and returns the headers to answer with (those the
// server sets itself taken out) and the file.
func writeReply(dir, name string, r Reply) (http.Header, string, error) {
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, r.Body, 0o644); err != nil {
		return nil, "", err
	}
	hdr := r.Header.Clone()
	hdr.Del("Date")
	hdr.Del("Content-Length")
	return hdr, f, nil
}

// startChild runs this executable again as a baseline server (the child reads spec, a JSON
// file in dir, from the variable env), on a free port written to *addr before spec is saved,
// and returns its base URL once probe answers 200.
func (h *Harness) startChild(ctx context.Context, name, env, dir string, addr *string, spec any, probe string) (*Proc, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	port, err := proctest.FreePort()
	if err != nil {
		return nil, "", err
	}
	*addr = "127.0.0.1:" + strconv.Itoa(port)
	b, _ := json.Marshal(spec)
	specPath := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		return nil, "", err
	}
	p, err := h.Start(name, exe, map[string]string{env: specPath})
	if err != nil {
		return nil, "", err
	}
	url := "http://" + *addr
	if err := pollHTTP(ctx, url+probe, 10*time.Second, p, status200); err != nil {
		p.Stop()
		return nil, "", err
	}
	return p, url, nil
}
