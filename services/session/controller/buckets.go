package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
)

// ClientsBucketConfig is the configuration of a prefix's clients bucket (QQ_CLIENTS,
// WX_CLIENTS): one key per account holding its events.ClientSpec, its latest value only (a
// stopped account's settings, tokens included, are purged, not kept as history). Every
// process that may create the bucket (the Controller, a session host declaring its default
// account) creates it with this configuration, so that whichever comes first, the bucket is
// the same: it is the configuration the session host (services/session/host) creates it with.
func ClientsBucketConfig(subj events.Subjects, replicas int) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:      subj.ClientsBucket(),
		Description: "openqq: the accounts' desired state (events.ClientSpec)",
		History:     1,
		Replicas:    max(replicas, 1),
		Storage:     jetstream.FileStorage,
	}
}

// OpenClients returns the clients bucket of subj's prefix, creating it with
// ClientsBucketConfig when it does not exist yet. A bucket that exists is used as it is, even
// if another process created it with other replicas.
func OpenClients(ctx context.Context, js jetstream.JetStream, subj events.Subjects, replicas int) (jetstream.KeyValue, error) {
	cfg := ClientsBucketConfig(subj, replicas)
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
	}
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, cfg.Bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("clients bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// snapshot reads every live entry of a bucket (deleted and purged keys left out), as of the
// moment it is called or later.
func snapshot(ctx context.Context, kv jetstream.KeyValue, opts ...jetstream.WatchOpt) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.WatchAll(ctx, append(opts, jetstream.IgnoreDeletes())...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("watch of %s ended", kv.Bucket())
			}
			if e == nil { // every current value has been delivered
				return out, nil
			}
			out = append(out, e)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
