package drivertest

import (
	"context"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/roster"
)

// recorder is the Sink the suite gives the driver: it records every report, lets a test wait
// for one, and notes the reports of capabilities the driver did not declare. Its login part
// (states, QR codes, logins) is the one the WeChat suite shares.
type recorder struct {
	*conformance.Recorder[*roster.Roster]
	caps driver.Capabilities

	// Under the Recorder's lock.
	received  []driver.Incoming
	ids       []int64 // the ids Receive answered, one for each of received
	changes   []driver.Change
	sent      []driver.SentMessage
	props     []driver.PropertyChange
	published []published
	nextID    int64
}

type published struct {
	name   string
	params []any
}

var _ driver.Sink = (*recorder)(nil)

func newRecorder(caps driver.Capabilities) *recorder {
	return &recorder{Recorder: conformance.NewRecorder[*roster.Roster]("drivertest"), caps: caps, nextID: 1}
}

func (r *recorder) Receive(_ context.Context, in driver.Incoming) (int64, error) {
	var id int64
	r.Note(func() {
		r.received = append(r.received, in)
		r.ids = append(r.ids, r.nextID)
		id = r.nextID
		r.nextID++
	})
	return id, nil
}

func (r *recorder) Change(_ context.Context, c driver.Change) error {
	r.Note(func() { r.changes = append(r.changes, c) })
	return nil
}

func (r *recorder) Sent(_ context.Context, m driver.SentMessage) (int64, error) {
	var id int64
	r.Note(func() {
		r.Undeclared(r.caps.SentElsewhere, "Sent", "SentElsewhere")
		r.sent = append(r.sent, m)
		id = r.nextID
		r.nextID++
	})
	return id, nil
}

func (r *recorder) ChangeProperty(_ context.Context, c driver.PropertyChange) error {
	r.Note(func() {
		r.Undeclared(r.caps.Properties, "ChangeProperty", "Properties")
		r.props = append(r.props, c)
	})
	return nil
}

func (r *recorder) Publish(_ context.Context, name string, params ...any) error {
	r.Note(func() {
		if (name == events.EventFriendRequest || name == events.EventGroupRequest) && r.caps.Requests == nil {
			r.Violate("%s published, but Requests is not declared", name)
		}
		r.published = append(r.published, published{name, params})
	})
	return nil
}

// login waits for the n-th login (from 1) and returns its roster.
func (r *recorder) login(t testing.TB, n int) *roster.Roster {
	t.Helper()
	return r.Login(t, n).Roster
}
