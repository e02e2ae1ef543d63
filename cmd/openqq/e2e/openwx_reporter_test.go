package e2e

import (
	"context"
	"fmt"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
	"github.com/openqq/openqq/services/reporter"
)

// wxReporterSetup configures the reporters of startWX.
type wxReporterSetup struct {
	// noMediaData is POST_MEDIA_DATA=0.
	noMediaData bool
	// respond is how post_api answers (nil: 200, empty).
	respond func(*proctest.Request) proctest.Answer
}

// withReporters runs n reporters (PLATFORM wx, POST_EVENT on) posting to one real post_api
// receiver; with more than one, they share the target's partitions.
func withReporters(n int, f func(*wxReporterSetup)) wxOption {
	return func(s *wxSetup) {
		s.reporters = n
		if f != nil {
			f(&s.rep)
		}
	}
}

// postAPI is the receiver the reporters post to.
type postAPI struct{ *proctest.Receiver }

// startReporters starts the reporters of s; each one's Run result goes to done.
func (w *wxEnv) startReporters(ctx context.Context, s wxSetup, done map[string]chan error) *postAPI {
	w.t.Helper()
	recv := proctest.StartReceiver(w.t, proctest.ReceiverOptions{Respond: s.rep.respond})
	partitions := 1
	if s.reporters > 1 {
		partitions = 2 * s.reporters
	}
	for i := range s.reporters {
		name := fmt.Sprintf("wx-reporter-%d", i)
		rep, err := reporter.New(natstest.Connect(w.t, w.srv), reporter.Config{
			SubjectPrefix: s.sess.SubjectPrefix, Platform: wx.Prefix, PostAPI: []string{recv.URL}, PostEvent: true,
			PostMediaData: !s.rep.noMediaData, Config: s.sess.Config, Name: name,
			PostRetryMin: 20 * time.Millisecond, PostRetryMax: 200 * time.Millisecond, PostTimeout: 5 * time.Second,
			PostAckWait: 2 * time.Second, PostPinTTL: 2 * time.Second, PostPartitions: partitions,
			PostDrainTimeout: time.Second, APITimeout: 5 * time.Second,
		}, natstest.Logger(w.t))
		if err != nil {
			w.t.Fatal(err)
		}
		ch := make(chan error, 1)
		done[name] = ch
		go func() { ch <- rep.Run(ctx) }()
	}
	return &postAPI{recv}
}
