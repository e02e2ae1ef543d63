// Package wait pauses a goroutine in a way its context can cut short.
package wait

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends; then it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Retry calls f, each call with its own time-out attempt (within ctx), until it returns nil, an
// error retryable does not accept, or ctx ends; between calls it waits 100 ms, doubling up to
// 2 s. It returns f's last error (ctx's if f never ran). For a call whose reply can be lost (a
// JetStream API request while the cluster elects a leader): the whole keeps ctx's deadline, and
// one lost reply costs one attempt rather than all of it.
func Retry(ctx context.Context, attempt time.Duration, retryable func(error) bool, f func(context.Context) error) error {
	pause := 100 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attempt)
		err := f(actx)
		cancel()
		if err == nil || !retryable(err) {
			return err
		}
		if Sleep(ctx, pause) != nil {
			return err
		}
		pause = min(2*pause, 2*time.Second)
	}
}
