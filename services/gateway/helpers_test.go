package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/embednats"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

// The test session's behaviour is chosen per call by the "mode" parameter, so one responder
// serves every case of a table.
const (
	modeSilent = "silent" // never answers
	modeSlow   = "slow"   // answers after slowDelay
	modeError  = "error"  // answers with the micro error headers: code, desc, body params
	modeRaw    = "raw"    // answers with the "raw" parameter's bytes, unchanged
)

const slowDelay = 400 * time.Millisecond

// received is what the test session got on one request.
type received struct {
	Subject string            `json:"subject"`
	Params  map[string]string `json:"params"`
	Ticket  string            `json:"ticket,omitempty"` // check_event's Openqq-Ticket header
	Hold    string            `json:"hold,omitempty"`   // check_event's Openqq-Hold header
}

// env is one gateway served on loopback in front of a real NATS server and a test session.
type env struct {
	srv    *embednats.Server
	g      *Gateway
	base   string // http://127.0.0.1:<port>
	client *http.Client
	cancel context.CancelFunc
	served chan error // Serve's result
	// accepted gets a value each time the server accepts a connection.
	accepted chan struct{}

	mu   sync.Mutex
	got  map[string]received // by the "rid" parameter
	seen chan received       // every request the session got, for the tests that wait on one
}

// withDefaults fills what New requires and the tests do not care about.
func withDefaults(cfg Config) Config {
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = "qq"
	}
	if cfg.APITimeout == 0 {
		cfg.APITimeout = 5 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	return cfg
}

// startEnv starts NATS, a test session on <prefix>.api.> (unless noSession), and the gateway.
func startEnv(t *testing.T, cfg Config, noSession bool) *env {
	t.Helper()
	cfg = withDefaults(cfg)
	srv := natstest.Start(t)
	gwConn := natstest.Connect(t, srv)
	e := &env{srv: srv, got: map[string]received{}, seen: make(chan received, 1024)}
	if !noSession {
		e.subscribe(t, natstest.Connect(t, srv), cfg.SubjectPrefix+".api.>")
	}
	g, err := New(gwConn, cfg, natstest.Logger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.g = g
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	e.accepted = make(chan struct{}, 64)
	ln = notifyListener{Listener: ln, accepted: e.accepted}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.served = make(chan error, 1)
	go func() { e.served <- g.Serve(ctx, ln) }()
	e.client = &http.Client{
		Timeout: 15 * time.Second,
		// Redirects are answers too: the tests must see them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(func() {
		// Connections the client dialled but never used are StateNew on the server, which
		// Shutdown waits 5s for (see TestServeShutdownWithUnusedConnection): close them first.
		e.client.CloseIdleConnections()
		cancel()
		select {
		case err := <-e.served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
		e.client.CloseIdleConnections()
	})
	return e
}

// subscribe runs the test session on subj with nc.
func (e *env) subscribe(t *testing.T, nc *nats.Conn, subj string) {
	t.Helper()
	_, err := nc.Subscribe(subj, func(m *nats.Msg) {
		if m.Reply == "" {
			return // not a request: check_event's releases, which the tests watch themselves
		}
		var p map[string]string
		if err := json.Unmarshal(m.Data, &p); err != nil {
			p = map[string]string{"__undecodable__": string(m.Data)}
		}
		rec := received{Subject: m.Subject, Params: p,
			Ticket: m.Header.Get(events.HeaderTicket), Hold: m.Header.Get(events.HeaderHold)}
		e.mu.Lock()
		if rid, ok := p["rid"]; ok {
			e.got[rid] = rec
		}
		e.mu.Unlock()
		select {
		case e.seen <- rec:
		default:
		}
		switch p["mode"] {
		case modeSilent:
			return
		case modeSlow:
			go func() {
				time.Sleep(slowDelay)
				_ = m.Respond(events.MustMarshal(rec))
			}()
			return
		case modeError:
			reply := nats.NewMsg(m.Reply)
			reply.Header.Set(micro.ErrorCodeHeader, p["code"])
			reply.Header.Set(micro.ErrorHeader, p["desc"])
			reply.Data = []byte(p["body"])
			_ = m.RespondMsg(reply)
			return
		case modeRaw:
			_ = m.Respond([]byte(p["raw"]))
			return
		}
		_ = m.Respond(events.MustMarshal(rec))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// receivedBy returns what the session got for the request with parameter rid.
func (e *env) receivedBy(rid string) (received, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.got[rid]
	return r, ok
}

// call is one HTTP request.
type call struct {
	method string
	path   string // default /openqq/get_user_info
	query  string // raw query, without '?'
	ct     string // Content-Type, if any
	body   []byte
	header map[string]string
}

// answer is one HTTP reply.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(t *testing.T, c call) answer {
	t.Helper()
	a := e.doRaw(t, c)
	checkCommon(t, c.method, a)
	return a
}

// doRaw is do without the checks of a JSON reply (Openwx's text 403, bytes replies).
func (e *env) doRaw(t *testing.T, c call) answer {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	if c.path == "" {
		c.path = "/openqq/" + events.RouteGetUserInfo
	}
	u := e.base + c.path
	if c.query != "" {
		u += "?" + c.query
	}
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, u, body)
	if err != nil {
		t.Fatalf("NewRequest %s %s: %v", c.method, u, err)
	}
	if c.ct != "" {
		req.Header.Set("Content-Type", c.ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", c.method, u, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// checkCommon asserts what holds for every reply: CORS for any origin, and for all but the
// preflight a JSON body (none for HEAD) of the API's content type.
func checkCommon(t *testing.T, method string, a answer) {
	t.Helper()
	if got := a.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("%s: Access-Control-Allow-Origin = %q, want *", method, got)
	}
	if method == http.MethodOptions {
		return
	}
	if got := a.header.Get("Content-Type"); got != contentType {
		t.Errorf("%s: HTTP %d Content-Type = %q, want %q (body %q)", method, a.status, got, contentType, a.body)
	}
	if method == http.MethodHead {
		if len(a.body) != 0 {
			t.Errorf("HEAD: body %q, want none", a.body)
		}
		return
	}
	b := a.body
	if cb, inner, ok := unwrapJSONP(b); ok && cb != "" {
		b = inner
	}
	if !json.Valid(b) {
		t.Errorf("%s: HTTP %d body is not JSON: %q", method, a.status, a.body)
	}
}

// unwrapJSONP splits cb(body) into cb and body.
func unwrapJSONP(b []byte) (string, []byte, bool) {
	s := string(b)
	i := strings.IndexByte(s, '(')
	if i <= 0 || !strings.HasSuffix(s, ")") || !jsIdentifier.MatchString(s[:i]) {
		return "", nil, false
	}
	return s[:i], []byte(s[i+1 : len(s)-1]), true
}

// wantStatus asserts an error reply: the HTTP status and the exact {"code","status"} body.
func wantStatus(t *testing.T, a answer, st *events.Status) {
	t.Helper()
	if a.status != st.HTTPStatus() {
		t.Errorf("HTTP status = %d, want %d (body %s)", a.status, st.HTTPStatus(), a.body)
	}
	if want := events.MustMarshal(st); !bytes.Equal(a.body, want) {
		t.Errorf("body = %s, want %s", a.body, want)
	}
}

// decodeStatus reads a {"code","status"} reply.
func decodeStatus(t *testing.T, b []byte) events.Status {
	t.Helper()
	var st events.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("reply %q is not a status: %v", b, err)
	}
	return st
}

// decodeEcho reads the test session's echo reply.
func decodeEcho(t *testing.T, a answer) received {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("HTTP %d, want 200: %s", a.status, a.body)
	}
	var r received
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("echo %q: %v", a.body, err)
	}
	return r
}

// equalParams compares two parameter sets, nil and empty alike.
func equalParams(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// part is one field of a multipart body; file parts are not parameters.
type part struct {
	name, value string
	file        bool
}

// multipartBody encodes parts as multipart/form-data.
func multipartBody(t testing.TB, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		var err error
		if p.file {
			var fw io.Writer
			fw, err = w.CreateFormFile(p.name, "upload.bin")
			if err == nil {
				_, err = fw.Write([]byte(p.value))
			}
		} else {
			err = w.WriteField(p.name, p.value)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// waitServed waits for Serve to return.
func (e *env) waitServed(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-e.served:
		e.served <- err // for the cleanup
		return err
	case <-time.After(within):
		t.Fatalf("Serve did not return within %s", within)
		return errors.New("unreachable")
	}
}

// notifyListener tells when the server accepted a connection.
type notifyListener struct {
	net.Listener
	accepted chan struct{}
}

func (l notifyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		select {
		case l.accepted <- struct{}{}:
		default:
		}
	}
	return c, err
}
