package events

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
)

// Marshal encodes v as the API writes JSON: UTF-8 as is, and '<', '>' and '&' unescaped, so
// that message content reads the same on the wire as in the chat.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := newEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// MustMarshal is Marshal for values that always encode (the reply types of this package).
func MustMarshal(v any) []byte {
	b, err := Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// MarshalList encodes items as Marshal encodes the slice, into a buffer of sizeHint bytes to
// start with (or as many as the first item suggests), one element at a time: a list of 26 MB (100,000 group members) is then built
// in one buffer of about its size, where Marshal would leave the doubling buffers of the
// whole encoding and a copy of it behind as garbage.
func MarshalList[T any](items []T, sizeHint int) ([]byte, error) {
	w := &listWriter{buf: make([]byte, 0, max(sizeHint, 2))}
	enc := newEncoder(w)
	w.buf = append(w.buf, '[')
	for i := range items {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		if err := enc.Encode(&items[i]); err != nil {
			return nil, err
		}
		if i == 0 && sizeHint == 0 && len(items) > 1 {
			// No hint: size the buffer once from the first item, rather than regrow it
			// all the way up.
			w.buf = slices.Grow(w.buf, len(w.buf)*(len(items)-1)*11/10)
		}
	}
	return append(w.buf, ']'), nil
}

// listWriter appends what an Encoder writes, without the newline that ends each value: a JSON
// value encoded without indentation has no other raw newline (strings escape theirs), so the
// only one is the last byte of a write.
type listWriter struct{ buf []byte }

func (w *listWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, bytes.TrimSuffix(p, []byte{'\n'})...)
	return len(p), nil
}

// newEncoder writes JSON as the API does (see Marshal).
func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
