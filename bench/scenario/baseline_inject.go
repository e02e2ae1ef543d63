package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BaselineInjected is the events row's baseline fed the way openqq is: the same injector
// (InjectAll, the same workers) sends request-reply injections over TCP to the minimal loop's
// NATS server, where a responder stores each message under its id and answers once it is
// stored, as the session does; the minimal loop's consumer then POSTs them with the same pull
// settings. One run, as openqq gets.
func (h *Harness) BaselineInjected(ctx context.Context, bodies [][]byte, ids []int64, conc, workers int) (Delivery, *Injected, error) {
	sink, err := NewSink(0)
	if err != nil {
		return Delivery{}, nil, err
	}
	defer sink.Close()
	n := len(bodies)
	sink.Reset(n)
	l, err := startMinimalLoop(ctx, h.Dir("baseline-nats"), sink.URL, conc, true)
	if err != nil {
		return Delivery{}, nil, err
	}
	defer l.close()
	rc, err := l.srv.Connect("bench-baseline-responder")
	if err != nil {
		return Delivery{}, nil, err
	}
	defer rc.Close()
	js, err := jetstream.New(rc, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		return Delivery{}, nil, err
	}
	sub, err := rc.Subscribe("qq.sim.inject", func(m *nats.Msg) {
		var in struct {
			Content string `json:"content"`
		}
		seq := -1
		if json.Unmarshal(m.Data, &in) == nil && strings.HasPrefix(in.Content, benchPrefix) {
			if v, err := strconv.Atoi(in.Content[len(benchPrefix):]); err == nil && v >= 0 && v < n {
				seq = v
			}
		}
		if seq < 0 {
			_ = m.Respond([]byte(`{"code":-7,"status":"not a benchmark injection"}`))
			return
		}
		pm := nats.NewMsg(baselineSubject)
		pm.Header.Set(nats.MsgIdHdr, strconv.FormatInt(ids[seq], 10))
		pm.Data = bodies[seq]
		f, err := js.PublishMsgAsync(pm)
		if err != nil {
			_ = m.Respond(fmt.Appendf(nil, `{"code":-9,"status":%q}`, err.Error()))
			return
		}
		go func() {
			select {
			case <-f.Ok():
				_ = m.Respond(fmt.Appendf(nil, `{"code":0,"id":%d}`, ids[seq]))
			case err := <-f.Err():
				_ = m.Respond(fmt.Appendf(nil, `{"code":-9,"status":%q}`, err.Error()))
			}
		}()
	})
	if err != nil {
		return Delivery{}, nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := rc.Flush(); err != nil {
		return Delivery{}, nil, err
	}
	in, err := InjectAll(ctx, l.srv.ClientURL(), n, workers)
	if err != nil {
		return Delivery{}, in, err
	}
	waitDelivered(ctx, sink, 20*time.Second)
	d := sink.Result(in.T0, in.IDs)
	if !d.Lossless() {
		d.Note = l.diagnose(ctx)
	}
	return d, in, l.err()
}
