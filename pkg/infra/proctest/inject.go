package proctest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
)

// InjectSubject is the simulated account's injection endpoint under the default prefix.
var InjectSubject = events.Subjects{Prefix: events.DefaultPrefix}.SimInject()

// GroupMessage is the injection of a group message from sender in group.
func GroupMessage(group, sender int64, content string) events.Injection {
	return events.Injection{Type: events.GroupMessage, GroupID: group, SenderID: sender, Content: content}
}

// Inject asks the simulated account, over nc, to receive what injection describes (an
// events.Injection, or its JSON as []byte: a test may send what the type cannot express) and
// returns the reply. A refusal is a reply with a non-zero Code, not an error; an error is the
// request's.
func Inject(nc *nats.Conn, injection any, timeout time.Duration) (events.InjectReply, error) {
	return InjectTo(nc, InjectSubject, injection, timeout)
}

// InjectTo is Inject to subject: the injection endpoint of any account
// (events.Subjects.SimInject of its client).
func InjectTo(nc *nats.Conn, subject string, injection any, timeout time.Duration) (events.InjectReply, error) {
	body, ok := injection.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(injection); err != nil {
			return events.InjectReply{}, err
		}
	}
	m, err := nc.Request(subject, body, timeout)
	if err != nil {
		return events.InjectReply{}, err
	}
	var r events.InjectReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return events.InjectReply{}, fmt.Errorf("inject reply %q: %w", m.Data, err)
	}
	return r, nil
}
