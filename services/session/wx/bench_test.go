package wx

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
)

// BenchmarkGetFriendInfo is get_friend_info of the simulated account's roster, the reply the
// engine keeps until the roster changes, with its baselines in the same run:
//
//   - handler: the route's handler on the cached reply, against "baseline-encode", the
//     encoding of the same friends that the cache saves (events.MarshalList, sized from the
//     last reply as the engine sizes it);
//   - nats: the request the gateway makes (wx.api.get_friend_info over the engine's micro
//     service), against "baseline-nats-responder", a bare subscription of the same
//     connection answering the same bytes; their ratio is what `make bench`'s
//     "Openwx, NATS request-reply" row measures between processes.
func BenchmarkGetFriendInfo(b *testing.B) {
	v := start(b, nil)
	ctx := context.Background()
	friends := v.ro().Friends
	body := events.MustMarshal(friends)

	b.Run("baseline-encode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := events.MarshalList(friends, len(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("handler", func(b *testing.B) {
		if _, err := v.p.getFriendInfo(ctx, nil); err != nil { // the first call fills the cache
			b.Fatal(err)
		}
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.p.getFriendInfo(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	})

	req := events.MustMarshal(events.Params{})
	bare := "bench.api." + wx.RouteGetFriendInfo
	sub, err := v.nc.Subscribe(bare, func(m *nats.Msg) { _ = m.Respond(body) })
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	ask := func(b *testing.B, subject string) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			m, err := v.nc.Request(subject, req, 10*time.Second)
			if err != nil || len(m.Data) != len(body) {
				b.Fatalf("%s: %v, %d bytes, want %d", subject, err, len(m.Data), len(body))
			}
		}
	}
	b.Run("baseline-nats-responder", func(b *testing.B) { ask(b, bare) })
	b.Run("nats", func(b *testing.B) { ask(b, v.e.Subjects().API(wx.RouteGetFriendInfo)) })
}
