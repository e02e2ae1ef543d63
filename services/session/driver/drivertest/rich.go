package drivertest

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/face"
	"github.com/openqq/openqq/services/session/internal/conformance"
)

// Faces: every face name of the table in content goes out as that face, text that only looks
// like one stays text, and every received face comes back as its [name].
func testFaces(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.Faces, "Faces")
	r.start(t)
	acc := account[RichAccount](t, r, "Faces")
	out := driver.Outgoing{Type: events.FriendMessage, TargetID: r.fx.Friend, Content: "drivertest: [微笑][不是表情][赞]"}
	if err := r.d.Send(context.Background(), out); err != nil {
		t.Fatalf("Send(%+v): %v", out, err)
	}
	if faces, _ := acc.LastSent(t); !slices.Equal(faces, []int{14, 76}) {
		t.Errorf("faces at the far side %v, want [14 76] (微笑, 赞)", faces)
	}
	if sent := acc.Sent(t); len(sent) == 0 || !strings.Contains(sent[len(sent)-1].Content, "[不是表情]") {
		t.Errorf("[不是表情] did not reach the far side as text: %+v", sent)
	}

	var all strings.Builder
	for _, id := range face.IDs() {
		all.WriteString(face.Text(id))
	}
	out.Content = all.String()
	if err := r.d.Send(context.Background(), out); err != nil {
		t.Fatalf("Send(every face): %v", err)
	}
	if faces, _ := acc.LastSent(t); !slices.Equal(faces, face.IDs()) {
		t.Errorf("every face sent: the far side got %v, want %v", faces, face.IDs())
	}
	in := driver.Incoming{Type: events.GroupMessage, SenderID: r.fx.Member, GroupID: r.fx.Group, Content: "drivertest: 表情"}
	acc.ReceiveFaces(t, in, face.IDs())
	in.Content += all.String()
	r.waitReceived(t, in)
}

// drivertestPicture is a picture's bytes: a PNG header, then enough to be more than a line.
var drivertestPicture = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("drivertest"), 200)...)

// Media: a picture goes out with its bytes, with the text or alone, and a received one comes
// in with its bytes and [图片] in content.
func testMedia(t *testing.T, h Harness) {
	r := open(t, h)
	conformance.Require(t, r.caps.Media, "Media")
	r.start(t)
	acc := account[RichAccount](t, r, "Media")
	att := &media.Attachment{
		Meta: media.Meta{Type: media.TypeImage, Name: "drivertest.png", Mime: "image/png", Size: int64(len(drivertestPicture)), Ext: "png"},
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(drivertestPicture)), nil
		},
	}
	for _, content := range []string{"drivertest: 图", ""} {
		out := driver.Outgoing{Type: events.GroupMessage, TargetID: r.fx.Group, Content: content, Media: att}
		if err := r.d.Send(context.Background(), out); err != nil {
			t.Fatalf("Send(%+v): %v", out, err)
		}
		if _, pic := acc.LastSent(t); !bytes.Equal(pic, drivertestPicture) {
			t.Errorf("content %q: picture at the far side of %d bytes, want the %d sent", content, len(pic), len(drivertestPicture))
		}
	}
	in := driver.Incoming{Type: events.FriendMessage, SenderID: r.fx.Friend, Content: "drivertest: 看图"}
	acc.ReceivePicture(t, in, drivertestPicture)
	in.Content += "[图片]"
	r.waitReceived(t, in)
	r.rec.Snapshot(func() {
		i := slices.IndexFunc(r.rec.received, func(g driver.Incoming) bool { return matches(g, in) })
		m := r.rec.received[i].Media
		if m == nil {
			t.Error("received picture without its media")
			return
		}
		got, err := io.ReadAll(m.Open())
		if err != nil || !bytes.Equal(got, drivertestPicture) {
			t.Errorf("received picture of %d bytes (%v), want the %d sent", len(got), err, len(drivertestPicture))
		}
	})
}
