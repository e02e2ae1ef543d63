package wx

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

// Every shape encodes to Mojo-Weixin's keys, byte for byte.
func TestShapes(t *testing.T) {
	for _, c := range shapeCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := events.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("encoded\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// Reports read back as they were written, through Decode: messages as *Message, events as
// *events.Event.
func TestDecodeRoundTrip(t *testing.T) {
	for _, c := range shapeCases() {
		var want events.Item
		switch v := c.v.(type) {
		case *Message:
			want = v
		case *events.Event:
			want = v
		default:
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			got, err := Decode([]byte(c.want))
			if err != nil {
				t.Fatal(err)
			}
			if got.Name() != want.Name() {
				t.Errorf("Name() = %q, want %q", got.Name(), want.Name())
			}
			if m, ok := want.(*Message); ok {
				if !reflect.DeepEqual(got, m) {
					t.Errorf("decoded %+v, want %+v", got, m)
				}
				return
			}
			again, err := events.Marshal(got)
			if err != nil || string(again) != c.want {
				t.Errorf("re-encoded %s (%v), want %s", again, err, c.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, in := range []string{``, `[]`, `{}`, `{"post_type":"nope"}`, `{"post_type":"receive_message","id":5}`, `{"post_type":"event","params":{}}`} {
		if it, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%s) = %+v, want an error", in, it)
		}
	}
}

// A QQ report is no WeChat one: its numeric ids do not decode as a wx.Message (the shared
// events.DecodeItem reads QQ's).
func TestDecodeQQMessage(t *testing.T) {
	qq := `{"class":"recv","content":"x","id":23910327,"post_type":"receive_message","time":1,"type":"friend_message","sender":"a","sender_id":2372835507,"sender_uid":1}`
	if _, err := Decode([]byte(qq)); err == nil {
		t.Error("a QQ message decoded as a WeChat one")
	}
}

// Objects decode from the seed's examples, and encode with the derived displayname.
func TestObjectsFromTheSeed(t *testing.T) {
	seed := `{"account":"wxzhifu","name":"微信支付","category":"公众号","markname":"","sex":"none","display":"","city":"","signature":"帮助","province":"广东","id":"@efc5f86c30df4b9c80e98ac428e0e257","uid":"123456","displayname":"微信支付"}`
	var f Friend
	if err := json.Unmarshal([]byte(seed), &f); err != nil {
		t.Fatal(err)
	}
	if f.Category != CategoryOfficial || f.ID != "@efc5f86c30df4b9c80e98ac428e0e257" || f.DisplayName() != "微信支付" {
		t.Errorf("decoded %+v", f)
	}
	var g Group
	if err := json.Unmarshal([]byte(`{"name":"","id":"@@d","displayname":"甲、乙"}`), &g); err != nil {
		t.Fatal(err)
	}
	if g.DisplayName() != "甲、乙" {
		t.Errorf("a basic group decoded without members lost its displayname: %q", g.DisplayName())
	}
}

func TestDisplayNames(t *testing.T) {
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"display first", (&Member{Display: "d", Markname: "m", Name: "n"}).DisplayName(), "d"},
		{"then markname", (&Friend{Markname: "m", Name: "n"}).DisplayName(), "m"},
		{"then name", (&User{Name: "n"}).DisplayName(), "n"},
		{"then 昵称未知", (&Friend{}).DisplayName(), UnknownNickname},
		{"group: name", (&Group{Name: "g", Member: []Member{{Name: "a"}}}).DisplayName(), "g"},
		{"group: three members", (&Group{Member: []Member{{Name: "a"}, {Display: "b"}, {Markname: "c"}, {Name: "d"}}}).DisplayName(), "a、b、c"},
		{"group: 群名未知", (&Group{}).DisplayName(), UnknownGroupName},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestIDs(t *testing.T) {
	for id, want := range map[string]bool{"@@abc": true, "123@chatroom": true, "@abc": false, FileHelperID: false, "": false} {
		if IsGroupID(id) != want {
			t.Errorf("IsGroupID(%q) = %v", id, !want)
		}
	}
	id := JoinMsgID("2273934420223351581", "@@g:x")
	msg, peer, ok := SplitMsgID(id)
	if !ok || msg != "2273934420223351581" || peer != "@@g:x" {
		t.Errorf("SplitMsgID(%q) = %q, %q, %v", id, msg, peer, ok)
	}
	for _, bad := range []string{"", "123", ":@a", "123:"} {
		if _, _, ok := SplitMsgID(bad); ok {
			t.Errorf("SplitMsgID(%q) succeeded", bad)
		}
	}
}

func TestMediaTypeOf(t *testing.T) {
	for mime, want := range map[string]string{
		"image/jpeg": MediaImage, "image/gif": MediaEmoticon, "video/mp4": MediaVideo, "audio/mpeg": MediaVoice,
		"application/pdf": MediaFile, "": MediaFile,
	} {
		if got := MediaTypeOf(mime); got != want {
			t.Errorf("MediaTypeOf(%q) = %q, want %q", mime, got, want)
		}
		if _, ok := MediaCodes[MediaTypeOf(mime)]; !ok {
			t.Errorf("no media code for %q", MediaTypeOf(mime))
		}
	}
}

func TestNames(t *testing.T) {
	got := CheckEventNames(true, append(DefaultPostEventList, EventUpdateFriend, events.EventGroupPropertyChange))
	want := []string{FriendMessage, GroupMessage, GroupNotice, events.EventNewGroup, events.EventNewFriend, events.EventNewGroupMember,
		events.EventLoseGroup, events.EventLoseFriend, events.EventLoseGroupMember, events.EventFriendRequest, events.EventGroupPropertyChange}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CheckEventNames = %v, want %v", got, want)
	}
	if got := ReportedNames(false, DefaultPostEventList); !reflect.DeepEqual(got, MessageTypes) {
		t.Errorf("ReportedNames(post_event=0) = %v", got)
	}
}

// Decode never panics, and what it decodes encodes again.
func FuzzDecode(f *testing.F) {
	for _, c := range shapeCases() {
		f.Add([]byte(c.want))
	}
	f.Add([]byte(`{"post_type":"send_message","media_data":"!!"}`))
	f.Add([]byte(`{"post_type":"event","event":"login","params":[1]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := Decode(data)
		if err != nil {
			return
		}
		if _, err := events.Marshal(it); err != nil {
			t.Errorf("%s decoded to %+v, which does not encode: %v", data, it, err)
		}
	})
}

// An injection as a test or a curl writes it: media bytes in base64, an app's fields flat.
func TestInjectionDecodes(t *testing.T) {
	var in Injection
	body := `{"type":"group_message","group_id":"@@g","sender_id":"@a","format":"media","media_name":"cat.jpg","media_mime":"image/jpeg","media_data":"/9j/4A=="}`
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if in.Type != GroupMessage || in.GroupID != "@@g" || in.Format != FormatMedia || string(in.MediaData) != "\xff\xd8\xff\xe0" || in.App != nil {
		t.Errorf("decoded %+v", in)
	}
	in = Injection{}
	body = `{"type":"friend_message","sender_id":"@a","format":"app","app_title":"t","app_url":"https://x","event":""}`
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	if in.App == nil || in.App.Title != "t" || in.App.URL != "https://x" || in.Card != nil {
		t.Errorf("decoded %+v", in)
	}
	if err := json.Unmarshal([]byte(`{"media_data":"not base64!"}`), &Injection{}); err == nil {
		t.Error("media_data that is not base64 was taken")
	}
}
