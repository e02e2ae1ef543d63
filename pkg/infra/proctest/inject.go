package proctest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// The simulated account's injection endpoint and its reply. They are spelled here, once, for
// the harness; their home is the wire contract (pkg/events), which pkg/infra does not import:
// Inject is the one function to re-point when the contract's types are reachable from here.
const InjectSubject = "qq.sim.inject"

// InjectReply is the endpoint's answer: code 0 and the message id, or a refusal.
type InjectReply struct {
	Code   int    `json:"code"`
	ID     int64  `json:"id,omitempty"`
	Status string `json:"status"`
}

// GroupMessage is the injection of a group message from sender in group.
func GroupMessage(group, sender int64, content string) map[string]any {
	return map[string]any{"type": "group_message", "group_id": group, "sender_id": sender, "content": content}
}

// Inject asks the simulated account, over nc, to receive what injection describes (a value
// that marshals to the injection's JSON, or its JSON as []byte) and returns the reply. A
// refusal is a reply with a non-zero Code, not an error; an error is the request's.
func Inject(nc *nats.Conn, injection any, timeout time.Duration) (InjectReply, error) {
	body, ok := injection.([]byte)
	if !ok {
		var err error
		if body, err = json.Marshal(injection); err != nil {
			return InjectReply{}, err
		}
	}
	m, err := nc.Request(InjectSubject, body, timeout)
	if err != nil {
		return InjectReply{}, err
	}
	var r InjectReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return InjectReply{}, fmt.Errorf("inject reply %q: %w", m.Data, err)
	}
	return r, nil
}
