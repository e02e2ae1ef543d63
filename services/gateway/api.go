package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// contentType is the API's reply type, as the seeds show it.
const contentType = "application/json;charset=UTF-8"

// api forwards one call of p to <prefix>.api.<route> (<prefix>.api.<client>.<route> with
// client=, <prefix>.controller.<route> for the Controller's routes: accounts.go) and writes the
// reply.
func (g *Gateway) api(p *platform) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		route := mux.Vars(r)["route"]
		if !p.isRoute(route) || r.Method == http.MethodPost && p.getOnly(route) {
			p.notFound(w)
			return
		}
		g.call(w, r, p, route)
	}
}

// call reads the parameters of one call, asks the session and writes its reply.
func (g *Gateway) call(w http.ResponseWriter, r *http.Request, pf *platform, route string) {
	start := time.Now()
	sctx, stored := withStoredMedia(r.Context())
	r = r.WithContext(sctx)
	p, err := g.readCall(w, r, pf, route)
	if err != nil {
		st := paramsStatus(err)
		g.log.Info("api", "platform", pf.name, "route", route, "status", HTTPStatusOf(st), "err", err)
		writeStatus(w, st)
		return
	}
	jsonp, err := callback(p)
	if err != nil {
		writeStatus(w, events.ErrBadRequest("%v", err))
		return
	}
	delete(p, "access_token") // a secret: never forwarded, never logged
	acct, st := clientParam(p)
	if st != nil {
		g.log.Info("api", "platform", pf.name, "route", route, "status", HTTPStatusOf(st), "err", "bad client name")
		status, body := statusBody(st)
		stored.discardIfRefused(r.Context(), g.log, status, body) // an upload it carried
		write(w, status, body, true)
		return
	}
	if p[events.ParamClient] == "" {
		delete(p, events.ParamClient) // an empty client= is no client=: the default account's
	}
	if toController(route, acct) {
		if r.Method == http.MethodPost {
			pf.notFound(w) // GET only, as Mojo's Controller (api let the other routes' POSTs through)
			return
		}
		g.controllerCall(w, r, pf, route, acct, p, jsonp, start)
		return
	}
	cl := pf.client.ForClient(acct)

	var opts []client.CallOption
	var ticket string
	timeout := g.cfg.APITimeout
	if route == events.RouteCheckEvent {
		// The long poll: the session holds the call, and hands out items under a ticket that
		// stays open until they reached the caller.
		ticket = nuid.Next()
		opts = append(opts, client.Ticket(ticket, g.cfg.CheckEventHold))
		timeout += g.cfg.CheckEventHold
	}
	if pf.holds != nil {
		if hold := pf.holds(route, p); hold > 0 {
			opts = append(opts, client.Hold(hold))
			timeout += hold
		}
	}
	// The body is read: the read deadline would now only cut a long poll short (the server's
	// background read fails, which cancels the request). The reply may wait for the session
	// as long as timeout, then has the write timeout to go out.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(timeout + g.cfg.WriteTimeout))
	ctx := r.Context()
	if ticket != "" {
		// A shutdown does not wait out a long poll: the caller gets [] and polls again.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-g.stopping:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	lctx, lookup := withClientLookup(ctx)
	status, body, hdr := g.request(lctx, pf, cl, route, p, opts...)
	stored.discardIfRefused(ctx, g.log, status, body)
	if ticket != "" && r.Context().Err() == nil && ctx.Err() != nil {
		status, body, hdr = http.StatusOK, []byte("[]"), nil
	}
	pf.clientRequests.WithLabelValues(clientLabel(acct, status, body, lookup), strconv.Itoa(status)).Inc()
	gone := g.reply(w, r, status, body, hdr, jsonp)
	if ticket != "" {
		pf.release(g.log, cl, ticket, !gone && status == http.StatusOK)
	}
	g.log.Info("api", "platform", pf.name, "route", route, "client", clientName(acct), "status", status, "took", time.Since(start).Round(time.Microsecond), "caller_gone", gone)
}

// reply writes an answer: bytes as the reply's Content-Type says, else JSON (in the JSONP
// callback, if any). It reports whether the caller was gone, and nothing written.
func (g *Gateway) reply(w http.ResponseWriter, r *http.Request, status int, body []byte, hdr nats.Header, jsonp string) bool {
	ctype := hdr.Get(events.HeaderContentType)
	if jsonp != "" && ctype == "" {
		body = append(append([]byte(jsonp+"("), body...), ')')
	}
	gone := r.Context().Err() != nil
	switch {
	case gone:
	case ctype != "":
		writeBytes(w, status, body, ctype, hdr.Get(events.HeaderCacheControl))
	default:
		write(w, status, body, jsonp == "")
	}
	return gone
}

// controllerCall sends a call of a Controller route to the Controller and writes its reply:
// JSON, or get_qrcode's image bytes (404 and empty when there is none). Its parameters, the
// settings of start_client among them, go as every route's do; like every call's, they are
// never logged (a setting may be a token).
func (g *Gateway) controllerCall(w http.ResponseWriter, r *http.Request, pf *platform, route, acct string, p events.Params, jsonp string, start time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(g.cfg.APITimeout + g.cfg.WriteTimeout))
	var status int
	var body []byte
	var hdr nats.Header
	data, err := events.Marshal(p)
	if err != nil {
		status, body = statusBody(events.ErrInternal)
	} else {
		status, body, hdr = g.exchange(r.Context(), pf, route, "", func(ctx context.Context, opts ...client.CallOption) (*client.Reply, error) {
			return pf.client.ControllerRequest(ctx, route, data, opts...)
		})
	}
	gone := g.reply(w, r, status, body, hdr, jsonp)
	g.log.Info("api", "platform", pf.name, "route", route, "controller", true, "client", acct, "status", status,
		"took", time.Since(start).Round(time.Microsecond), "caller_gone", gone)
}

// clientName is the account of a call, for its log line.
func clientName(acct string) string {
	if acct == "" {
		return events.DefaultClient
	}
	return acct
}

// readCall reads the parameters of a call of route: an upload streams into the media store
// (mediaupload.go), any other body is read as readParams does; a media route's media_data is
// stored either way.
func (g *Gateway) readCall(w http.ResponseWriter, r *http.Request, pf *platform, route string) (events.Params, error) {
	if g.streamsUpload(pf, route, r) {
		return g.readUpload(w, r, pf)
	}
	p, err := g.readParams(w, r)
	if err != nil {
		return nil, err
	}
	if pf.media[route] {
		return g.storeMediaData(r.Context(), pf, p)
	}
	return p, nil
}

// release tells the session of the account cl is for whether the items of a check_event
// ticket reached the caller; those that did not go back to its buffer.
func (p *platform) release(log *slog.Logger, cl *client.Client, ticket string, delivered bool) {
	if err := cl.Release(ticket, delivered); err != nil {
		log.Warn("check_event release", "platform", p.name, "ticket", ticket, "err", err)
	}
}

// request asks the session and returns the HTTP status and body to answer with, and the
// reply's headers when it answered with bytes (events.HeaderContentType).
// cl is the client of the call's account.
func (g *Gateway) request(ctx context.Context, pf *platform, cl *client.Client, route string, p events.Params, opts ...client.CallOption) (int, []byte, nats.Header) {
	data, err := events.Marshal(p)
	if err != nil {
		return withoutHeader(statusBody(events.ErrInternal))
	}
	acct := cl.Subjects().Client
	send := func(ctx context.Context, more ...client.CallOption) (*client.Reply, error) {
		return cl.Request(ctx, route, data, append(opts[:len(opts):len(opts)], more...)...)
	}
	if !pf.cacheable(route) {
		return g.exchange(ctx, pf, route, acct, send)
	}
	// The exchange runs on a context of the cache's own: the call's clientLookup goes along (the
	// calls that share it learn nothing of their account from it: "unknown" on a 503).
	lookup := ctx.Value(clientLookupKey{})
	status, body := pf.replies.get(ctx, clientName(acct), route, data, func(ctx context.Context, etag string) (int, []byte, nats.Header) {
		return g.exchange(context.WithValue(ctx, clientLookupKey{}, lookup), pf, route, acct, send, client.IfNoneMatch(etag))
	})
	return status, body, nil
}

// sendFunc sends one call, with more options than the call's own.
type sendFunc func(ctx context.Context, more ...client.CallOption) (*client.Reply, error)

// exchange sends one request with send, to the session of the account acct ("" for the
// default one, or for the Controller); it returns the HTTP status and body to answer with and
// the reply's headers. The session's reply goes out as it came, refusals included: only a call
// that got no reply is answered here. A refusal keeps its headers only when it answers with
// bytes (an Openwx avatar not ready: 503, empty).
func (g *Gateway) exchange(ctx context.Context, pf *platform, route, acct string, send sendFunc, more ...client.CallOption) (int, []byte, nats.Header) {
	rep, err := send(ctx, more...)
	if err == nil {
		if rep.HTTPStatus != http.StatusOK && rep.Header.Get(events.HeaderContentType) == "" {
			return rep.HTTPStatus, rep.Data, nil
		}
		return rep.HTTPStatus, rep.Data, rep.Header
	}
	var e *client.Error
	if !errors.As(err, &e) {
		return withoutHeader(statusBody(events.ErrInternal))
	}
	switch {
	case errors.Is(err, client.ErrNotConnected):
		// A request now would sit in the reconnect buffer until the time-out: said at once.
		g.log.Warn("session unavailable: NATS not connected", "platform", pf.name, "route", route, "nats", g.nc.Status().String())
	case errors.Is(err, context.Canceled):
		// The caller hung up; nobody reads this answer.
	case e.Status.Code == events.CodeTimeout:
		g.log.Warn("session timeout", "platform", pf.name, "route", route, "err", e.Err)
	case isNoResponders(err) && acct != "" && !events.IsDefaultClient(acct) && g.noSuchClient(ctx, pf, acct):
		// A name nobody started: Mojo's Controller answer, not an outage.
		return withoutHeader(statusBody(events.ErrClientNotExists))
	default: // no responders, or NATS itself is away
		g.log.Warn("session unavailable", "platform", pf.name, "route", route, "client", clientName(acct), "err", e.Err)
	}
	return withoutHeader(statusBody(e.Status))
}

func withoutHeader(status int, body []byte) (int, []byte, nats.Header) { return status, body, nil }

// jsIdentifier is what a JSONP callback may be: a dotted JavaScript name, nothing that could
// run script of the caller's choosing.
var jsIdentifier = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

// callback returns the JSONP function to wrap the reply in, or "" when datatype is not jsonp.
func callback(p events.Params) (string, error) {
	if p["datatype"] != "jsonp" {
		return "", nil
	}
	cb, ok := p["callback"]
	if !ok || cb == "" {
		return "jsoncallback" + strconv.FormatInt(time.Now().Unix(), 10), nil
	}
	if len(cb) > 128 || !jsIdentifier.MatchString(cb) {
		return "", errors.New("callback must be a JavaScript identifier")
	}
	return cb, nil
}

// paramsStatus is the reply to parameters readParams (or readUpload) could not read.
func paramsStatus(err error) *events.Status {
	if errors.Is(err, errTooLarge) {
		return events.ErrTooLarge
	}
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.st
	}
	return events.ErrBadRequest("%v", err)
}

// HTTPStatusOf is the HTTP status a Status reply goes out with.
func HTTPStatusOf(st *events.Status) int { return events.HTTPStatus(st.Code) }

func statusBody(st *events.Status) (int, []byte) {
	return HTTPStatusOf(st), events.MustMarshal(st)
}

func writeStatus(w http.ResponseWriter, st *events.Status) {
	status, body := statusBody(st)
	write(w, status, body, true)
}

// write sends a reply. nosniff keeps a browser from running JSON as script, which is exactly
// what a JSONP reply is for, so JSONP goes without it (and with Mojo's JSON content type).
func write(w http.ResponseWriter, status int, body []byte, nosniff bool) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if nosniff {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeBytes sends a reply that is not JSON (Openwx's get_avatar: the image) as the session
// gave it: its type, and its Cache-Control when it set one (Mojo: max-age=3600).
func writeBytes(w http.ResponseWriter, status int, body []byte, ctype, cacheControl string) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	if cacheControl != "" {
		h.Set("Cache-Control", cacheControl)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
