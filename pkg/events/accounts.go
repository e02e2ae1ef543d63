package events

import (
	"net/url"
	"slices"
	"strings"
)

// Many accounts (Mojo's Controller API, MOJO-OPENWX.md §1). An account is named by its client
// name, a token of its subjects: the default account keeps the subjects of a single-account
// deployment (qq.events.<name>, qq.api.<route>), any other is one token further in
// (qq.events.<client>.<name>, qq.api.<client>.<route>), so that qq.events.* is the default
// account's items, qq.events.<client>.* one account's and qq.events.> every account's.

// DefaultClient names the default account: the one a route without client= is for, and the
// one whose subjects carry no client token.
const DefaultClient = "default"

// ClientMaxLen bounds a client name: it is a subject token, a KV key and part of URLs.
const ClientMaxLen = 64

// ValidClient reports whether name can name an account: 1 to ClientMaxLen letters, digits,
// '-' and '_' (a safe subject token and KV key; no dot, no wildcard, no space).
func ValidClient(name string) bool {
	if name == "" || len(name) > ClientMaxLen {
		return false
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

// IsDefaultClient reports whether client names the default account ("" or DefaultClient).
func IsDefaultClient(client string) bool { return client == "" || client == DefaultClient }

// ForClient is s for one account: the same prefix, and client's subjects.
func (s Subjects) ForClient(client string) Subjects {
	s.Client = client
	return s
}

// ClientName is the account s is for: DefaultClient when none is named.
func (s Subjects) ClientName() string {
	if IsDefaultClient(s.Client) {
		return DefaultClient
	}
	return s.Client
}

// clientToken is ".<client>" for an account other than the default, "" for the default.
func (s Subjects) clientToken() string {
	if IsDefaultClient(s.Client) {
		return ""
	}
	return "." + s.Client
}

// ClientEvents matches this account's items only: qq.events.* for the default account,
// qq.events.<client>.* for another.
func (s Subjects) ClientEvents() string {
	return s.prefix() + ".events" + s.clientToken() + ".*"
}

// ClientOf names the account an item's subject (this prefix's, any account's) belongs to, and
// whether subject is an item subject of this prefix at all: qq.events.<name> is the default
// account's, qq.events.<client>.<name> client's.
func (s Subjects) ClientOf(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, s.prefix()+".events.")
	if !ok || rest == "" {
		return "", false
	}
	client, name, two := strings.Cut(rest, ".")
	switch {
	case !two:
		return DefaultClient, true
	case name == "" || strings.Contains(name, ".") || !ValidClient(client):
		return "", false
	}
	return client, true
}

// EventFilters are the subjects that match the items named names (message types, event names)
// of every account: qq.events.<name> and qq.events.*.<name> for each; nil names match every
// item (Events).
func (s Subjects) EventFilters(names []string) []string {
	if names == nil {
		return []string{s.Events()}
	}
	out := make([]string, 0, 2*len(names))
	for _, n := range names {
		out = append(out, s.prefix()+".events."+n, s.prefix()+".events.*."+n)
	}
	return out
}

// Controller is the subject of one Controller route (start_client, stop_client, check_client,
// get_qrcode) of this prefix: qq.controller.<route>. Every session host serves them in one
// queue group; they act on the clients bucket, not on one account.
func (s Subjects) Controller(route string) string { return s.ControllerGroup() + "." + route }

// ControllerGroup is the subject prefix of the Controller routes: qq.controller.
func (s Subjects) ControllerGroup() string { return s.prefix() + ".controller" }

// ClientsBucketName is the key-value bucket of the accounts' desired state, one key per client
// name holding its ClientSpec (Mojo's backend.dat), for the default prefix; see
// Subjects.ClientsBucket.
const ClientsBucketName = "QQ_CLIENTS"

// ClientsBucket is the clients bucket of this prefix: QQ_CLIENTS, WX_CLIENTS, ...
func (s Subjects) ClientsBucket() string { return streamName(ClientsBucketName, s.prefix()) }

// LeasesBucketName is the key-value bucket of the accounts' leases: one key per running client
// name, holding its ClientLease, kept alive by the session host that runs it and gone (by the
// bucket's TTL) when that host is, for the default prefix; see Subjects.LeasesBucket.
const LeasesBucketName = "QQ_LEASES"

// LeasesBucket is the leases bucket of this prefix: QQ_LEASES, WX_LEASES, ...
func (s Subjects) LeasesBucket() string { return streamName(LeasesBucketName, s.prefix()) }

// HostsBucket is the key-value bucket where the live session hosts announce themselves (one
// key per host id, with a TTL), whatever their prefixes: accounts are spread over them.
const HostsBucket = "OPENQQ_HOSTS"

// The Controller routes (MOJO-OPENWX.md §1.2). stop_client is also an account's own route
// (RouteStopClient): with client= the gateway sends it to the Controller.
const (
	RouteStartClient = "start_client"
	RouteCheckClient = "check_client"
	RouteGetQRCode   = "get_qrcode"
)

// ControllerRoutes are the routes of the Controller, all GET only in Mojo.
var ControllerRoutes = []string{RouteStartClient, RouteStopClient, RouteCheckClient, RouteGetQRCode}

// IsControllerRoute reports whether route is one of ControllerRoutes.
func IsControllerRoute(route string) bool { return slices.Contains(ControllerRoutes, route) }

// ParamClient is the query parameter that names the account a call is for.
const ParamClient = "client"

// HTTPHeaderClient names the account on every POST to post_api and poll_api, besides the
// client=NAME Mojo's Controller merged into their URL's query.
const HTTPHeaderClient = "X-Openqq-Client"

// ClientSpec is one account's desired state: the value of its key in the clients bucket, what
// start_client was given (Mojo's backend.dat entry).
type ClientSpec struct {
	// Client is the account's name (the key).
	Client string `json:"client"`
	// Settings are the account's variables, named as the environment names them (DRIVER,
	// SIM_ROSTER, ONEBOT_URL, POST_API, POLL_API, POST_EVENT_LIST, ...): start_client's
	// parameters upper-cased. They may hold secrets (ONEBOT_ACCESS_TOKEN): the bucket is as
	// private as the NATS permissions on it make it, and nothing shows them unmasked
	// (config.Mask).
	Settings map[string]string `json:"settings"`
	// StartTime is when start_client stored it (Unix seconds), Mojo's start_time.
	StartTime int64 `json:"start_time"`
	// Source says who declared the account: SourceController (start_client) or SourceEnv (a
	// session host's own environment, for the default account).
	Source string `json:"source,omitempty"`
}

// The sources of a ClientSpec.
const (
	SourceController = "controller"
	SourceEnv        = "env"
)

// Setting is the value of one of the account's variables ("" when unset).
func (c ClientSpec) Setting(key string) string { return c.Settings[key] }

// ClientLease is the value of a running account's key in the leases bucket: who runs it and
// how it is doing. The host that holds it renews it while it lives and updates it on every
// state change, so check_client and the console read an account's state from any host.
type ClientLease struct {
	Client string `json:"client"`
	// Host is the id of the session host running the account; PID its process.
	Host string `json:"host"`
	PID  int    `json:"pid"`
	// State and PreviousState are the account's client state (init … running, stop).
	State         State `json:"state"`
	PreviousState State `json:"previous_state,omitempty"`
	// Since is when the host took the account (Unix seconds).
	Since int64 `json:"since"`
	// QRCode is true while the account waits for a scan of a QR code that get_qrcode serves.
	QRCode bool `json:"qrcode,omitempty"`
}

// The Controller's codes (Controller.pm): 1 for a client missing or unknown, 5 for too many.
// Mojo answers an existing client with code 0 and StatusClientExists, its entry beside.
const (
	CodeClient     = 1
	CodeMaxClients = 5
)

// The Controller's answers.
var (
	ErrClientNotFound   = &Status{CodeClient, "client not found"}  // client= missing
	ErrClientNotExists  = &Status{CodeClient, "client not exists"} // no such client
	ErrMaxClientsExceed = &Status{CodeMaxClients, "max clients exceed"}
)

// StatusClientExists is start_client's status for a client already started (code 0).
const StatusClientExists = "client already exists"

// ErrBadClient refuses a client name that ValidClient does not accept.
func ErrBadClient(name string) *Status {
	return ErrBadRequest("client %q is not a valid name (1 to %d letters, digits, '-' or '_')", name, ClientMaxLen)
}

// ClientDeliveryKeys are the settings of an account that the reporter and the poller read from
// its ClientSpec rather than from their own environment: where its items go (post_api, as
// Mojo's Controller took it per client, else the reporter's POST_API with client=NAME merged)
// and its heartbeat. A session host ignores them.
var ClientDeliveryKeys = []string{"POST_API", "POST_EVENT", "POST_EVENT_LIST", "POST_MEDIA_DATA", "POLL_API", "POLL_INTERVAL"}

// ClientURL is the URL an account's reports (post_api) and heartbeat (poll_api) go to: raw
// itself for the default account (a single-account bot sees no change), else raw with
// client=NAME merged into its query, as Mojo's Controller did ($url->query->merge): a client
// parameter already there is replaced, every other parameter kept as written.
func ClientURL(raw, client string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if IsDefaultClient(client) {
		return raw, nil
	}
	if !ValidClient(client) {
		return "", ErrBadClient(client)
	}
	var kept []string
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		key, _, _ := strings.Cut(part, "=")
		if k, err := url.QueryUnescape(key); part == "" || err == nil && k == ParamClient {
			continue
		}
		kept = append(kept, part)
	}
	u.RawQuery = strings.Join(append(kept, ParamClient+"="+url.QueryEscape(client)), "&")
	u.ForceQuery = false
	return u.String(), nil
}
