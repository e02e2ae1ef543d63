package termqr

import (
	"bytes"
	"image"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"
)

// Rendering a PNG gives the same modules as the encoder's own terminal drawing.
func TestRenderMatchesTheEncoder(t *testing.T) {
	for _, tc := range []struct {
		text string
		size int
	}{
		{"openqq-sim://login?account=default&attempt=1", 256},
		{"短", 128},
		{"https://example.com/a/very/long/path/to/make/a/bigger/code?with=a&query=string&and=more", 512},
	} {
		q, err := qrcode.New(tc.text, qrcode.Medium)
		if err != nil {
			t.Fatal(err)
		}
		png, err := q.PNG(tc.size)
		if err != nil {
			t.Fatal(err)
		}
		// And the same image as a JPEG, the format of WeChat's login QR code.
		img, _, err := image.Decode(bytes.NewReader(png))
		if err != nil {
			t.Fatal(err)
		}
		var jpg bytes.Buffer
		if err := jpeg.Encode(&jpg, img, nil); err != nil {
			t.Fatal(err)
		}
		got, err := Render(png)
		if err != nil {
			t.Fatal(err)
		}
		gotJPEG, err := Render(jpg.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if gotJPEG != got {
			t.Errorf("%q at %dpx: the JPEG renders differently from the PNG:\n%s\nwant\n%s", tc.text, tc.size, gotJPEG, got)
		}
		// The encoder's bitmap, without its quiet zone, is what Render must have read.
		bm := q.Bitmap()
		var want [][]bool
		for _, row := range bm {
			if !allLight(row) {
				want = append(want, row)
			}
		}
		first, last := len(bm[0]), 0
		for _, row := range want {
			for x, d := range row {
				if d {
					first, last = min(first, x), max(last, x)
				}
			}
		}
		for i := range want {
			want[i] = want[i][first : last+1]
		}
		if got != draw(want) {
			t.Errorf("%q at %dpx:\n%s\nwant\n%s", tc.text, tc.size, got, draw(want))
		}
		if lines := strings.Count(got, "\n"); lines != (len(want)+4+1)/2 {
			t.Errorf("%d lines for %d modules", lines, len(want))
		}
	}
}

func allLight(row []bool) bool {
	for _, d := range row {
		if d {
			return false
		}
	}
	return true
}

func TestRenderRefusesNonQR(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("not a png")} {
		if _, err := Render(b); err == nil {
			t.Errorf("Render(%q) accepted", b)
		}
	}
}
