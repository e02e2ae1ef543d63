package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// Many accounts (issue 14, MOJO-OPENWX.md §1.2) on the HTTP side:
//
//   - A call with client=NAME (query or body) is that account's: it goes to
//     <prefix>.api.NAME.<route>. Without client= (or with an empty one) it is the default
//     account's, on <prefix>.api.<route>, exactly as before accounts existed; client=default
//     names the default account too. A name events.ValidClient refuses is answered with
//     events.ErrBadClient (-7, HTTP 400) before anything crosses NATS: it would be a subject
//     token.
//   - The Controller's routes (events.ControllerRoutes) go to <prefix>.controller.<route>,
//     served by every session host; stop_client without client= stays the default account's own
//     route. They are GET only, as in Mojo: a POST gets what a POST of Openwx's GET-only routes
//     gets (the catch-all 403 "api not found"), except that POST stop_client without client= is
//     still the default account's own stop.
//   - A named account nobody answers for is told apart cheaply, on no responders only, by asking
//     the Controller (check_client?client=NAME): if it has no such account, Mojo's
//     {"code":1,"status":"client not exists"}; if it has one (started, not running now: its host
//     is gone, or it is being moved), or no Controller answers, -3 session unavailable as for
//     the default account.

// clientParam reads the account a call names: "" when it names none (no client=, or an empty
// one), else the name, refused with events.ErrBadClient when it cannot name an account.
func clientParam(p events.Params) (string, *events.Status) {
	name := p[events.ParamClient]
	if name == "" {
		return "", nil
	}
	if !events.ValidClient(name) {
		return "", events.ErrBadClient(name)
	}
	return name, nil
}

// toController reports whether a call of route for the account client (as clientParam read it)
// goes to the Controller: its routes do, except stop_client without client=, which is the
// default account's own.
func toController(route, client string) bool {
	if !events.IsControllerRoute(route) {
		return false
	}
	return route != events.RouteStopClient || client != ""
}

// controllerGetOnly are the Controller routes a POST never reaches (Mojo declared them `get`);
// stop_client is also an account's own route, which takes POST: call decides for it.
func controllerGetOnly(route string) bool {
	return route == events.RouteStartClient || route == events.RouteCheckClient || route == events.RouteGetQRCode
}

// clientLabel is the client label of a call's metrics: the account's name ("default" for the
// default account) when it is known to exist (a session answered for it, or the Controller said
// it has it), else "unknown", so that callers cannot grow the label set beyond the accounts
// that exist. A call nobody answered (HTTP 503) names an account only when the Controller
// vouched for it (lookup.exists).
func clientLabel(client string, st int, body []byte, lookup *clientLookup) string {
	switch {
	case events.IsDefaultClient(client):
		return events.DefaultClient
	case st == http.StatusOK && string(body) == string(clientNotExists):
		return routeUnknown
	case st == http.StatusServiceUnavailable && !lookup.exists.Load():
		return routeUnknown
	}
	return client
}

// clientLookup is what the Controller said of a call's account when no session answered it.
type clientLookup struct{ exists atomic.Bool }

type clientLookupKey struct{}

// withClientLookup is ctx carrying a call's clientLookup, which exchange fills.
func withClientLookup(ctx context.Context) (context.Context, *clientLookup) {
	l := &clientLookup{}
	return context.WithValue(ctx, clientLookupKey{}, l), l
}

// clientNotExists is the answer to a call for an account that does not exist.
var clientNotExists = events.MustMarshal(events.ErrClientNotExists)

// clientLookupTimeout bounds the question to the Controller of a call that found no responder.
const clientLookupTimeout = 2 * time.Second

// noSuchClient reports whether the Controller of pf's prefix says that no account is named acct
// (check_client?client=acct: Mojo's "client not exists"): asked only when a call for it found no
// responder. The Controller reads the clients bucket, which the gateway keeps off (it holds the
// accounts' tokens). No answer says nothing (false): the caller then gets today's -3.
func (g *Gateway) noSuchClient(ctx context.Context, pf *platform, acct string) bool {
	lookup, _ := ctx.Value(clientLookupKey{}).(*clientLookup)
	ctx, cancel := context.WithTimeout(ctx, clientLookupTimeout)
	defer cancel()
	data := events.MustMarshal(events.Params{events.ParamClient: acct})
	rep, err := pf.client.ControllerRequest(ctx, events.RouteCheckClient, data, client.Timeout(clientLookupTimeout))
	if err != nil {
		return false
	}
	var st *events.Status
	if errors.As(rep.Err(), &st) {
		return st.Code == events.ErrClientNotExists.Code && st.Status == events.ErrClientNotExists.Status
	}
	if lookup != nil && rep.Err() == nil {
		lookup.exists.Store(true)
	}
	return false
}

// isNoResponders reports whether a call failed because nothing serves its subject.
func isNoResponders(err error) bool { return errors.Is(err, nats.ErrNoResponders) }
