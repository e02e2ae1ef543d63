package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/logging"
)

// ws streams QQ_EVENTS over a WebSocket: each item is one text message
// {"id":<sequence>,"event":"<name>","data":<its JSON>}. since, replay=last and filter work as
// for the Server-Sent Events. Messages from the client are not expected: one closes the
// connection.
func (s *streamer) ws(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		writeStatus(w, events.ErrBadRequest("%s is a WebSocket: send an upgrade request", s.p.path+"ws"))
		return
	}
	if !s.originAllowed(r) {
		s.log.Info("websocket refused: cross-origin", "origin", logging.Clip(r.Header.Get("Origin"), logging.MaxValue), "remote", r.RemoteAddr)
		writeStatus(w, events.NewStatus(events.CodeAuthFailure, "origin not allowed: same origin or ALLOWED_ORIGINS only"))
		return
	}
	cfg, st := s.consumerConfig(r)
	if st != nil {
		writeStatus(w, st)
		return
	}
	release, st := s.admit(r)
	if st != nil {
		writeStatus(w, st)
		return
	}
	defer release()
	// The connection outlives the server's deadlines; each write has its own (wsSink).
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	ctx, cancel := s.streamContext(r)
	defer cancel()
	att, st := s.attach(ctx, cfg)
	if st != nil {
		writeStatus(w, st)
		return
	}
	defer s.detach(att)

	log := s.log.With("kind", "ws", "remote", r.RemoteAddr)
	// The origin is checked above (originAllowed).
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		log.Info("websocket accept", "err", err) // Accept answered the client
		return
	}
	defer func() { _ = c.CloseNow() }()
	// CloseRead answers pings and close frames, and ends its context when the client goes. It
	// closes the connection when that context ends: so not the stream's, or a shutdown could
	// not say goodbye. The stream ends with either.
	gone := c.CloseRead(context.WithoutCancel(ctx))
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer context.AfterFunc(gone, func() { stop(errClientGone) })()
	out := &wsSink{c: c, ctx: ctx, timeout: s.writeTimeout}
	log.Debug("event stream opened", "deliver", cfg.DeliverPolicy.String(), "start_seq", cfg.OptStartSeq,
		"filter", cfg.FilterSubjects)
	err = s.serve(ctx, cfg, att, out, log)
	log.Debug("event stream closed", "why", err)
	switch {
	case errors.Is(err, errTooSlow), errors.Is(err, errStalled):
		// closed by drop, or not to be closed politely
	case errors.Is(err, errShutdown):
		out.close(websocket.StatusGoingAway, "server shutting down; reconnect with since=<last id> to resume")
	case errors.Is(err, errClientGone), gone.Err() != nil:
		// the client closed or is gone
	default:
		out.close(websocket.StatusTryAgainLater, "event stream interrupted; reconnect with since=<last id> to resume")
	}
}

// originAllowed lets a WebSocket in from no browser (no Origin), from the gateway's own pages,
// or from ALLOWED_ORIGINS. A browser sends no CORS preflight for a WebSocket and may send the
// user's cookies: without this, any site could read the account's messages from a browser
// that reaches the gateway.
func (s *streamer) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range s.g.cfg.AllowedOrigins {
		p = strings.ToLower(strings.TrimSpace(p))
		target := strings.ToLower(u.Host)
		if strings.Contains(p, "://") {
			target = strings.ToLower(u.Scheme + "://" + u.Host)
		}
		if ok, _ := path.Match(p, target); ok {
			return true
		}
	}
	return false
}

// errClientGone ends the stream of a WebSocket client that closed or went away.
var errClientGone = errors.New("client gone")

// wsSink writes WebSocket messages.
type wsSink struct {
	c       *websocket.Conn
	ctx     context.Context
	timeout time.Duration
	buf     []byte
}

func (o *wsSink) send(it item) error {
	o.buf = appendWSMessage(o.buf[:0], it)
	ctx, cancel := context.WithTimeout(o.ctx, o.timeout)
	defer cancel()
	err := o.c.Write(ctx, websocket.MessageText, o.buf)
	if errors.Is(err, context.DeadlineExceeded) { // o.ctx has no deadline: the write timed out
		return errors.Join(errStalled, err)
	}
	return err
}

// keepalive pings, and waits for the pong.
func (o *wsSink) keepalive() error {
	ctx, cancel := context.WithTimeout(o.ctx, o.timeout)
	defer cancel()
	return o.c.Ping(ctx)
}

func (o *wsSink) drop(reason string) {
	o.close(websocket.StatusPolicyViolation, reason+"; reconnect with since=<last id> to resume")
}

// close closes the connection with a status and a reason, waiting a moment at most for the
// client's answer.
func (o *wsSink) close(code websocket.StatusCode, reason string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = o.c.Close(code, reason)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		_ = o.c.CloseNow()
		<-done
	}
}

// appendWSMessage appends the message of it. Data that is not JSON (nothing openqq stores)
// goes as a JSON string, so that the message stays JSON.
func appendWSMessage(b []byte, it item) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, it.seq, 10)
	b = append(b, `,"event":`...)
	name, _ := json.Marshal(it.name)
	b = append(b, name...)
	b = append(b, `,"data":`...)
	if json.Valid(it.data) {
		b = append(b, it.data...)
	} else {
		s, _ := json.Marshal(string(it.data))
		b = append(b, s...)
	}
	return append(b, '}')
}

// headerHasToken reports whether the comma-separated header name holds token (any case).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
