package natsconn

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/infra/wait"
)

// APIAttempt bounds one attempt of RetryAPI.
const APIAttempt = 5 * time.Second

// Unanswered tells a JetStream API error worth another attempt, not a refusal: no reply in
// time (the request or its reply lost while a cluster elects a leader), or "stream not found"
// from a stream or bucket another process is creating at the same moment, not yet placed on
// its replicas.
func Unanswered(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrStreamNotFound)
}

// RetryAPI calls f, a set-up's JetStream API calls (create or bind a stream or a bucket), until
// it succeeds, fails with an error Unanswered does not accept, or ctx ends; each attempt has
// APIAttempt. On a cluster, processes starting together race to create the same streams and
// buckets: one lost reply then costs one attempt, not the whole set-up.
func RetryAPI(ctx context.Context, f func(context.Context) error) error {
	return wait.Retry(ctx, APIAttempt, Unanswered, f)
}
