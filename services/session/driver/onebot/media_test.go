package onebot

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/face"
	"github.com/openqq/openqq/services/session/driver/onebot/onebottest"
)

// pngBytes is a picture's bytes (a PNG header is enough for a MIME sniff).
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 300)...)

func attachment(data []byte, path string) *media.Attachment {
	return &media.Attachment{
		Meta: media.Meta{Type: media.TypeImage, Path: path, Name: "a.png", Size: int64(len(data)), Mime: "image/png"},
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

// Every face of the table goes out as a face segment with its id and comes back as its name;
// text that only looks like a face stays text.
func TestFacesRoundTrip(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), nil)
		var content strings.Builder
		var back []onebottest.Segment
		for _, id := range face.IDs() {
			content.WriteString(face.Text(id))
			back = append(back, onebottest.Face(id))
		}
		content.WriteString("[不是表情]")
		back = append(back, onebottest.Text("[不是表情]"))
		if err := r.d.Send(context.Background(), driver.Outgoing{Type: events.FriendMessage, TargetID: wangID, Content: content.String()}); err != nil {
			t.Fatal(err)
		}
		segs := r.peer.WaitCall(t, "send_private_msg", 1).Segments()
		if len(segs) != len(face.IDs())+1 {
			t.Fatalf("%d segments, want %d", len(segs), len(face.IDs())+1)
		}
		for i, id := range face.IDs() {
			if segs[i].Type() != "face" || segs[i].Data("id") != strconv.Itoa(id) {
				t.Errorf("segment %d: %v, want face %d", i, segs[i], id)
			}
		}
		if last := segs[len(segs)-1]; last.Type() != "text" || last.Data("text") != "[不是表情]" {
			t.Errorf("last segment %v, want the text [不是表情]", last)
		}

		r.peer.Private(wangID, back...)
		r.peer.Private(wangID, onebottest.Face(9999))
		r.rec.wait(t, "2 messages", func() bool { return len(r.rec.received) == 2 })
		if got := r.rec.received[0].Content; got != content.String() {
			t.Errorf("received %q, want %q", got, content.String())
		}
		if got := r.rec.received[1].Content; got != "[表情]" {
			t.Errorf("unknown face received as %q, want [表情]", got)
		}
	})
}

// A picture goes out as an image segment after the text, base64:// of its bytes; with
// ONEBOT_MEDIA_URL a picture fetched from a URL goes as that URL, and one that was not still
// as base64.
func TestSendPicture(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		r := start(t, peerOptions(fl), func(c *Config) { c.MediaURL = fl == onebottest.Lagrange })
		ctx := context.Background()
		if err := r.d.Send(ctx, driver.Outgoing{Type: events.GroupMessage, TargetID: testGroup, Content: "看[微笑]", Media: attachment(pngBytes, "a.png")}); err != nil {
			t.Fatal(err)
		}
		segs := r.peer.WaitCall(t, "send_group_msg", 1).Segments()
		if len(segs) != 3 || segs[0].Data("text") != "看" || segs[1].Type() != "face" || segs[2].Type() != "image" {
			t.Fatalf("segments %v, want text, face, image", segs)
		}
		if !bytes.Equal(segs[2].ImageBytes(), pngBytes) {
			t.Errorf("image bytes at the peer differ (%d bytes, want %d)", len(segs[2].ImageBytes()), len(pngBytes))
		}
		// A picture alone.
		if err := r.d.Send(ctx, driver.Outgoing{Type: events.FriendMessage, TargetID: wangID, Media: attachment(pngBytes, "https://pics.example/a.png")}); err != nil {
			t.Fatal(err)
		}
		segs = r.peer.WaitCall(t, "send_private_msg", 1).Segments()
		if len(segs) != 1 || segs[0].Type() != "image" {
			t.Fatalf("segments %v, want one image", segs)
		}
		if fl == onebottest.Lagrange {
			if segs[0].Data("file") != "https://pics.example/a.png" {
				t.Errorf("with MediaURL: file %q, want the URL", segs[0].Data("file"))
			}
		} else if !bytes.Equal(segs[0].ImageBytes(), pngBytes) {
			t.Errorf("image bytes at the peer differ")
		}
		if err := r.d.Send(ctx, driver.Outgoing{Type: events.FriendMessage, TargetID: wangID}); err == nil {
			t.Error("an empty message was sent")
		}
	})
}

// A received picture arrives with its bytes, from base64:// or from its url; one whose bytes
// cannot be had still arrives, [图片] without them. The account's own pictures too.
func TestReceivePicture(t *testing.T) {
	eachFlavour(t, func(t *testing.T, fl onebottest.Flavour) {
		opts := peerOptions(fl)
		opts.ReportSelf = true
		r := start(t, opts, nil)
		r.peer.Private(wangID, onebottest.Text("看"), onebottest.ImageData(pngBytes))
		r.peer.Group(testGroup, strangeID, r.peer.ImageURL(t, "b.png", pngBytes))
		r.peer.Private(wangID, onebottest.Image())
		r.peer.SentElsewhere("group", 0, testGroup, r.peer.ImageURL(t, "c.png", pngBytes))
		r.rec.wait(t, "3 messages and 1 own", func() bool { return len(r.rec.received) == 3 && len(r.rec.sent) == 1 })
		for i, want := range []string{"看[图片]", "[图片]", "[图片]"} {
			in := r.rec.received[i]
			if in.Content != want {
				t.Errorf("message %d: content %q, want %q", i, in.Content, want)
			}
			if i == 2 {
				if in.Media != nil {
					t.Errorf("message %d: media %+v from nowhere", i, in.Media)
				}
				continue
			}
			if in.Media == nil || !bytes.Equal(in.Media.Data, pngBytes) || in.Media.Mime != "image/png" || in.Media.Type != media.TypeImage {
				t.Errorf("message %d: media %+v, want the picture's bytes", i, in.Media)
			}
			if !strings.Contains(string(in.Raw), `"image"`) {
				t.Errorf("message %d: raw %s without the image segment", i, in.Raw)
			}
		}
		if s := r.rec.sent[0]; s.Content != "[图片]" || s.Media == nil || !bytes.Equal(s.Media.Data, pngBytes) {
			t.Errorf("own message %+v, want its picture", s)
		}
	})
}

// A picture over MEDIA_MAX is not read.
func TestReceivePictureTooLarge(t *testing.T) {
	r := start(t, peerOptions(onebottest.NapCat), func(c *Config) { c.MediaMax = 100 })
	r.peer.Private(wangID, r.peer.ImageURL(t, "big.png", pngBytes))
	r.peer.Private(wangID, onebottest.ImageData(pngBytes))
	r.rec.wait(t, "2 messages", func() bool { return len(r.rec.received) == 2 })
	for i, in := range r.rec.received {
		if in.Content != "[图片]" || in.Media != nil {
			t.Errorf("message %d: %+v, want [图片] without media", i, in)
		}
	}
}
