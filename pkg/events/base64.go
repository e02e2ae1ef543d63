package events

import (
	"encoding/base64"
	"errors"
	"io"
)

// Perl's MIME::Base64 (which Mojo used for media_data and input_qrcode's image) breaks the
// encoding into lines of 76 characters, each ended by a newline, the last one too.
const (
	mimeLineChars = 76
	mimeLineBytes = mimeLineChars / 4 * 3 // 57 input bytes make one full line
)

// MIMEBase64 encodes b as Perl's MIME::Base64::encode_base64 does: lines of 76 characters,
// each ended by "\n"; "" for no bytes.
func MIMEBase64(b []byte) string {
	return string(appendMIMEBase64(make([]byte, 0, MIMEBase64Len(int64(len(b)), 1)), b, "\n"))
}

// MIMEBase64Len is the length of MIMEBase64's encoding of n bytes, with an end of line eol
// bytes long (1 for "\n"; 2 for the `\n` escape inside a JSON string).
func MIMEBase64Len(n int64, eol int) int64 {
	if n <= 0 {
		return 0
	}
	enc := (n + 2) / 3 * 4
	lines := (enc + mimeLineChars - 1) / mimeLineChars
	return enc + lines*int64(eol)
}

// appendMIMEBase64 appends the encoding of src, lines ended by eol; src's length must be a
// multiple of 57 unless it is the last part of the input.
func appendMIMEBase64(dst, src []byte, eol string) []byte {
	var line [mimeLineChars]byte
	for len(src) > 0 {
		n := min(len(src), mimeLineBytes)
		base64.StdEncoding.Encode(line[:], src[:n])
		dst = append(dst, line[:base64.StdEncoding.EncodedLen(n)]...)
		dst = append(dst, eol...)
		src = src[n:]
	}
	return dst
}

// mimeChunk is how much a MIMEBase64Reader reads from its source at a time: whole lines.
const mimeChunk = 64 * mimeLineBytes

// NewMIMEBase64Reader streams MIMEBase64's encoding of what src holds, lines ended by eol
// ("\n", or `\n` to embed the encoding in a JSON string): large media reach an HTTP body
// without a copy of the bytes or of their encoding in memory.
func NewMIMEBase64Reader(src io.Reader, eol string) io.Reader {
	return &mimeReader{src: src, eol: eol}
}

type mimeReader struct {
	src io.Reader
	eol string
	in  []byte
	buf []byte
	out []byte // the encoded bytes not read yet, in buf
	err error
}

func (r *mimeReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.in == nil {
			r.in = make([]byte, mimeChunk)
			r.buf = make([]byte, 0, MIMEBase64Len(mimeChunk, len(r.eol)))
		}
		// Whole chunks, so that every line but the last is full.
		n, err := io.ReadFull(r.src, r.in)
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			r.err = io.EOF
		case err != nil:
			r.err = err
		}
		r.out = appendMIMEBase64(r.buf[:0], r.in[:n], r.eol)
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}
