package media

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// Delete removes the media id names: the gateway's upload of a call it refused after the media
// was stored (a second media, a body over its limit), so that a refused call stores nothing. A
// media already gone is not an error.
func (s *Store) Delete(ctx context.Context, id string) error {
	key, _, ok := parseID(id)
	if !ok {
		return notFound(id)
	}
	if err := s.obs.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return internal(err)
	}
	return nil
}
