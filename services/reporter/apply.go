package reporter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/client"
	"github.com/openqq/openqq/pkg/events"
)

// answersTTL is how long an applied answer is remembered: far longer than any redelivery.
const answersTTL = 24 * time.Hour

// apply carries out a receiver's answer to a message report, each part (reply, media, shutup) once
// per item and target even when the item is delivered twice or by two replicas. A refusal by the API (friend gone, not an admin) is final
// and only logged; an API that cannot be reached is an error, so the item is tried again.
//
// The calls go to the account whose item it is (the item's subject says): its own API.
func (r *Reporter) apply(ctx context.Context, t target, subject string, seq uint64, item []byte, a Answer) error {
	id, calls := r.plat.actions(item, a, r.log)
	if len(calls) == 0 {
		return nil
	}
	kv, err := r.answersKV(ctx)
	if err != nil {
		return err
	}
	key := t.consumer() + "." + strconv.FormatUint(seq, 10)
	if _, err := kv.Get(ctx, key); err == nil {
		// Recorded whole, by a reporter from before parts were recorded one by one.
		r.log.Info("answer already applied", "seq", seq, "id", id)
		return nil
	}
	// Each part (reply, shutup) is recorded on its own before it is applied, and forgotten
	// only if it failed: a retry after a failed shutup does not send the reply again.
	api := r.qq
	if client, ok := r.subj.ClientOf(subject); ok && !events.IsDefaultClient(client) {
		api = r.qq.ForClient(client)
	}
	for _, c := range calls {
		part := key + "." + c.part()
		if _, err := kv.Create(ctx, part, []byte(id)); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				r.log.Info("answer part already applied", "seq", seq, "id", id, "route", c.route)
				continue
			}
			return fmt.Errorf("record answer: %w", err)
		}
		if err := r.call(ctx, api, c); err != nil {
			// Forget this part only, so that the retry applies it and not the ones before.
			_ = kv.Delete(context.WithoutCancel(ctx), part)
			return err
		}
	}
	return nil
}

// call makes one API request of an account, marked as an answer.
func (r *Reporter) call(ctx context.Context, api *client.Client, c apiCall) error {
	_, err := api.Call(ctx, c.route, c.params, client.AsReply())
	switch {
	case err == nil:
		answersApplied.WithLabelValues(c.route).Inc()
		r.log.Info("answer applied", "route", c.route, "client", api.Subjects().ClientName())
	case client.Temporary(err):
		return err // no reply, or the client is not running: it comes back, try again
	default:
		r.log.Warn("answer refused by the API", "route", c.route, "code", client.Code(err), "err", err)
	}
	return nil
}

func (r *Reporter) answersKV(ctx context.Context) (jetstream.KeyValue, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answers != nil {
		return r.answers, nil
	}
	kv, err := r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      answersBucket(r.subj),
		Description: "openqq: post_api answers already applied",
		TTL:         answersTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    max(r.cfg.KVReplicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("answers bucket: %w", err)
	}
	r.answers = kv
	return kv, nil
}

func answersBucket(s events.Subjects) string {
	return s.AnswersBucket()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
