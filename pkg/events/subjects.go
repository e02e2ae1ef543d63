package events

import "strings"

// DefaultPrefix is the first token of every subject. Several accounts can share one NATS
// cluster by giving each its own prefix.
const DefaultPrefix = "qq"

// StreamName is the JetStream stream that stores every message report and event (for the
// default prefix; see Subjects.Stream).
const StreamName = "QQ_EVENTS"

// DeadLetterStreamName keeps the items post_api kept refusing (for the default prefix).
const DeadLetterStreamName = "QQ_DEADLETTER"

// ServiceName is the NATS micro service that answers the API: `nats micro info openqq`.
const ServiceName = "openqq"

// HeaderMsgID is the header carrying an item's id, so that JetStream stores a retried publish once.
const HeaderMsgID = "Nats-Msg-Id"

// HeaderFrom on an API request says who asks for a send; its value "reply" marks a post_api
// answer, whose own send_message report is then not answered again.
const HeaderFrom = "Openqq-From"

// FromReply is HeaderFrom's value (and a Message's From) for a post_api answer.
const FromReply = "reply"

// Subjects builds the subject names for one prefix. The zero value uses DefaultPrefix.
type Subjects struct {
	Prefix string
	// Client names the account whose API and items these are (accounts.go): "" or
	// DefaultClient for the default account, whose subjects carry no client token.
	Client string
}

func (s Subjects) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Event is the subject an item named name is published on: qq.events.<name> for the default
// account, qq.events.<client>.<name> for another.
func (s Subjects) Event(name string) string {
	return s.prefix() + ".events" + s.clientToken() + "." + name
}

// Events matches every item of every account: qq.events.> (ClientEvents: one account's).
func (s Subjects) Events() string { return s.prefix() + ".events.>" }

// APIGroup is the subject prefix the micro service's endpoints live under: qq.api for the
// default account, qq.api.<client> for another.
func (s Subjects) APIGroup() string { return s.prefix() + ".api" + s.clientToken() }

// API is the request-reply subject of one route: qq.api.<route> (qq.api.<client>.<route>).
func (s Subjects) API(route string) string { return s.APIGroup() + "." + route }

// CheckEventRelease is where the gateway releases a check_event ticket.
func (s Subjects) CheckEventRelease() string { return s.API(CheckEventReleaseSubject) }

// Stream is the JetStream stream of this prefix: QQ_EVENTS for "qq", WX_EVENTS for the WeChat
// platform's "wx", QQ_EVENTS_<PREFIX> otherwise, so that several accounts share one server.
func (s Subjects) Stream() string { return streamName(StreamName, s.prefix()) }

// DeadLetterStream is the dead-letter stream of this prefix.
func (s Subjects) DeadLetterStream() string { return streamName(DeadLetterStreamName, s.prefix()) }

// DeadLetter is where the reporter parks an item that one target kept refusing:
// qq.deadletter.<consumer>.
func (s Subjects) DeadLetter(consumer string) string { return s.prefix() + ".deadletter." + consumer }

// DeadLetters matches every parked item.
func (s Subjects) DeadLetters() string { return s.prefix() + ".deadletter.>" }

// platformNames name the streams and buckets of a platform's own prefix after the platform:
// WX_EVENTS, WX_ANSWERS, as QQ_EVENTS is QQ's (the WeChat platform's prefix is pkg/events/wx's
// Prefix, which this package cannot import).
var platformNames = map[string]string{"wx": "WX"}

func streamName(base, prefix string) string {
	if prefix == DefaultPrefix {
		return base
	}
	if p, ok := platformNames[prefix]; ok {
		return p + strings.TrimPrefix(base, "QQ")
	}
	r := strings.NewReplacer(".", "_", "-", "_")
	return base + "_" + strings.ToUpper(r.Replace(prefix))
}

// MediaBucket is the JetStream object store holding this prefix's media bytes: WX_MEDIA for
// "wx", QQ_MEDIA for "qq", QQ_ACCT_1_MEDIA for "qq.acct-1". Bytes stay out of the event
// stream: a report carries the media's id, and whoever needs the bytes reads them here.
func (s Subjects) MediaBucket() string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return strings.ToUpper(r.Replace(s.prefix())) + "_MEDIA"
}

// SimInject is where the simulated account takes messages and roster changes to "receive":
// qq.sim.inject for the default account, qq.sim.<client>.inject for another.
func (s Subjects) SimInject() string { return s.prefix() + ".sim" + s.clientToken() + ".inject" }

// EventName is the last token of an item's subject: the name of an event, or the type of a
// message.
func EventName(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}

// ValidPrefix reports whether p can prefix subjects: one or more tokens of letters, digits,
// '-' and '_' separated by dots. Wildcards and spaces would change what a subscription matches.
func ValidPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return false
		}
		for _, r := range tok {
			ok := r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !ok {
				return false
			}
		}
	}
	return true
}
