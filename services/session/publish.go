package session

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/openqq/openqq/pkg/events"
)

// publisher puts reports on qq.events.<name>, each with its id in Nats-Msg-Id.
type publisher struct {
	nc   *nats.Conn
	subj events.Subjects
	log  *slog.Logger
}

func (p *publisher) publish(_ context.Context, it events.Item, id string) error {
	body, err := events.Marshal(it)
	if err != nil {
		return err
	}
	m := nats.NewMsg(p.subj.Event(it.Name()))
	m.Header.Set(events.HeaderMsgID, id)
	m.Data = body
	if err := p.nc.PublishMsg(m); err != nil {
		p.log.Error("publish", "subject", m.Subject, "id", id, "err", err)
		return err
	}
	return nil
}

// publishEvent publishes an event report; a failure is logged, as an event is never a reason
// to fail the call that caused it.
func (s *Session) publishEvent(ctx context.Context, name string, params ...any) {
	ev, err := events.NewEvent(name, params...)
	if err != nil {
		s.log.Error("event", "event", name, "err", err)
		return
	}
	_ = s.pub.publish(ctx, ev, "ev-"+nextEventID())
}

// publishMessage publishes a message report under its message id.
func (s *Session) publishMessage(ctx context.Context, m *events.Message) error {
	return s.pub.publish(ctx, m, strconv.FormatInt(m.ID, 10))
}

// mimeBase64 encodes as Perl's MIME::Base64 does: a line break every 76 characters and one at
// the end, as input_qrcode's second parameter has it.
func mimeBase64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	sb.Grow(len(enc) + len(enc)/76 + 1)
	for len(enc) > 76 {
		sb.WriteString(enc[:76])
		sb.WriteByte('\n')
		enc = enc[76:]
	}
	sb.WriteString(enc)
	sb.WriteByte('\n')
	return sb.String()
}

// idGen hands out message ids: Unix microseconds, strictly increasing, so ids stay unique
// across restarts (JetStream de-duplicates by id) and below 2^53 until the year 2255.
type idGen struct {
	mu   sync.Mutex
	last int64
}

func (g *idGen) next() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := max(time.Now().UnixMicro(), g.last+1)
	g.last = id
	return id
}

// nextEventID names an event for Nats-Msg-Id; events have no id of their own in Mojo's format.
func nextEventID() string { return nuid.Next() }
