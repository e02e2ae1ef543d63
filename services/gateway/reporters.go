package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/logging"
)

// reporterInfo is one reporter's consumer, as the console shows it.
type reporterInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Delivered   uint64 `json:"delivered"`   // the stream sequence of the last item handed out
	AckPending  int    `json:"ack_pending"` // handed out, not yet acknowledged
	Redelivered int    `json:"redelivered"` // handed out more than once, not yet acknowledged
	Pending     uint64 `json:"pending"`     // stored, not yet handed out
	Waiting     int    `json:"waiting"`     // pull requests waiting: reporter processes idle
}

// reportersReply is GET /console/reporters.
type reportersReply struct {
	Code        int            `json:"code"`
	Reporters   []reporterInfo `json:"reporters"`
	DeadLetters uint64         `json:"dead_letters"` // items parked in QQ_DEADLETTER
}

// reporters answers GET /console/reporters: those of Openqq, or with ?platform=wx those of
// Openwx.
func (g *Gateway) reporters(w http.ResponseWriter, r *http.Request) {
	switch pf := r.URL.Query().Get("platform"); {
	case pf == "" || pf == "qq":
		g.qq.streams.reporters(w, r)
	case pf == "wx" && g.wx != nil:
		g.wx.streams.reporters(w, r)
	default:
		writeStatus(w, events.ErrBadRequest("platform %q: qq or wx (when /openwx is on)", logging.Clip(pf, 16)))
	}
}

// reporters lists the reporters' consumers of the platform's stream (QQ_EVENTS) and counts the
// dead letters: none of either while the streams do not exist yet.
func (s *streamer) reporters(w http.ResponseWriter, r *http.Request) {
	if !s.connected() {
		writeStatus(w, events.ErrUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.g.cfg.APITimeout)
	defer cancel()
	reply := reportersReply{Code: events.CodeOK, Reporters: []reporterInfo{}}
	name := s.subj.Stream()
	stream, err := s.js.Stream(ctx, name)
	if err == nil {
		list := stream.ListConsumers(ctx)
		for ci := range list.Info() {
			if !strings.HasPrefix(ci.Name, events.ReporterConsumerPrefix) {
				continue
			}
			reply.Reporters = append(reply.Reporters, reporterInfo{
				Name: ci.Name, Description: ci.Config.Description, Delivered: ci.Delivered.Stream,
				AckPending: ci.NumAckPending, Redelivered: ci.NumRedelivered, Pending: ci.NumPending,
				Waiting: ci.NumWaiting,
			})
		}
		err = list.Err()
	}
	if err == nil || errors.Is(err, jetstream.ErrStreamNotFound) {
		name = s.subj.DeadLetterStream()
		var dl jetstream.Stream
		if dl, err = s.js.Stream(ctx, name); err == nil {
			reply.DeadLetters = dl.CachedInfo().State.Msgs
		}
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		s.log.Warn("reporters", "stream", name, "err", err)
		writeStatus(w, events.NewStatus(events.CodeUnavailable, "stream %s unavailable", name))
		return
	}
	slices.SortFunc(reply.Reporters, func(a, b reporterInfo) int { return strings.Compare(a.Name, b.Name) })
	write(w, http.StatusOK, events.MustMarshal(reply), true)
}
