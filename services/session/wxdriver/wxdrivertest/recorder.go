package wxdrivertest

import (
	"context"
	"fmt"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// received is one Receive, with its media read.
type received struct {
	in   wxdriver.Incoming
	data []byte // the media's bytes, read from Data or Reader
	id   string
}

// recorder is the Sink the suite gives the driver: it records every report, lets a test wait
// for one, and notes the reports of capabilities the driver did not declare. Its login part
// (states, QR codes, logins with whether a QR code was scanned) is the one the QQ suite shares.
type recorder struct {
	*conformance.Recorder[*wxroster.Roster]
	caps wxdriver.Capabilities

	// Under the Recorder's lock.
	received []received
	changes  []wxdriver.Change
	sent     []wxdriver.SentMessage
	props    []wxdriver.PropertyChange
	requests []wx.FriendRequest
	nextID   int
}

var _ wxdriver.Sink = (*recorder)(nil)

func newRecorder(caps wxdriver.Capabilities) *recorder {
	return &recorder{Recorder: conformance.NewRecorder[*wxroster.Roster]("wxdrivertest"), caps: caps, nextID: 1}
}

func (r *recorder) Receive(_ context.Context, in wxdriver.Incoming) (string, error) {
	var data []byte
	if in.Media != nil {
		// The session reads the bytes before Receive returns; so does the recorder.
		b, err := readAll(in.Media)
		if err != nil {
			return "", err
		}
		data = b
	}
	var id string
	r.Note(func() {
		id = fmt.Sprint("wxdrivertest-", r.nextID)
		r.nextID++
		r.received = append(r.received, received{in: in, data: data, id: id})
	})
	return id, nil
}

func (r *recorder) Change(_ context.Context, c wxdriver.Change) error {
	r.Note(func() { r.changes = append(r.changes, c) })
	return nil
}

func (r *recorder) Sent(_ context.Context, m wxdriver.SentMessage) (string, error) {
	var id string
	r.Note(func() {
		r.Undeclared(r.caps.SentElsewhere, "Sent", "SentElsewhere")
		r.sent = append(r.sent, m)
		id = fmt.Sprint("wxdrivertest-", r.nextID)
		r.nextID++
	})
	return id, nil
}

func (r *recorder) ChangeProperty(_ context.Context, c wxdriver.PropertyChange) error {
	r.Note(func() {
		r.Undeclared(r.caps.Properties, "ChangeProperty", "Properties")
		r.props = append(r.props, c)
	})
	return nil
}

func (r *recorder) FriendRequest(_ context.Context, fr wx.FriendRequest) error {
	r.Note(func() {
		r.Undeclared(r.caps.FriendRequests, "FriendRequest", "FriendRequests")
		r.requests = append(r.requests, fr)
	})
	return nil
}
