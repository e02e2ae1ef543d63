package gateway

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/metrics"
)

// platform is one API the gateway serves: Openqq on /openqq/ or Openwx on /openwx/. Both go
// through the same request path (auth, params, JSONP, CORS, check_event, reply cache,
// metrics, logs); what differs is here.
type platform struct {
	name   string // "qq", "wx": in logs
	path   string // "/openqq/", "/openwx/"
	subj   events.Subjects
	client *client.Client
	// replies keeps the large get_*_info replies of this platform (route names repeat across
	// platforms, so each has its own).
	replies *replyCache
	streams *streamer // its live events: <path>events, <path>ws

	isRoute   func(string) bool
	cacheable func(string) bool
	// getOnly: the routes a POST does not reach (Openwx's get_*_info, the Controller's): it
	// answers as an unknown route.
	getOnly func(string) bool
	// media: the routes whose uploads go to the media store (mediaupload.go).
	media map[string]bool
	// isItemName checks the names of a stream's filter; nil: any subject token (the Openwx
	// item names are the session's).
	isItemName func(string) bool
	// textNotFound: Openwx's catch-all answers the text "api not found", Openqq's JSON.
	textNotFound bool
	// authStatus is the HTTP status of an auth failure: Openqq 403, Openwx 200.
	authStatus int
	// holds, if set, is how much longer than API_TIMEOUT the session may hold a call of
	// route with params p (Openwx's consult waits for the friend's answer).
	holds func(route string, p events.Params) time.Duration

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// clientRequests counts the calls of the accounts' routes by account (clientLabel).
	clientRequests *prometheus.CounterVec
}

// The metrics of /openqq keep their names; Openwx has its own family, so that the route label
// of each names only routes of its platform.
var (
	wxAPIRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "wx_api_requests_total",
		Help: `Openwx HTTP API calls (/openwx/), by route ("unknown" for paths that are no route) and HTTP status.`,
	}, []string{"route", "code"})
	wxAPIDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Name: "wx_api_request_duration_seconds",
		Help:    "Time to answer an Openwx HTTP API call, by route (check_event holds up to CHECK_EVENT_HOLD).",
		Buckets: metrics.DurationBuckets,
	}, []string{"route"})
	// The calls by account: a family of its own, so that api_requests_total keeps its labels
	// and the duration histograms do not grow with the accounts (buckets × routes × accounts).
	apiClientRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "api_client_requests_total",
		Help: `Openqq HTTP API calls of an account's routes (not the Controller's), by account (client=; "default" without it, "unknown" for a client that does not exist) and HTTP status.`,
	}, []string{"client", "code"})
	wxAPIClientRequests = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Name: "wx_api_client_requests_total",
		Help: `Openwx HTTP API calls of an account's routes (not the Controller's), by account (client=; "default" without it, "unknown" for a client that does not exist) and HTTP status.`,
	}, []string{"client", "code"})
)

// withController adds the Controller's routes (events.ControllerRoutes) to a platform's routes.
func withController(isRoute func(string) bool) func(string) bool {
	return func(route string) bool { return isRoute(route) || events.IsControllerRoute(route) }
}

func newQQ(nc *nats.Conn, cfg Config) *platform {
	return &platform{
		name: "qq", path: events.APIPathPrefix, subj: events.Subjects{Prefix: cfg.SubjectPrefix},
		client:  client.New(nc, client.WithPrefix(cfg.SubjectPrefix), client.WithTimeout(cfg.APITimeout)),
		replies: newReplyCache(cfg.APITimeout),
		isRoute: withController(events.IsRoute), cacheable: events.Cacheable, isItemName: events.IsItemName, getOnly: controllerGetOnly,
		media:      qqMediaRoutes,
		authStatus: http.StatusForbidden,
		requests:   apiRequests, duration: apiDuration, clientRequests: apiClientRequests,
	}
}

// qqMediaRoutes take a picture in their request (issue 15: Openwx's media parameters on
// Openqq's send routes); their uploads go to the QQ platform's bucket (QQ_MEDIA).
var qqMediaRoutes = map[string]bool{
	events.RouteSendFriendMessage: true, events.RouteSendGroupMessage: true,
	events.RouteSendDiscussMessage: true, events.RouteSendSessMessage: true,
}

// wxMediaRoutes take a media in their request (MOJO-OPENWX.md §2.2).
var wxMediaRoutes = map[string]bool{
	wx.RouteSendFriendMessage: true, wx.RouteSendGroupMessage: true,
	wx.RouteConsult: true, wx.RouteUploadMedia: true,
}

func newWx(nc *nats.Conn, cfg Config) *platform {
	return &platform{
		name: "wx", path: wx.APIPathPrefix, subj: events.Subjects{Prefix: cfg.WxSubjectPrefix},
		client:  client.New(nc, client.WithPrefix(cfg.WxSubjectPrefix), client.WithTimeout(cfg.APITimeout)),
		replies: newReplyCache(cfg.APITimeout),
		// The get_*_info replies are the roster, as for Openqq.
		isRoute: withController(wx.IsRoute), cacheable: wx.GetOnly,
		getOnly:      func(route string) bool { return wx.GetOnly(route) || controllerGetOnly(route) },
		media:        wxMediaRoutes,
		textNotFound: true, authStatus: http.StatusOK,
		holds:    consultHold,
		requests: wxAPIRequests, duration: wxAPIDuration, clientRequests: wxAPIClientRequests,
	}
}

// consultHold is how long a consult may wait for its answer, read from its params as the
// session reads them; a timeout the session will refuse holds nothing.
func consultHold(route string, p events.Params) time.Duration {
	if route != wx.RouteConsult {
		return 0
	}
	raw, given := p["timeout"]
	d, err := wx.ConsultTimeout(raw, given)
	if err != nil {
		return 0
	}
	return d
}

// platforms are the APIs served.
func (g *Gateway) platforms() []*platform {
	if g.wx == nil {
		return []*platform{g.qq}
	}
	return []*platform{g.qq, g.wx}
}

// platformOf is the platform whose API path starts path; Openqq for any other path, whose
// answers (JSON 403 "api not found", 403 auth failure) were the gateway's before Openwx.
func (g *Gateway) platformOf(path string) *platform {
	if g.wx != nil && strings.HasPrefix(path, g.wx.path) {
		return g.wx
	}
	return g.qq
}

// route is the API route of path on p, and whether it is one.
func (p *platform) route(path string) (string, bool) {
	route, ok := strings.CutPrefix(path, p.path)
	return route, ok && p.isRoute(route)
}

// notFound is the catch-all answer: HTTP 403, Openqq's JSON or Openwx's text (Openwx.pm's
// `any '/*'` renders text => "api not found").
func (p *platform) notFound(w http.ResponseWriter) {
	if !p.textNotFound {
		writeStatus(w, events.ErrAPINotFound)
		return
	}
	const body = "api not found"
	h := w.Header()
	h.Set("Content-Type", "text/plain;charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(body))
}

// authFailure answers a call without the right token: {"code":-6,"status":"auth failure"},
// with HTTP 403 on Openqq and 200 on Openwx (Openwx.pm renders it with the default status).
func (p *platform) authFailure(w http.ResponseWriter) {
	write(w, p.authStatus, events.MustMarshal(events.ErrAuthFailure), true)
}
