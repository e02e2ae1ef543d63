package wx

import (
	"reflect"
	"testing"
)

func TestDerive(t *testing.T) {
	f := Friend{Account: "a", Category: CategoryOfficial, ID: "@f", Markname: "备注", Name: "昵称", UID: "1"}
	m := Member{ID: "@m", Name: "成员", Display: "群昵称"}
	u := User{ID: "@u", Name: "小灰", Account: "xiaohui"}
	g := Group{ID: "@@g", Member: []Member{m}, UID: "9"}
	cases := []struct {
		name string
		got  any
		want any
	}{
		{"friend sender: displayname, nickname, category", FriendSender(&f), &Sender{Name: "备注", Account: "a", Category: CategoryOfficial, ID: "@f", Markname: "备注", Nickname: "昵称", UID: "1"}},
		{"member sender: no category", MemberSender(&m), &Sender{Name: "群昵称", ID: "@m", Nickname: "成员"}},
		{"user sender", UserSender(&u), &Sender{Name: "小灰", Account: "xiaohui", ID: "@u", Nickname: "小灰"}},
		{"friend receiver", FriendReceiver(&f), &Receiver{Name: "备注", Account: "a", ID: "@f", Markname: "备注", Nickname: "昵称", UID: "1"}},
		{"user receiver", UserReceiver(&u), &Receiver{Name: "小灰", Account: "xiaohui", ID: "@u", Nickname: "小灰"}},
		{"group: derived displayname, empty name", GroupRefOf(&g), &GroupRef{Name: "群昵称", ID: "@@g", Nickname: "", UID: "9"}},
		{"image content", MediaContent(MediaImage, "/tmp/a.jpg"), "[图片](/tmp/a.jpg)"},
		{"voice content", MediaContent(MediaVoice, "/tmp/a.mp3"), "[语音](/tmp/a.mp3)"},
		{"unknown type", MediaContent("x", "p"), "[media](p)"},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
	for typ := range MediaCodes {
		if _, ok := mediaLabels[typ]; !ok {
			t.Errorf("media type %s has no label", typ)
		}
	}
}
