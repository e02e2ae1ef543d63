package proctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Request is one request a Receiver got, and what it answered.
type Request struct {
	At            time.Time // when it arrived
	Method        string
	Path          string
	RawQuery      string
	Header        http.Header
	ContentLength int64
	Chunked       bool
	Body          []byte
	// Status is what the receiver answered; Abandoned says the client hung up before the
	// answer (a reporter that was killed, or gave up), so it never read Status.
	Status    int
	Abandoned bool
}

// JSON is the body decoded into a map with numbers as json.Number (ids stay exact), or nil if
// it is not a JSON object.
func (r Request) JSON() map[string]any {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil
	}
	return m
}

// Answer is what a Receiver says back.
type Answer struct {
	Status      int // 0: 200
	ContentType string
	Body        string
	// Delay holds the answer back (it ends early if the client hangs up).
	Delay time.Duration
	// Header is added to the answer's headers (a redirect's Location, say).
	Header http.Header
}

// ReceiverOptions configure a Receiver; the zero value answers 200 to everything and keeps
// every request.
type ReceiverOptions struct {
	// Respond chooses the answer to each request (nil: 200, empty body). It may be replaced
	// later with SetRespond.
	Respond func(*Request) Answer
	// Observe, if set, sees each request once its answer is settled (Status and Abandoned
	// set), before the answer goes out: counters that must keep up with a benchmark's rate.
	Observe func(Request)
	// Discard keeps no request (Requests stays empty): for benchmarks, where Observe counts.
	Discard bool
}

// Receiver is a post_api receiver: a real HTTP server on a free loopback port that records
// every request (any method and path) and answers as configured.
type Receiver struct {
	// URL is http://127.0.0.1:<port>/post_api.
	URL string

	addr     string
	srvMu    sync.Mutex
	srv      *http.Server // nil while Down
	opts     ReceiverOptions
	inflight atomic.Int64

	mu      sync.Mutex
	respond func(*Request) Answer
	reqs    []Request
	changed chan struct{} // closed and replaced at every recorded request
	hold    chan struct{} // while not nil, answers wait until it is closed
}

// NewReceiver starts a receiver; Close stops it.
func NewReceiver(opts ReceiverOptions) (*Receiver, error) {
	ln, err := Listen()
	if err != nil {
		return nil, err
	}
	r := &Receiver{URL: "http://" + ln.Addr().String() + "/post_api", addr: ln.Addr().String(), opts: opts, respond: opts.Respond, changed: make(chan struct{})}
	r.serve(ln)
	return r, nil
}

func (r *Receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	r.srvMu.Lock()
	r.srv = srv
	r.srvMu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// StartReceiver is NewReceiver for a test: it stops when the test ends.
func StartReceiver(t testing.TB, opts ReceiverOptions) *Receiver {
	t.Helper()
	r, err := NewReceiver(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// Close stops the server; requests being answered are cut off.
func (r *Receiver) Close() {
	r.Release()
	r.Down()
}

// Down closes the listener and every connection: nothing answers on the port (a receiver
// that vanished) until Up.
func (r *Receiver) Down() {
	r.srvMu.Lock()
	srv := r.srv
	r.srv = nil
	r.srvMu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens on the same port again (the receiver came back), waiting up to 5 s for the port
// to be free; what it recorded before stays.
func (r *Receiver) Up() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", r.addr)
		if err == nil {
			r.serve(ln)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proctest: listen on %s again: %w", r.addr, err)
		}
		time.Sleep(10 * time.Millisecond) // the port is not ours to watch: try again
	}
}

// SetRespond replaces how the receiver answers.
func (r *Receiver) SetRespond(f func(*Request) Answer) {
	r.mu.Lock()
	r.respond = f
	r.mu.Unlock()
}

// Hold keeps every answer back until Release.
func (r *Receiver) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold == nil {
		r.hold = make(chan struct{})
	}
}

// Release lets the held answers go.
func (r *Receiver) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold != nil {
		close(r.hold)
		r.hold = nil
	}
}

// Inflight is how many requests are being answered.
func (r *Receiver) Inflight() int64 { return r.inflight.Load() }

func (r *Receiver) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	req := Request{
		At: time.Now(), Method: hr.Method, Path: hr.URL.Path, RawQuery: hr.URL.RawQuery,
		Header: hr.Header.Clone(), ContentLength: hr.ContentLength, Chunked: len(hr.TransferEncoding) > 0,
	}
	body, err := io.ReadAll(hr.Body)
	if err != nil {
		return
	}
	req.Body = body
	r.mu.Lock()
	respond := r.respond
	r.mu.Unlock()
	a := Answer{Status: http.StatusOK}
	if respond != nil {
		a = respond(&req)
	}
	if a.Status == 0 {
		a.Status = http.StatusOK
	}
	ctx := hr.Context()
	if a.Delay > 0 {
		t := time.NewTimer(a.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	r.mu.Lock()
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
		}
	}
	req.Status = a.Status
	req.Abandoned = ctx.Err() != nil
	if r.opts.Observe != nil {
		r.opts.Observe(req)
	}
	r.mu.Lock()
	if !r.opts.Discard {
		r.reqs = append(r.reqs, req)
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if req.Abandoned {
		return
	}
	for k, vs := range a.Header {
		w.Header()[k] = vs
	}
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

// Requests returns a copy of every request recorded so far, in the order they were answered.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.reqs...)
}

// Changed is closed at the next request recorded.
func (r *Receiver) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// Wait waits until cond holds for the requests recorded, checking at each new one, and
// returns them; it reports false if timeout passed first.
func (r *Receiver) Wait(timeout time.Duration, cond func([]Request) bool) ([]Request, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := r.Changed()
		got := r.Requests()
		if cond(got) {
			return got, true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return r.Requests(), false
		}
	}
}
