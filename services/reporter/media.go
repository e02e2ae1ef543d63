package reporter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
)

// mediaDataKey is the report field of a media's bytes, in base64 (Openwx's media_data).
const mediaDataKey = "media_data"

// body is what goes to a target for one item: the item as stored, or, for a media message
// with POST_MEDIA_DATA on, the item with media_data added, its bytes streamed from the media
// store as they are posted: a large media is never held in memory, nor is its base64.
type body struct {
	item []byte
	// With media: item up to (not including) its closing brace, the media's id and size.
	head    []byte
	mediaID string
	size    int64
	store   *media.Store
}

// len is the body's length, which the POST announces (Content-Length).
func (b *body) len() int64 {
	if b.mediaID == "" {
		return int64(len(b.item))
	}
	return int64(len(b.head)) + int64(len(mediaDataOpen)) + events.MIMEBase64Len(b.size, len(jsonEOL)) + int64(len(mediaDataClose))
}

// The media_data field spliced in before the item's closing brace; inside a JSON string each
// line of the base64 ends with the escape \n.
const (
	mediaDataOpen  = `,"` + mediaDataKey + `":"`
	mediaDataClose = `"}`
	jsonEOL        = `\n`
)

// open reads the body from its start; each call reads the media again.
func (b *body) open(ctx context.Context) (io.ReadCloser, error) {
	if b.mediaID == "" {
		return io.NopCloser(bytes.NewReader(b.item)), nil
	}
	rc, _, err := b.store.Open(ctx, b.mediaID)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b.head), strings.NewReader(mediaDataOpen),
		events.NewMIMEBase64Reader(rc, jsonEOL), strings.NewReader(mediaDataClose)), rc}, nil
}

// mediaHead is what tells a media message: Openwx's format media and its media_id.
type mediaHead struct {
	Format    string          `json:"format"`
	MediaID   string          `json:"media_id"`
	MediaData json.RawMessage `json:"media_data"`
}

// bodyOf is what to post for item. Without POST_MEDIA_DATA (mediaData: the item's account's), for an item that is not a media
// message (a QQ text message), or one that already carries media_data, the item itself. A media
// the store no longer has (expired) goes without its bytes, with a warning: the item never
// fails for it. A store that cannot be read is an error, so the item is tried again; on its
// last try it goes without the bytes rather than to the dead letters.
func (r *Reporter) bodyOf(ctx context.Context, item []byte, attempt int, mediaData bool) (*body, error) {
	b := &body{item: item}
	if r == nil || !mediaData || !bytes.Contains(item, []byte(`"media_id"`)) {
		return b, nil
	}
	var h mediaHead
	if json.Unmarshal(item, &h) != nil || h.Format != "media" || h.MediaID == "" || len(h.MediaData) > 0 {
		return b, nil
	}
	head := bytes.TrimRight(item, " \t\r\n")
	if len(head) < 2 || head[len(head)-1] != '}' {
		return b, nil
	}
	head = head[:len(head)-1]
	m, err := r.mediaStore(ctx)
	if err == nil {
		var meta media.Meta
		if meta, err = m.Info(ctx, h.MediaID); err == nil {
			b.head, b.mediaID, b.size, b.store = head, h.MediaID, meta.Size, m
			return b, nil
		}
	}
	if errors.Is(err, media.ErrNotFound) {
		r.log.Warn("media not in the store (expired?): posted without media_data", "media_id", h.MediaID)
		mediaMissing.Inc()
		return b, nil
	}
	if attempt >= r.cfg.PostMaxDeliver {
		r.log.Warn("media store unreadable on the last try: posted without media_data", "media_id", h.MediaID, "err", err)
		return b, nil
	}
	return nil, fmt.Errorf("media %s: %w", h.MediaID, err)
}

// mediaStore opens the platform's media bucket on first use: a reporter that never sees a
// media message never touches it.
func (r *Reporter) mediaStore(ctx context.Context) (*media.Store, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.media != nil {
		return r.media, nil
	}
	cfg := r.cfg.Config
	cfg.Dir = "" // the reporter only reads by id: no local files, whatever MEDIA_DIR says
	m, err := media.Bind(ctx, r.js, r.subj.MediaBucket(), cfg)
	if err != nil {
		return nil, err
	}
	r.media = m
	return m, nil
}
