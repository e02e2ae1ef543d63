package ilink

import (
	"context"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// nopSink takes every report (the fuzz targets need one).
type nopSink struct{}

func (nopSink) State(events.State)                                         {}
func (nopSink) QRCode(string, []byte)                                      {}
func (nopSink) LoggedIn(*wxroster.Roster, bool)                            {}
func (nopSink) Change(context.Context, wxdriver.Change) error              { return nil }
func (nopSink) Receive(context.Context, wxdriver.Incoming) (string, error) { return "", nil }
func (nopSink) Sent(context.Context, wxdriver.SentMessage) (string, error) { return "", nil }
func (nopSink) ChangeProperty(context.Context, wxdriver.PropertyChange) error {
	return nil
}
func (nopSink) FriendRequest(context.Context, wx.FriendRequest) error { return nil }
