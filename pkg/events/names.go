package events

// The names other than subjects that the services agree on: JetStream consumers and buckets,
// the headers of the NATS messages, and the HTTP headers openqq adds to what it sends out.

// ReporterConsumerPrefix starts the name of every reporter's durable consumer on the stream, so
// that the console can tell them from other consumers.
const ReporterConsumerPrefix = "reporter_"

// ReporterConsumer names the durable consumer of one post_api target (or "stdout").
func ReporterConsumer(target string) string { return ReporterConsumerPrefix + target }

// AnswersBucketName is the key-value bucket that remembers the post_api answers already
// applied (for the default prefix; see Subjects.AnswersBucket).
const AnswersBucketName = "QQ_ANSWERS"

// AnswersBucket is the answers bucket of this prefix: QQ_ANSWERS for "qq", QQ_ANSWERS_<PREFIX>
// otherwise.
func (s Subjects) AnswersBucket() string { return streamName(AnswersBucketName, s.prefix()) }

// ReportersBucketName is the key-value bucket where the live reporter replicas announce
// themselves, so that they share a target's partitions (for the default prefix; see
// Subjects.ReportersBucket).
const ReportersBucketName = "QQ_REPORTERS"

// ReportersBucket is the reporters bucket of this prefix: QQ_REPORTERS for "qq",
// QQ_REPORTERS_<PREFIX> otherwise.
func (s Subjects) ReportersBucket() string { return streamName(ReportersBucketName, s.prefix()) }

// A reply that does not go out as HTTP 200 comes as a NATS micro error: HeaderServiceErrorCode
// carries the HTTP status, HeaderServiceError the API code, and the body is the JSON reply
// (*Status or *SendReply). These are the micro package's header names.
const (
	HeaderServiceError     = "Nats-Service-Error"
	HeaderServiceErrorCode = "Nats-Service-Error-Code"
)

// Headers of a dead letter: where the item came from and why it was parked.
const (
	HeaderDeadStream     = "Openqq-Stream"
	HeaderDeadSeq        = "Openqq-Stream-Seq"
	HeaderDeadSubject    = "Openqq-Subject"
	HeaderDeadConsumer   = "Openqq-Consumer"
	HeaderDeadTarget     = "Openqq-Target"
	HeaderDeadError      = "Openqq-Error"
	HeaderDeadDeliveries = "Openqq-Deliveries"
	// HeaderDeadStale is "1" on an item parked unposted because it was older than POST_MAX_LAG.
	HeaderDeadStale = "Openqq-Stale"
)

// HTTP headers of the POSTs to post_api and poll_api.
const (
	// HTTPHeaderDelivery is the stream sequence of the item POSTed: the same on a retry, so a
	// receiver can tell a redelivery.
	HTTPHeaderDelivery = "X-Openqq-Delivery"
	// HTTPHeaderAttempt counts the POSTs of one item, from 1.
	HTTPHeaderAttempt = "X-Openqq-Attempt"
	// HTTPHeaderReporter names the reporter replica that POSTed (REPORTER_NAME, or host-pid).
	HTTPHeaderReporter = "X-Openqq-Reporter"
	// HTTPHeaderSignature is sha1=<hex HMAC-SHA1 of the body> with POST_SECRET, as OneBot signs.
	HTTPHeaderSignature = "X-Signature"
	// HTTPHeaderRoute names the route whose reply a poll report carries (POLL_REPORT).
	HTTPHeaderRoute = "X-Openqq-Route"
)

// EventNames are the names of every event, each a subject qq.events.<name> of its own.
var EventNames = []string{
	EventLogin, EventStop, EventStateChange, EventInputQRCode,
	EventNewFriend, EventLoseFriend, EventNewGroup, EventLoseGroup,
	EventNewGroupMember, EventLoseGroupMember, EventNewDiscuss, EventLoseDiscuss,
	EventNewDiscussMember, EventLoseDiscussMember,
	EventFriendPropertyChange, EventGroupPropertyChange, EventGroupMemberPropertyChange,
	EventUserPropertyChange, EventFriendRequest, EventGroupRequest,
}

// ItemNames are the names an item of the event stream can have: the message types, then the
// event names.
var ItemNames = append(append([]string(nil), MessageTypes...), EventNames...)

var itemNameSet = func() map[string]bool {
	m := make(map[string]bool, len(ItemNames))
	for _, n := range ItemNames {
		m[n] = true
	}
	return m
}()

// IsItemName reports whether name is a message type or an event name.
func IsItemName(name string) bool { return itemNameSet[name] }

// A route that answers with bytes rather than JSON (Openwx's get_avatar) replies with the bytes
// as the body and these headers on the NATS reply; the gateway copies them to the HTTP answer
// as Content-Type and Cache-Control. A refusal with HeaderContentType (a micro error, e.g. 503
// with an empty body: Mojo's "avatar not ready in 3 s") goes out as it is, status and body,
// with that type; a refusal without it is JSON as for any route.
const (
	HeaderContentType  = "Openqq-Content-Type"
	HeaderCacheControl = "Openqq-Cache-Control"
)
