package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/infra/media"
)

// A media the gateway stores for a call (an upload, a media_data) is there before the session
// has looked at the call. When the session refuses the call before sending anything (an
// unknown friend, no friend to consult), nothing refers to that media: it is deleted, so that a
// refused call stores nothing. A call that timed out is left alone (the session may still send
// it), and so is a send WeChat refused (its send_message report names the media).

type storedKey struct{}

// storedMedia are the media the gateway stored for one call.
type storedMedia struct {
	mu    sync.Mutex
	store *media.Store
	ids   []string
}

// withStoredMedia gives a call's context the list its uploads note their media in.
func withStoredMedia(ctx context.Context) (context.Context, *storedMedia) {
	s := &storedMedia{}
	return context.WithValue(ctx, storedKey{}, s), s
}

// noteStored records a media the gateway stored for the call of ctx.
func noteStored(ctx context.Context, st *media.Store, id string) {
	s, ok := ctx.Value(storedKey{}).(*storedMedia)
	if !ok || id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store = st
	s.ids = append(s.ids, id)
}

// refusedBeforeSending reports whether a reply refuses a call before anything was sent: an
// HTTP error other than a time-out, or a JSON reply with a non-zero code and no message id
// (a send WeChat refused has one).
func refusedBeforeSending(status int, body []byte) bool {
	switch status {
	case http.StatusOK:
	case http.StatusGatewayTimeout:
		return false
	default:
		return true
	}
	var r struct {
		Code *int            `json:"code"`
		ID   json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &r) != nil || r.Code == nil || *r.Code == 0 {
		return false
	}
	return len(r.ID) == 0 || string(r.ID) == "null"
}

// discardIfRefused deletes the call's stored media when its reply refused it.
func (s *storedMedia) discardIfRefused(ctx context.Context, log *slog.Logger, status int, body []byte) {
	s.mu.Lock()
	ids, st := s.ids, s.store
	s.mu.Unlock()
	if len(ids) == 0 || st == nil || !refusedBeforeSending(status, body) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := st.Delete(ctx, id); err != nil {
			log.Warn("upload of a refused call left in the media store", "media_id", id, "err", err)
		}
	}
}
