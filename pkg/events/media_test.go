package events

import "testing"

// A QQ text message's report is byte for byte what it was before pictures (a 2017 bot must
// not notice); a picture's report adds format and Openwx's media fields, and media_data only
// when the reporter sets it.
func TestMarshalMessageMediaExact(t *testing.T) {
	picture := friendMessage()
	picture.Content = PictureContent
	picture.Format = FormatMedia
	picture.Media = &Media{Code: 3, Ext: "png", ID: "K1:3", Mime: "image/png", Mtime: 1479787947,
		Name: "cat.png", Path: "cat.png", Size: 68, Type: "image"}
	withData := *picture
	data := *picture.Media
	data.Data = []byte{0x89, 'P', 'N', 'G'}
	withData.Media = &data
	tests := []struct {
		name string
		m    *Message
		want string
	}{
		{"text friend message unchanged", friendMessage(),
			`{"class":"recv","content":"你好\n","id":23910328,"post_type":"receive_message","time":1479787947,"type":"friend_message","sender":"老王","sender_id":2372835507,"sender_uid":456789,"receiver":"小灰","receiver_id":4072574066,"receiver_uid":1234567}`},
		{"text sent message unchanged", sentMessage(),
			`{"class":"send","content":"收到","id":23910330,"post_type":"send_message","time":1479787949,"type":"group_message","from":"api","sender":"小灰","sender_id":4072574066,"sender_uid":1234567,"receiver":"","receiver_id":0,"receiver_uid":0,"group":"openqq测试群","group_id":2617047292,"group_uid":123456,"code":0,"info":"发送正常","msg":"发送成功","status":"发送成功"}`},
		{"picture", picture,
			`{"class":"recv","content":"[图片]","id":23910328,"post_type":"receive_message","time":1479787947,"type":"friend_message","format":"media","sender":"老王","sender_id":2372835507,"sender_uid":456789,"receiver":"小灰","receiver_id":4072574066,"receiver_uid":1234567,"media_code":3,"media_ext":"png","media_id":"K1:3","media_mime":"image/png","media_mtime":1479787947,"media_name":"cat.png","media_path":"cat.png","media_size":68,"media_type":"image"}`},
		{"picture with media_data", &withData,
			`{"class":"recv","content":"[图片]","id":23910328,"post_type":"receive_message","time":1479787947,"type":"friend_message","format":"media","sender":"老王","sender_id":2372835507,"sender_uid":456789,"receiver":"小灰","receiver_id":4072574066,"receiver_uid":1234567,"media_code":3,"media_data":"iVBORw==","media_ext":"png","media_id":"K1:3","media_mime":"image/png","media_mtime":1479787947,"media_name":"cat.png","media_path":"cat.png","media_size":68,"media_type":"image"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", b, tc.want)
			}
			// and it decodes back to the same report
			it, err := DecodeItem(b)
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := Marshal(it); string(b2) != tc.want {
				t.Errorf("decoded and encoded again:\n%s", b2)
			}
		})
	}
}
