package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// streamEnv is a gateway on loopback in front of a real NATS server that holds the stream
// QQ_EVENTS, which the tests fill themselves.
type streamEnv struct {
	t      *testing.T
	srv    *embednats.Server
	nc     *nats.Conn // the test's own connection
	js     jetstream.JetStream
	g      *Gateway
	base   string // http://127.0.0.1:<port>
	client *http.Client
	stop   func() // stops the HTTP server (Serve or Shutdown), waiting for it
}

// startStream starts NATS, the stream QQ_EVENTS (unless noStream) and a gateway. Without tune
// the gateway serves its own handler with Serve, exactly as in production; with tune, the
// stream routes get a streamer tuned by it (short heartbeats, small limits), mounted behind
// the gateway's auth and CORS on a server of the test's.
func startStream(t *testing.T, cfg Config, noStream bool, tune func(*streamer)) *streamEnv {
	t.Helper()
	cfg = withDefaults(cfg)
	srv := natstest.Start(t)
	e := &streamEnv{t: t, srv: srv, nc: natstest.Connect(t, srv)}
	js, err := jetstream.New(e.nc)
	if err != nil {
		t.Fatal(err)
	}
	e.js = js
	if !noStream {
		e.createStream(events.Subjects{Prefix: cfg.SubjectPrefix}.Stream(), events.Subjects{Prefix: cfg.SubjectPrefix}.Events())
	}
	log := natstest.Logger(t)
	// The gateway's connection reports NATS's asynchronous errors (a slow consumer, above all).
	gnc, err := nats.Connect(srv.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
		log.Error("NATS async error", "err", err)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gnc.Close)
	g, err := New(gnc, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	e.g = g
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	served := make(chan error, 1)
	var shutdown func()
	if tune == nil {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { served <- g.Serve(ctx, ln) }()
		shutdown = cancel
	} else {
		st := g.newStreamer(g.qq)
		tune(st)
		r := mux.NewRouter()
		r.Methods(http.MethodGet).Path(pathEvents).HandlerFunc(st.sse)
		r.Methods(http.MethodGet).Path(pathWS).HandlerFunc(st.ws)
		r.Methods(http.MethodGet).Path(pathReporters).HandlerFunc(st.reporters)
		hs := &http.Server{Handler: g.recoverer(cors(g.auth(r))), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				served <- err
				return
			}
			served <- nil
		}()
		shutdown = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
				_ = hs.Close()
			}
		}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 300}
	e.client = &http.Client{Transport: tr}
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		tr.CloseIdleConnections()
		shutdown()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("the HTTP server did not stop within 15s")
		}
		tr.CloseIdleConnections()
	}
	t.Cleanup(e.stop)
	return e
}

// createStream creates a stream like the session's QQ_EVENTS (in memory).
func (e *streamEnv) createStream(name string, subjects ...string) {
	e.t.Helper()
	_, err := e.js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: name, Subjects: subjects, Storage: jetstream.MemoryStorage,
	})
	if err != nil {
		e.t.Fatalf("create stream %s: %v", name, err)
	}
}

// publish stores one item on qq.events.<name> and returns its sequence.
func (e *streamEnv) publish(name string, data string) uint64 {
	e.t.Helper()
	ack, err := e.js.Publish(context.Background(), events.Subjects{}.Event(name), []byte(data))
	if err != nil {
		e.t.Fatalf("publish %s: %v", name, err)
	}
	return ack.Sequence
}

// stored is one item as the test published it.
type stored struct {
	seq        uint64
	name, data string
}

// publishN stores n items named name, with distinct JSON bodies.
func (e *streamEnv) publishN(n int, name string) []stored {
	e.t.Helper()
	out := make([]stored, n)
	for i := range out {
		data := `{"post_type":"receive_message","type":"` + name + `","content":"第` + strconv.Itoa(i) + `条"}`
		out[i] = stored{e.publish(name, data), name, data}
	}
	return out
}

// sseEvent is one event of a stream, or one comment line.
type sseEvent struct {
	ID, Event, Data string
	Comment         string // a ": ..." line, alone
}

func (ev sseEvent) String() string {
	if ev.Comment != "" {
		return ":" + ev.Comment
	}
	return "id=" + ev.ID + " event=" + ev.Event + " data=" + ev.Data
}

// sseStream is a client's open stream, read by a goroutine into events.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	gate   *gatedReader
	events chan sseEvent
	ended  chan error // the reader's end: io.EOF for a clean end of the response
}

// gatedReader reads only while open: a paused client reads (almost) nothing.
type gatedReader struct {
	r    io.Reader
	mu   sync.Mutex
	cond *sync.Cond
	shut bool
}

func newGatedReader(r io.Reader) *gatedReader {
	g := &gatedReader{r: r}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gatedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	for g.shut {
		g.cond.Wait()
	}
	g.mu.Unlock()
	return g.r.Read(p)
}

func (g *gatedReader) set(shut bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = shut
	g.cond.Broadcast()
}

// pause stops reading the stream (after at most one more read of a few KB).
func (s *sseStream) pause() { s.gate.set(true) }

// resume reads the stream again.
func (s *sseStream) resume() { s.gate.set(false) }

// get sends GET path?query with the header pairs kv.
func (e *streamEnv) get(path, query string, kv ...string) *http.Response {
	e.t.Helper()
	u := e.base + path
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("GET %s: %v", u, err)
	}
	return resp
}

// open opens /openqq/events?query and checks the stream's headers. Once it returns, the
// client's consumer exists: items published from then on reach it.
func (e *streamEnv) open(query string, kv ...string) *sseStream {
	e.t.Helper()
	return e.openPath(pathEvents, query, kv...)
}

// openPath is open on another platform's stream (/openwx/events).
func (e *streamEnv) openPath(path, query string, kv ...string) *sseStream {
	e.t.Helper()
	resp := e.get(path, query, kv...)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e.t.Fatalf("GET %s?%s: HTTP %d %s", path, query, resp.StatusCode, b)
	}
	for k, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
		"Access-Control-Allow-Origin": "*",
	} {
		if got := resp.Header.Get(k); got != want {
			e.t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	s := &sseStream{t: e.t, resp: resp, gate: newGatedReader(resp.Body), events: make(chan sseEvent, 4096),
		ended: make(chan error, 1)}
	go func() { s.ended <- readSSE(s.gate, func(ev sseEvent) { s.events <- ev }) }()
	e.t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.resp.Body.Close()
	s.resume()
}

// readSSE parses a stream, calling f for each complete event and each comment, until the
// stream ends; an event cut short by the end is not reported.
func readSSE(r io.Reader, f func(sseEvent)) error {
	br := bufio.NewReader(r)
	var ev sseEvent
	var data []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.ID != "" || ev.Event != "" || data != nil {
				ev.Data = strings.Join(data, "\n")
				f(ev)
			}
			ev, data = sseEvent{}, nil
		case strings.HasPrefix(line, ":"):
			f(sseEvent{Comment: strings.TrimPrefix(line, ":")})
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Event = value
			case "data":
				data = append(data, value)
			}
		}
	}
}

// next returns the next event that is not a comment.
func (s *sseStream) next(within time.Duration) sseEvent {
	s.t.Helper()
	timeout := time.After(within)
	for {
		select {
		case ev := <-s.events:
			if ev.Comment == "" {
				return ev
			}
		case err := <-s.ended:
			s.ended <- err
			s.t.Fatalf("the stream ended (%v), want an event", err)
		case <-timeout:
			s.t.Fatalf("no event within %s", within)
		}
	}
}

// want reads the next len(items) events and checks they are items, in order.
func (s *sseStream) want(items []stored) {
	s.t.Helper()
	for i, it := range items {
		ev := s.next(5 * time.Second)
		if ev.ID != strconv.FormatUint(it.seq, 10) || ev.Event != it.name || ev.Data != it.data {
			s.t.Fatalf("event %d: %v, want id=%d event=%s data=%s", i, ev, it.seq, it.name, it.data)
		}
	}
}

// wantKeepalive checks that the next thing on the stream is a keepalive comment, not an
// event: the stream had nothing more to send.
func (s *sseStream) wantKeepalive(within time.Duration) {
	s.t.Helper()
	select {
	case ev := <-s.events:
		if ev.Comment != " keepalive" {
			s.t.Fatalf("got %v, want no more events (a keepalive)", ev)
		}
	case err := <-s.ended:
		s.ended <- err
		s.t.Fatalf("the stream ended (%v), want a keepalive", err)
	case <-time.After(within):
		s.t.Fatalf("no keepalive within %s", within)
	}
}

// waitEnd waits for the stream to end and returns the events (not the comments) after those
// already read.
func (s *sseStream) waitEnd(within time.Duration) ([]sseEvent, error) {
	s.t.Helper()
	var evs []sseEvent
	timeout := time.After(within)
	for {
		select {
		case ev := <-s.events:
			if ev.Comment == "" {
				evs = append(evs, ev)
			}
		case err := <-s.ended:
			for {
				select {
				case ev := <-s.events:
					if ev.Comment == "" {
						evs = append(evs, ev)
					}
				default:
					return evs, err
				}
			}
		case <-timeout:
			s.t.Fatalf("the stream did not end within %s (%d events read)", within, len(evs))
		}
	}
}

// seqs lists the items' sequences.
func seqs(items []stored) []uint64 {
	out := make([]uint64, len(items))
	for i, it := range items {
		out[i] = it.seq
	}
	return out
}

// tuned returns a tune function setting a short heartbeat.
func tuned(heartbeat time.Duration) func(*streamer) {
	return func(s *streamer) { s.heartbeat = heartbeat }
}
