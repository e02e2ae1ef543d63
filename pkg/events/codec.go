package events

import (
	"bytes"
	"encoding/json"
)

// Marshal encodes v as the API writes JSON: UTF-8 as is, and '<', '>' and '&' unescaped, so
// that message content reads the same on the wire as in the chat.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
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
