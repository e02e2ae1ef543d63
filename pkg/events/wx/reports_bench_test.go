package wx

import (
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

// BenchmarkEncodeReport encodes the reports the WeChat session stores for every message (the
// engine's publisher calls events.Marshal on each), with the same run's baseline: QQ's
// receive_message report of the same message, which the QQ rows of `make bench` are measured
// with. A media message is stored with the media's fields only; "media+data-1MB" encodes the
// same report with 1 MB of bytes in media_data, the cost (ns/op, B/op) the stream does not pay
// because the bytes stay in the media store and only the reporter reads them, as a stream.
func BenchmarkEncodeReport(b *testing.B) {
	friend := &Friend{Account: "", Category: CategoryFriend, City: "深圳", Name: "小灰", Province: "广东",
		Sex: SexMale, ID: "@00227d73fa6b8326f69bca419db7a05c", UID: "123456"}
	user := &User{Account: "openwx", City: "北京", ID: "@me8f1c2d", Name: "小白", Province: "北京", Sex: SexFemale}
	text := &Message{
		Class: events.ClassRecv, Content: "你好，今天一起吃饭吗？", Format: FormatText, ID: "2273934420223351581",
		PostType: events.PostReceiveMessage, Source: SourceLocal, Time: 1442542632, Type: FriendMessage,
		Sender: FriendSender(friend), Receiver: UserReceiver(user),
	}
	media := *text
	media.Format, media.Content = FormatMedia, MediaContent("image", "/tmp/mojo_weixin_media_Ja9l.jpg")
	media.Media = &Media{Code: 3, Ext: "jpg", ID: "2273934420223351584:3", Mime: "image/jpeg", Mtime: 1462763788,
		Name: "mojo_weixin_media_Ja9l.jpg", Path: "/tmp/mojo_weixin_media_Ja9l.jpg", Size: 1 << 20, Type: "image"}
	withData := media
	m := *media.Media
	m.Data = make([]byte, 1<<20)
	withData.Media = &m
	qq := &events.Message{
		Class: events.ClassRecv, Content: text.Content, ID: 1796168289335672, PostType: events.PostReceiveMessage,
		Time: 1442542632, Type: events.FriendMessage,
		Sender:   &events.Sender{Name: "小灰", ID: 4072574066, UID: 1234567},
		Receiver: &events.Receiver{Name: "小白", ID: 2372835507, UID: 456789},
	}
	for _, c := range []struct {
		name string
		item any
	}{
		{"baseline-qq-text", qq},
		{"text", text},
		{"media", &media},
		{"media+data-1MB", &withData},
	} {
		b.Run(c.name, func(b *testing.B) {
			body, err := events.Marshal(c.item)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := events.Marshal(c.item); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
