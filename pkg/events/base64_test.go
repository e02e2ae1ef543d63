package events

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestMIMEBase64(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
	}{
		{"", ""},
		{"a", "YQ==\n"},
		{"abc", "YWJj\n"},
		// 57 bytes fill one line exactly; the 58th starts a second.
		{strings.Repeat("x", 57), strings.Repeat("eHh4", 19) + "\n"},
		{strings.Repeat("x", 58), strings.Repeat("eHh4", 19) + "\neA==\n"},
	} {
		if got := MIMEBase64([]byte(tc.in)); got != tc.want {
			t.Errorf("MIMEBase64(%d bytes) = %q, want %q", len(tc.in), got, tc.want)
		}
		if got := MIMEBase64Len(int64(len(tc.in)), 1); got != int64(len(tc.want)) {
			t.Errorf("MIMEBase64Len(%d) = %d, want %d", len(tc.in), got, len(tc.want))
		}
	}
}

// The reader gives MIMEBase64's encoding whatever the sizes of its source's reads and of its
// own, and MIMEBase64Len says how long it is.
func TestMIMEBase64Reader(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 56, 57, 58, mimeChunk - 1, mimeChunk, mimeChunk + 1, 3*mimeChunk + 100} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i * 7)
		}
		want := MIMEBase64(src)
		for _, eol := range []string{"\n", `\n`} {
			wantEOL := strings.ReplaceAll(want, "\n", eol)
			got, err := io.ReadAll(iotest.OneByteReader(NewMIMEBase64Reader(iotest.HalfReader(bytes.NewReader(src)), eol)))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != wantEOL {
				t.Fatalf("%d bytes, eol %q: reader differs from MIMEBase64", n, eol)
			}
			if l := MIMEBase64Len(int64(n), len(eol)); l != int64(len(got)) {
				t.Fatalf("%d bytes, eol %q: MIMEBase64Len = %d, encoding is %d", n, eol, l, len(got))
			}
		}
		dec, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(want, "\n", ""))
		if err != nil || !bytes.Equal(dec, src) {
			t.Fatalf("%d bytes: does not decode back (%v)", n, err)
		}
		for i, line := range strings.Split(strings.TrimSuffix(want, "\n"), "\n") {
			if len(line) > 76 {
				t.Fatalf("%d bytes: line %d is %d characters", n, i, len(line))
			}
		}
	}
}

func TestMIMEBase64ReaderError(t *testing.T) {
	t.Parallel()
	boom := io.ErrClosedPipe
	_, err := io.ReadAll(NewMIMEBase64Reader(iotest.ErrReader(boom), "\n"))
	if err != boom {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestPlatform(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		explicit, prefix, want string
		bad                    bool
	}{
		{"", "qq", PlatformQQ, false},
		{"", "wx", PlatformWX, false},
		{"", "wx.alice", PlatformWX, false},
		{"", "bot7", PlatformQQ, false}, // a custom prefix is QQ's, as it always was
		{"wx", "bot7", PlatformWX, false},
		{" WX ", "qq", PlatformWX, false},
		{"irc", "qq", "", true},
	} {
		got, err := ResolvePlatform(tc.explicit, tc.prefix)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ResolvePlatform(%q, %q) = %q, %v; want %q (error %v)", tc.explicit, tc.prefix, got, err, tc.want, tc.bad)
		}
	}
}
