// Package onebottest is a fake OneBot v11 implementation for tests: a real WebSocket server
// (forward) and client (reverse) on loopback that keeps a roster, answers the actions the
// onebot driver calls, pushes events, and behaves like NapCat, go-cqhttp or Lagrange.OneBot
// where they differ (../shared/ONEBOT.md): token checks, message format, self-message style,
// where a temporary session's group lives, retcodes and extra fields, heartbeat interval. It
// also injects faults: dropped sockets, stalled calls, duplicate events, garbage frames.
package onebottest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Flavour is the implementation the peer imitates.
type Flavour string

// The flavours.
const (
	NapCat   Flavour = "napcat"
	GoCQHTTP Flavour = "gocqhttp"
	Lagrange Flavour = "lagrange"
)

// Flavours lists every flavour, for tests that run against each.
var Flavours = []Flavour{NapCat, GoCQHTTP, Lagrange}

// Friend, Member and Group are the peer's roster.
type (
	Friend struct {
		UserID   int64
		Nickname string
		Remark   string
		Category string // NapCat only shows it
	}
	Member struct {
		UserID   int64
		Nickname string
		Card     string
		Role     string // owner, admin, member
	}
	Group struct {
		GroupID int64
		Name    string
		Members []Member
	}
)

// Options configure a peer.
type Options struct {
	Flavour  Flavour
	Token    string
	SelfID   int64
	Nickname string
	Friends  []Friend
	Groups   []Group
	// Heartbeat is the heartbeat interval; 0 means the flavour's (NapCat 30 s, else 5 s).
	Heartbeat time.Duration
	// ReportSelf reports the account's own messages (NapCat reportSelfMessage, go-cqhttp
	// report-self-message, Lagrange IgnoreSelf=false).
	ReportSelf bool
}

// Call is an action the peer received.
type Call struct {
	Action string
	Params map[string]any
	// Err is why the peer refused the call; nil for a call it did (or has not answered yet).
	Err error
}

// Int reads a numeric parameter (numbers and numeric strings alike).
func (c Call) Int(key string) int64 {
	switch v := c.Params[key].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// Text is the text of a message parameter given as segments (or as a string).
func (c Call) Text() string {
	switch m := c.Params["message"].(type) {
	case string:
		return m
	case []any:
		var b strings.Builder
		for _, s := range m {
			seg, _ := s.(map[string]any)
			if seg["type"] == "text" {
				data, _ := seg["data"].(map[string]any)
				t, _ := data["text"].(string)
				b.WriteString(t)
			} else {
				fmt.Fprintf(&b, "<%v>", seg["type"])
			}
		}
		return b.String()
	}
	return ""
}

// Segments are the message parameter's segments as the peer got them (nil for a string).
func (c Call) Segments() []Segment {
	m, _ := c.Params["message"].([]any)
	var segs []Segment
	for _, s := range m {
		seg, _ := s.(map[string]any)
		segs = append(segs, Segment(seg))
	}
	return segs
}

// Type is the segment's type.
func (s Segment) Type() string { t, _ := s["type"].(string); return t }

// Data is one of the segment's data values, as a string.
func (s Segment) Data(key string) string {
	data, _ := s["data"].(map[string]any)
	switch v := data[key].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// ImageBytes are the bytes of an image segment sent as base64:// (nil otherwise).
func (s Segment) ImageBytes() []byte {
	b64, ok := strings.CutPrefix(s.Data("file"), "base64://")
	if s.Type() != "image" || !ok {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil
	}
	return b
}

// Peer is a fake OneBot implementation.
type Peer struct {
	opts Options

	mu       sync.Mutex
	friends  []Friend
	groups   []Group
	conns    map[*websocket.Conn]bool
	calls    []Call
	changed  chan struct{} // closed and replaced on every call and connection change
	stalled  map[string]bool
	dup      bool
	repeat   bool
	offline  bool
	frozen   chan struct{} // non-nil while frozen: closed to thaw
	nextID   int64
	requests map[string]Call // pending requests by flag: Action "friend"/"group"
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

// New returns a peer with the roster of opts; it listens once Serve or DialReverse is called.
func New(opts Options) *Peer {
	if opts.Heartbeat == 0 {
		opts.Heartbeat = 5 * time.Second
		if opts.Flavour == NapCat {
			opts.Heartbeat = 30 * time.Second
		}
	}
	p := &Peer{
		opts: opts, conns: map[*websocket.Conn]bool{}, changed: make(chan struct{}),
		stalled: map[string]bool{}, nextID: 1000, requests: map[string]Call{}, stop: make(chan struct{}),
	}
	p.friends = slices.Clone(opts.Friends)
	for _, g := range opts.Groups {
		g.Members = slices.Clone(g.Members)
		p.groups = append(p.groups, g)
	}
	return p
}

// Serve starts the forward WebSocket on a free loopback port and returns its ws:// URL. The
// peer closes when the test ends.
func (p *Peer) Serve(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(p.forward), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(freezable{ln, p}) }()
	t.Cleanup(func() {
		_ = srv.Close()
		p.Close()
	})
	return "ws://" + ln.Addr().String() + "/"
}

// forward is the forward WebSocket's handshake, with each flavour's token check.
func (p *Peer) forward(w http.ResponseWriter, r *http.Request) {
	tok, given := r.URL.Query().Get("access_token"), r.URL.Query().Has("access_token")
	if !given {
		if h := r.Header.Get("Authorization"); h != "" {
			given = true
			_, tok, _ = strings.Cut(h, " ") // go-cqhttp takes any scheme
			if p.opts.Flavour != GoCQHTTP && !strings.HasPrefix(h, "Bearer ") {
				tok = ""
			}
		}
	}
	ok := p.opts.Token == "" || tok == p.opts.Token
	if !ok && p.opts.Flavour != NapCat {
		code := http.StatusForbidden
		if !given && p.opts.Flavour == GoCQHTTP {
			code = http.StatusUnauthorized
		}
		http.Error(w, "token verify failed", code)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	if !ok {
		// NapCat upgrades first, then refuses in a frame and closes.
		_ = p.write(ws, map[string]any{"status": "failed", "retcode": 1403, "data": nil,
			"message": "token verify failed!", "wording": "token verify failed!", "echo": nil})
		_ = ws.Close(websocket.StatusPolicyViolation, "token verify failed")
		return
	}
	p.run(ws, true)
}

// DialReverse connects to the driver's reverse WebSocket at url (ws://host:port/path) and
// dials again every interval after a connection ends or fails, as the implementations do,
// until the peer closes.
func (p *Peer) DialReverse(t testing.TB, url string, every time.Duration) {
	t.Helper()
	t.Cleanup(p.Close)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			h := http.Header{}
			scheme := "Bearer "
			if p.opts.Flavour == GoCQHTTP {
				scheme = "Token "
			}
			if p.opts.Token != "" || p.opts.Flavour == NapCat { // NapCat sends "Bearer " even without one
				h.Set("Authorization", scheme+p.opts.Token)
			}
			h.Set("X-Self-ID", strconv.FormatInt(p.opts.SelfID, 10))
			h.Set("X-Client-Role", "Universal")
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
			cancel()
			if err == nil {
				p.run(ws, false)
			}
			select {
			case <-p.stop:
				return
			case <-time.After(every):
			}
		}
	}()
}

// Close ends every connection and stops dialing.
func (p *Peer) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.stop)
	p.mu.Unlock()
	p.Drop()
	p.wg.Wait()
}

// run serves one connection until it ends: lifecycle, heartbeats, and the actions.
func (p *Peer) run(ws *websocket.Conn, forward bool) {
	ws.SetReadLimit(64 << 20)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = ws.CloseNow()
		return
	}
	p.conns[ws] = true
	p.notifyLocked()
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, ws)
		p.notifyLocked()
		p.mu.Unlock()
		_ = ws.CloseNow()
	}()
	life := p.event("meta_event", map[string]any{"meta_event_type": "lifecycle", "sub_type": "connect"})
	if forward && p.opts.Flavour == GoCQHTTP {
		life["_post_method"] = 2 // go-cqhttp's stray field
	}
	_ = p.write(ws, life)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.beat(ws) // the first at once, so that a client knows the interval from the start
	go p.heartbeat(ctx, ws)
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		p.handle(ws, data)
	}
}

func (p *Peer) heartbeat(ctx context.Context, ws *websocket.Conn) {
	t := time.NewTicker(p.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.beat(ws)
		}
	}
}

// beat sends a heartbeat, unless the peer is frozen.
func (p *Peer) beat(ws *websocket.Conn) {
	p.mu.Lock()
	online, frozen := !p.offline, p.frozen != nil
	p.mu.Unlock()
	if frozen {
		return
	}
	_ = p.write(ws, p.event("meta_event", map[string]any{
		"meta_event_type": "heartbeat", "interval": p.opts.Heartbeat.Milliseconds(),
		"status": map[string]any{"online": online, "good": online},
	}))
}

func (p *Peer) write(ws *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return ws.Write(ctx, websocket.MessageText, b)
}

func (p *Peer) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// event is an event of post_type with the common fields.
func (p *Peer) event(postType string, fields map[string]any) map[string]any {
	ev := map[string]any{"time": time.Now().Unix(), "self_id": p.opts.SelfID, "post_type": postType}
	for k, v := range fields {
		ev[k] = v
	}
	return ev
}

// broadcast sends an event to every connection (twice while duplicating).
func (p *Peer) broadcast(ev map[string]any) {
	p.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	n := 1
	if p.dup {
		n = 2
	}
	p.mu.Unlock()
	for _, c := range conns {
		for range n {
			_ = p.write(c, ev)
		}
	}
}

// Faults and observation.

// Drop closes every connection at once, without a close frame (a crash, a cut cable).
func (p *Peer) Drop() {
	p.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.CloseNow()
	}
}

// Stall makes calls to action go unanswered (on) or answered again (off).
func (p *Peer) Stall(action string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled[action] = on
}

// Duplicate sends every event twice while on.
func (p *Peer) Duplicate(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dup = on
}

// RepeatAnswers answers every call twice with the same echo while on.
func (p *Peer) RepeatAnswers(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.repeat = on
}

// SendRaw sends a frame as is to every connection: garbage, binary, or anything.
func (p *Peer) SendRaw(data []byte, binary bool) {
	typ := websocket.MessageText
	if binary {
		typ = websocket.MessageBinary
	}
	p.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = c.Write(ctx, typ, data)
		cancel()
	}
}

// SetOnline says in heartbeats whether the QQ account is online; going offline also sends
// NapCat's bot_offline notice.
func (p *Peer) SetOnline(online bool) {
	p.mu.Lock()
	p.offline = !online
	p.mu.Unlock()
	if !online && p.opts.Flavour == NapCat {
		p.broadcast(p.event("notice", map[string]any{"notice_type": "bot_offline", "user_id": p.opts.SelfID,
			"tag": "BotOfflineEvent", "message": "下线"}))
	}
}

// Freeze makes the forward WebSocket go silent with its sockets open (on), as a hung process
// does: no heartbeats, no answers, no pongs. Freeze(false) thaws it.
func (p *Peer) Freeze(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.frozen == nil:
		p.frozen = make(chan struct{})
	case !on && p.frozen != nil:
		close(p.frozen)
		p.frozen = nil
	}
}

// freezable hands out connections that hold what they read while the peer is frozen, so
// that even WebSocket pings go unanswered.
type freezable struct {
	net.Listener
	p *Peer
}

func (l freezable) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return frozenConn{c, l.p}, nil
}

type frozenConn struct {
	net.Conn
	p *Peer
}

func (c frozenConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	for {
		c.p.mu.Lock()
		frozen := c.p.frozen
		c.p.mu.Unlock()
		if frozen == nil {
			return n, err
		}
		select {
		case <-frozen:
		case <-c.p.stop:
			return 0, net.ErrClosed
		}
	}
}

// Connections is how many connections are open.
func (p *Peer) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// Calls returns the calls of action received so far ("" for all).
func (p *Peer) Calls(action string) []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Call
	for _, c := range p.calls {
		if action == "" || c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// WaitFor waits up to timeout for cond (checked on every call and connection change).
func (p *Peer) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		ch := p.changed
		p.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("onebottest: %s: not within %s", what, timeout)
		}
	}
}

// WaitCall waits for the n-th call (from 1) of action and returns it.
func (p *Peer) WaitCall(t testing.TB, action string, n int) Call {
	t.Helper()
	var c Call
	p.WaitFor(t, 10*time.Second, fmt.Sprintf("call %d of %s", n, action), func() bool {
		calls := p.Calls(action)
		if len(calls) >= n {
			c = calls[n-1]
			return true
		}
		return false
	})
	return c
}

// WaitConnections waits until n connections are open.
func (p *Peer) WaitConnections(t testing.TB, n int) {
	t.Helper()
	p.WaitFor(t, 10*time.Second, fmt.Sprintf("%d connections", n), func() bool { return p.Connections() == n })
}

// errUnknownAction is an action the flavour does not have; each answers it with its own retcode.
var errUnknownAction = errors.New("unknown action")

// InGroup reports whether the peer has a member in a group.
func (p *Peer) InGroup(groupID, uid int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.memberLocked(groupID, uid) != nil
}
