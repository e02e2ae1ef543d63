package wait

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		want error
	}{
		{"waits", context.Background(), time.Millisecond, nil},
		{"zero", context.Background(), 0, nil},
		{"cut short", cancelled, time.Hour, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Sleep(tc.ctx, tc.d); !errors.Is(err, tc.want) {
				t.Errorf("Sleep = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	errLost := errors.New("lost reply")
	errFinal := errors.New("refused")
	retryable := func(err error) bool { return errors.Is(err, errLost) || errors.Is(err, context.DeadlineExceeded) }
	t.Run("a lost reply costs one attempt", func(t *testing.T) {
		calls := 0
		err := Retry(context.Background(), time.Second, retryable, func(ctx context.Context) error {
			calls++
			if calls < 3 {
				return errLost
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Errorf("err %v after %d calls, want nil after 3", err, calls)
		}
	})
	t.Run("each attempt has its own time-out", func(t *testing.T) {
		calls := 0
		err := Retry(context.Background(), 10*time.Millisecond, retryable, func(ctx context.Context) error {
			calls++
			if calls == 1 {
				<-ctx.Done() // a reply that never comes
				return ctx.Err()
			}
			return nil
		})
		if err != nil || calls != 2 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("a final error is returned at once", func(t *testing.T) {
		calls := 0
		err := Retry(context.Background(), time.Second, retryable, func(context.Context) error { calls++; return errFinal })
		if !errors.Is(err, errFinal) || calls != 1 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
	t.Run("ctx ends the retries", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := Retry(ctx, time.Second, retryable, func(context.Context) error {
			calls++
			if calls == 2 {
				cancel()
			}
			return errLost
		})
		if !errors.Is(err, errLost) || calls != 2 {
			t.Errorf("err %v after %d calls", err, calls)
		}
	})
}
