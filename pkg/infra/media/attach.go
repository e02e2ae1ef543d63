package media

import (
	"bytes"
	"context"
	"io"
	"time"
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
