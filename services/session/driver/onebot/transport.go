package onebot

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/services/session/driver"
)

// dial opens the implementation's forward WebSocket. go-cqhttp and Lagrange refuse a bad
// token with HTTP 401/403 before the upgrade; NapCat upgrades first and then says 1403, which
// the connection reports as errAuth.
func (d *Driver) dial(ctx context.Context) (*conn, error) {
	h := http.Header{}
	if d.cfg.AccessToken != "" {
		h.Set("Authorization", "Bearer "+d.cfg.AccessToken)
	}
	dctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, d.cfg.URL, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return nil, fmt.Errorf("%w: HTTP %d", errAuth, resp.StatusCode)
		}
		// The error quotes the URL, which may carry ?access_token.
		return nil, config.MaskURLError(err, d.cfg.URL)
	}
	return newConn(ws, d.log, d.cfg.CallTimeout, d.cfg.IdleTimeout), nil
}

// runReverse listens for the implementation's reverse WebSocket and serves each connection
// it makes; a new one replaces the old (the peer reconnects when it thinks ours died).
func (d *Driver) runReverse(ctx context.Context, sink driver.Sink) error {
	ln, err := net.Listen("tcp", d.cfg.ReverseAddr)
	if err != nil {
		return fmt.Errorf("onebot: listen on ONEBOT_REVERSE_ADDR: %w: %w", driver.ErrFatal, err)
	}
	rv := &reverse{d: d, next: make(chan *conn, 1)}
	srv := &http.Server{Handler: rv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		_ = srv.Close()
		rv.closeAll()
	}()
	d.log.Info("onebot: waiting for the OneBot implementation's reverse WebSocket", "addr", ln.Addr().String())
	if d.cfg.OnListen != nil {
		d.cfg.OnListen(ln.Addr())
	}
	for {
		var c *conn
		select {
		case <-ctx.Done():
			return nil
		case c = <-rv.next:
		}
		err := d.serve(ctx, c, sink)
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("onebot: reverse connection ended, waiting for the next", "err", err)
		sink.State(events.StateLoading)
	}
}

// reverse is the HTTP side of the reverse WebSocket.
type reverse struct {
	d    *Driver
	next chan *conn // the newest connection not yet served

	mu   sync.Mutex
	cur  *conn
	done bool
}

func (rv *reverse) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := rv.d.log.With("remote", r.RemoteAddr)
	if code, why := rv.d.authorize(r); code != 0 {
		log.Warn("onebot: reverse WebSocket refused", "status", code, "why", why)
		http.Error(w, why, code)
		return
	}
	// API-only and Event-only sockets (go-cqhttp's split set-up) would need pairing; every
	// implementation can do Universal, and NapCat and Lagrange do it by default.
	if role := r.Header.Get("X-Client-Role"); role != "" && !strings.EqualFold(role, "Universal") {
		log.Warn("onebot: reverse WebSocket refused", "role", role)
		http.Error(w, "openqq takes a Universal reverse WebSocket, not "+role, http.StatusBadRequest)
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		log.Info("onebot: reverse WebSocket accept", "err", err)
		return
	}
	c := newConn(ws, rv.d.log, rv.d.cfg.CallTimeout, rv.d.cfg.IdleTimeout)
	log.Info("onebot: reverse WebSocket connected", "self_id", r.Header.Get("X-Self-ID"))
	rv.mu.Lock()
	if rv.done {
		rv.mu.Unlock()
		c.close()
		return
	}
	old := rv.cur
	rv.cur = c
	select { // an older one still waiting is stale too
	case stale := <-rv.next:
		stale.close()
	default:
	}
	rv.next <- c
	rv.mu.Unlock()
	if old != nil {
		old.fail(errors.New("replaced by a newer reverse connection"))
	}
}

func (rv *reverse) closeAll() {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.done = true
	if rv.cur != nil {
		rv.cur.close()
	}
}

// authorize checks a reverse connection's token in every form implementations send it:
// Authorization "Bearer <t>" (NapCat, Lagrange, LLOneBot), "Token <t>" (go-cqhttp), or
// ?access_token=. It compares digests in constant time, so neither the token nor its length
// shows in the timing.
func (d *Driver) authorize(r *http.Request) (int, string) {
	if d.cfg.AccessToken == "" {
		return 0, ""
	}
	var got []string
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok &&
		(strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
		got = append(got, strings.TrimSpace(tok))
	}
	if tok := r.URL.Query().Get("access_token"); tok != "" {
		got = append(got, tok)
	}
	if len(got) == 0 {
		return http.StatusUnauthorized, "access token missing"
	}
	want := sha256.Sum256([]byte(d.cfg.AccessToken))
	ok := 0
	for _, g := range got {
		sum := sha256.Sum256([]byte(g))
		ok |= subtle.ConstantTimeCompare(sum[:], want[:])
	}
	if ok != 1 {
		return http.StatusForbidden, "access token wrong"
	}
	return 0, ""
}
