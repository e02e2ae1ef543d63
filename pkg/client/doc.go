// Package client is the Go client of openqq's bus: the Openqq API as typed calls over NATS
// request-reply (qq.api.<route>), and the messages and events of qq.events.<name>, live or
// from the JetStream stream, decoded into the types of package events.
//
// Every error of a call is the contract's *events.Status (through an *Error), so a caller tests
// the code the HTTP API would have answered:
//
//	var st *events.Status
//	if errors.As(err, &st) && st.Code == events.CodeGroupMissing { ... }
//
// A call that got no reply is events.ErrUnavailable (no session answers, or NATS is away) or
// events.ErrTimeout; errors.Is finds those, and the cause (context.Canceled, ...) too.
package client
