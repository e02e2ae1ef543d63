package media

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/openqq/openqq/pkg/events"
)

// What a driver of any platform handles: a stored media it sends, and a media it received
// before the session stores it. Both platforms' driver contracts use these types, so a driver
// carries media the same way on QQ and on WeChat.

// Attachment is a stored media to send: what the store says of it, and a way to read its
// bytes. Open may be called more than once (a retry reads again); the driver closes each
// reader.
type Attachment struct {
	Meta Meta
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Incoming is a received media: its bytes, from Data or else from Reader (read once, by the
// session), and what names it. The session stores the bytes and fills the report's media_id,
// media_path, media_size, media_ext and media_code.
type Incoming struct {
	Type   string // TypeImage, ...; empty: the type its Mime says
	Name   string
	Mime   string
	Data   []byte
	Reader io.Reader
	Mtime  time.Time // zero: the message's time
}

// Open returns the media's bytes as a reader.
func (m *Incoming) Open() io.Reader {
	if m.Reader != nil {
		return m.Reader
	}
	return bytes.NewReader(m.Data)
}

// Attachment hands a stored media to a driver, its bytes read from the store at each Open.
func (s *Store) Attachment(m Meta) *Attachment {
	return &Attachment{
		Meta: m,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			rc, _, err := s.Open(ctx, m.ID)
			return rc, err
		},
	}
}

// PutIncoming stores a media a driver received; at is the message's time, the media's mtime
// when the driver gives none.
func (s *Store) PutIncoming(ctx context.Context, in *Incoming, at time.Time) (Meta, error) {
	mtime := in.Mtime
	if mtime.IsZero() {
		mtime = at
	}
	return s.Put(ctx, in.Name, in.Open(), PutHint{Type: in.Type, Mime: in.Mime, Mtime: mtime.Unix()})
}

// Report is the media part of a report: the stored media's fields, never its bytes (the
// reporter adds media_data for post_api).
func (m Meta) Report() *events.Media {
	return &events.Media{
		Code: m.Code, Ext: m.Ext, ID: m.ID, Mime: m.Mime, Mtime: m.Mtime, Name: m.Name,
		Path: m.Path, Size: m.Size, Type: m.Type,
	}
}
