package wx

import (
	"github.com/openqq/openqq/pkg/events"
)

func must(e *events.Event, err error) *events.Event {
	if err != nil {
		panic(err)
	}
	return e
}

// shapeCases are every shape of the package, each with the exact bytes it encodes to.
func shapeCases() []struct {
	name string
	v    any
	want string
} {
	fh := Friend{ID: FileHelperID, Name: "文件传输助手", Category: CategorySystem}
	pay := Friend{Account: "wxzhifu", Category: CategoryOfficial, ID: "@efc5f86c30df4b9c80e98ac428e0e257", Name: "微信支付", Province: "广东",
		Signature: "帮助解决微信支付中遇到的困难,收集关于微信支付的建议反馈。"}
	marked := friendXiaohui()
	marked.Markname = "灰灰备注"
	nameless := Member{ID: "@m"}
	unnamed := groupPerl()
	unnamed.Name = ""
	empty := Group{ID: "@@e", Member: []Member{}}

	friendText := &Message{
		Class: events.ClassRecv, Content: "你好", Format: FormatText, ID: "2273934420223351581",
		PostType: events.PostReceiveMessage, Source: SourceLocal, Time: 1442542632, Type: FriendMessage,
		Sender:   &Sender{Name: "灰灰备注", Category: CategoryFriend, ID: "@a", Markname: "灰灰备注", Nickname: "灰灰", UID: ""},
		Receiver: &Receiver{Name: "小灰", ID: "@me", Nickname: "小灰"},
	}
	notice := &Message{
		Class: events.ClassRecv, Content: "你邀请灰太狼加入了群聊", Format: FormatText, ID: "10857",
		PostType: events.PostReceiveMessage, Source: SourceLocal, Time: 1442542633, Type: GroupNotice,
		Receiver: &Receiver{Name: "小灰", ID: "@me", Nickname: "小灰"},
		GroupRef: &GroupRef{Name: "PERL学习交流", ID: "@@2617047292", Nickname: "PERL学习交流"},
	}
	sentReply := &Message{
		Class: events.ClassSend, Content: "你好", Format: FormatText, From: FromReply, ID: "2273934420223351582:@a",
		PostType: events.PostSendMessage, Source: SourceLocal, Time: 1442542634, Type: FriendMessage,
		Sender:     &Sender{Name: "小灰", ID: "@me", Nickname: "小灰"},
		Receiver:   &Receiver{Name: "灰灰", ID: "@a", Nickname: "灰灰"},
		SendResult: &SendResult{Code: 0, Info: SendOK, Msg: SendOK, Status: SendOK, TTL: 5},
	}
	sentGroupOuter := &Message{
		Class: events.ClassSend, Content: "手机上发的", Format: FormatText, From: "", ID: "2273934420223351583:@@2617047292",
		PostType: events.PostSendMessage, Source: SourceOuter, Time: 1442542635, Type: GroupMessage,
		Sender:     &Sender{Name: "小灰", ID: "@me", Nickname: "小灰"},
		GroupRef:   &GroupRef{Name: "PERL学习交流", ID: "@@2617047292", Nickname: "PERL学习交流"},
		SendResult: &SendResult{Code: 0, Info: StatusOuter, Msg: StatusOuter, Status: StatusOuter},
	}
	image := &Media{Code: 3, Ext: "jpg", ID: "2273934420223351584:3", Mime: "image/jpeg", Mtime: 1462763788,
		Name: "mojo_weixin_media_Ja9l.jpg", Path: "/tmp/mojo_weixin_media_Ja9l.jpg", Size: 4, Type: MediaImage}
	withData := *image
	withData.Data = []byte{0xff, 0xd8, 0xff, 0xe0}
	media := func(m *Media) *Message {
		return &Message{
			Class: events.ClassRecv, Content: "[图片](/tmp/mojo_weixin_media_Ja9l.jpg)", Format: FormatMedia, ID: "2273934420223351584",
			PostType: events.PostReceiveMessage, Source: SourceLocal, Time: 1462763788, Type: FriendMessage,
			Sender:   &Sender{Name: "灰灰", Category: CategoryFriend, ID: "@a", Nickname: "灰灰"},
			Receiver: &Receiver{Name: "小灰", ID: "@me", Nickname: "小灰"},
			Media:    m,
		}
	}
	other := func(format, content string, set func(*Message)) *Message {
		m := &Message{
			Class: events.ClassRecv, Content: content, Format: format, ID: "9",
			PostType: events.PostReceiveMessage, Source: SourceLocal, Time: 1, Type: FriendMessage,
			Sender:   &Sender{Name: "灰灰", Category: CategoryOfficial, ID: "@a", Nickname: "灰灰"},
			Receiver: &Receiver{Name: "小灰", ID: "@me", Nickname: "小灰"},
		}
		set(m)
		return m
	}
	return []struct {
		name string
		v    any
		want string
	}{
		{"user", User{Account: "xiaohui", ID: "@efc5", Name: "小灰", Sex: SexMale, UID: "123"},
			`{"account":"xiaohui","city":"","display":"","displayname":"小灰","id":"@efc5","markname":"","name":"小灰","province":"","sex":"male","signature":"","uid":"123"}`},
		{"friend", friendXiaohui(),
			`{"account":"","category":"好友","city":"深圳","display":"","displayname":"小灰","id":"@00227d73fa6b8326f69bca419db7a05c","markname":"","name":"小灰","province":"广东","sex":"male","signature":"小灰灰的个性签名","uid":"123456"}`},
		{"friend with markname: displayname is the markname", marked,
			`{"account":"","category":"好友","city":"深圳","display":"","displayname":"灰灰备注","id":"@00227d73fa6b8326f69bca419db7a05c","markname":"灰灰备注","name":"小灰","province":"广东","sex":"male","signature":"小灰灰的个性签名","uid":"123456"}`},
		{"official account", pay,
			`{"account":"wxzhifu","category":"公众号","city":"","display":"","displayname":"微信支付","id":"@efc5f86c30df4b9c80e98ac428e0e257","markname":"","name":"微信支付","province":"广东","sex":"","signature":"帮助解决微信支付中遇到的困难,收集关于微信支付的建议反馈。","uid":""}`},
		{"file assistant", fh,
			`{"account":"","category":"系统帐号","city":"","display":"","displayname":"文件传输助手","id":"filehelper","markname":"","name":"文件传输助手","province":"","sex":"","signature":"","uid":""}`},
		{"member without a name", nameless,
			`{"account":"","city":"","display":"","displayname":"昵称未知","id":"@m","markname":"","name":"","province":"","sex":"","signature":"","uid":""}`},
		{"group", groupPerl(),
			`{"displayname":"PERL学习交流","id":"@@2617047292","member":[{"account":"","city":"","display":"","displayname":"灰灰","id":"@adadada","markname":"","name":"灰灰","province":"","sex":"female","signature":"","uid":""},{"account":"","city":"","display":"群昵称","displayname":"群昵称","id":"@dadada","markname":"","name":"小红","province":"","sex":"female","signature":"","uid":""}],"name":"PERL学习交流","owner_uid":"","uid":"123456"}`},
		{"group without a name: its members' names", unnamed,
			`{"displayname":"灰灰、群昵称","id":"@@2617047292","member":[{"account":"","city":"","display":"","displayname":"灰灰","id":"@adadada","markname":"","name":"灰灰","province":"","sex":"female","signature":"","uid":""},{"account":"","city":"","display":"群昵称","displayname":"群昵称","id":"@dadada","markname":"","name":"小红","province":"","sex":"female","signature":"","uid":""}],"name":"","owner_uid":"","uid":"123456"}`},
		{"basic group keeps the derived displayname", unnamed.Basic(),
			`{"displayname":"灰灰、群昵称","id":"@@2617047292","name":"","owner_uid":"","uid":"123456"}`},
		{"group without name or members", empty,
			`{"displayname":"群名未知","id":"@@e","member":[],"name":"","owner_uid":"","uid":""}`},

		{"received group text", recvGroupText(),
			`{"class":"recv","content":"测试一下 <&>","format":"text","from":"","id":"10856","post_type":"receive_message","source":"local","time":1442542632,"type":"group_message","uid":"","sender":"灰灰","sender_account":"","sender_id":"@2372835507","sender_markname":"","sender_name":"灰灰","sender_uid":"123456","receiver":"小灰","receiver_account":"xiaohui","receiver_id":"@4072574066","receiver_markname":"","receiver_name":"小灰","receiver_uid":"123456","group":"PERL学习交流","group_id":"@@2617047292","group_name":"PERL学习交流","group_uid":"123456"}`},
		{"received friend text, with sender_category", friendText,
			`{"class":"recv","content":"你好","format":"text","from":"","id":"2273934420223351581","post_type":"receive_message","source":"local","time":1442542632,"type":"friend_message","uid":"","sender":"灰灰备注","sender_account":"","sender_category":"好友","sender_id":"@a","sender_markname":"灰灰备注","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":""}`},
		{"group notice: no sender", notice,
			`{"class":"recv","content":"你邀请灰太狼加入了群聊","format":"text","from":"","id":"10857","post_type":"receive_message","source":"local","time":1442542633,"type":"group_notice","uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":"","group":"PERL学习交流","group_id":"@@2617047292","group_name":"PERL学习交流","group_uid":""}`},
		{"sent friend message, a post_api reply", sentReply,
			`{"class":"send","content":"你好","format":"text","from":"reply","id":"2273934420223351582:@a","post_type":"send_message","source":"local","time":1442542634,"type":"friend_message","uid":"","sender":"小灰","sender_account":"","sender_id":"@me","sender_markname":"","sender_name":"小灰","sender_uid":"","receiver":"灰灰","receiver_account":"","receiver_id":"@a","receiver_markname":"","receiver_name":"灰灰","receiver_uid":"","code":0,"info":"success","msg":"success","status":"success","ttl":5}`},
		{"group message sent from the phone: no receiver", sentGroupOuter,
			`{"class":"send","content":"手机上发的","format":"text","from":"","id":"2273934420223351583:@@2617047292","post_type":"send_message","source":"outer","time":1442542635,"type":"group_message","uid":"","sender":"小灰","sender_account":"","sender_id":"@me","sender_markname":"","sender_name":"小灰","sender_uid":"","group":"PERL学习交流","group_id":"@@2617047292","group_name":"PERL学习交流","group_uid":"","code":0,"info":"来自其他设备","msg":"来自其他设备","status":"来自其他设备","ttl":0}`},
		{"media, as stored (no media_data)", media(image),
			`{"class":"recv","content":"[图片](/tmp/mojo_weixin_media_Ja9l.jpg)","format":"media","from":"","id":"2273934420223351584","post_type":"receive_message","source":"local","time":1462763788,"type":"friend_message","uid":"","sender":"灰灰","sender_account":"","sender_category":"好友","sender_id":"@a","sender_markname":"","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":"","media_code":3,"media_ext":"jpg","media_id":"2273934420223351584:3","media_mime":"image/jpeg","media_mtime":1462763788,"media_name":"mojo_weixin_media_Ja9l.jpg","media_path":"/tmp/mojo_weixin_media_Ja9l.jpg","media_size":4,"media_type":"image"}`},
		{"media, as posted (media_data in base64)", media(&withData),
			`{"class":"recv","content":"[图片](/tmp/mojo_weixin_media_Ja9l.jpg)","format":"media","from":"","id":"2273934420223351584","post_type":"receive_message","source":"local","time":1462763788,"type":"friend_message","uid":"","sender":"灰灰","sender_account":"","sender_category":"好友","sender_id":"@a","sender_markname":"","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":"","media_code":3,"media_data":"/9j/4A==","media_ext":"jpg","media_id":"2273934420223351584:3","media_mime":"image/jpeg","media_mtime":1462763788,"media_name":"mojo_weixin_media_Ja9l.jpg","media_path":"/tmp/mojo_weixin_media_Ja9l.jpg","media_size":4,"media_type":"image"}`},
		{"app", other(FormatApp, "[应用分享]标题:饿了么给你发红包", func(m *Message) {
			m.App = &App{Desc: "撩拨你的深夜味蕾,第2份半价!", ID: "wx123456", Name: "饿了么", Title: "饿了么给你发红包", URL: "https://h.ele.me/hongbao?a=1&b=2"}
		}),
			`{"class":"recv","content":"[应用分享]标题:饿了么给你发红包","format":"app","from":"","id":"9","post_type":"receive_message","source":"local","time":1,"type":"friend_message","uid":"","sender":"灰灰","sender_account":"","sender_category":"公众号","sender_id":"@a","sender_markname":"","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":"","app_desc":"撩拨你的深夜味蕾,第2份半价!","app_id":"wx123456","app_name":"饿了么","app_title":"饿了么给你发红包","app_url":"https://h.ele.me/hongbao?a=1&b=2"}`},
		{"revoke", other(FormatRevoke, "[撤回消息](1234)", func(m *Message) { m.Revoke = &Revoke{ID: "1234"} }),
			`{"class":"recv","content":"[撤回消息](1234)","format":"revoke","from":"","id":"9","post_type":"receive_message","source":"local","time":1,"type":"friend_message","uid":"","sender":"灰灰","sender_account":"","sender_category":"公众号","sender_id":"@a","sender_markname":"","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":"","revoke_id":"1234"}`},
		{"card", other(FormatCard, "[名片](小冰)", func(m *Message) {
			m.Card = &Card{Account: "ms-xiaoice", Avatar: "", City: "海淀", ID: "@x", Name: "小冰", Province: "北京", Sex: SexFemale}
		}),
			`{"class":"recv","content":"[名片](小冰)","format":"card","from":"","id":"9","post_type":"receive_message","source":"local","time":1,"type":"friend_message","uid":"","sender":"灰灰","sender_account":"","sender_category":"公众号","sender_id":"@a","sender_markname":"","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":"","card_account":"ms-xiaoice","card_avatar":"","card_city":"海淀","card_id":"@x","card_name":"小冰","card_province":"北京","card_sex":"female"}`},
		{"payment", other(FormatPayment, "[转账](收到转账0.01元)", func(*Message) {}),
			`{"class":"recv","content":"[转账](收到转账0.01元)","format":"payment","from":"","id":"9","post_type":"receive_message","source":"local","time":1,"type":"friend_message","uid":"","sender":"灰灰","sender_account":"","sender_category":"公众号","sender_id":"@a","sender_markname":"","sender_name":"灰灰","sender_uid":"","receiver":"小灰","receiver_account":"","receiver_id":"@me","receiver_markname":"","receiver_name":"小灰","receiver_uid":""}`},

		{"new_friend", must(NewFriendEvent(fh)),
			`{"event":"new_friend","params":[{"account":"","category":"系统帐号","city":"","display":"","displayname":"文件传输助手","id":"filehelper","markname":"","name":"文件传输助手","province":"","sex":"","signature":"","uid":""}],"post_type":"event"}`},
		{"lose_friend", must(LoseFriendEvent(Friend{ID: "@a", Name: "a"})),
			`{"event":"lose_friend","params":[{"account":"","category":"","city":"","display":"","displayname":"a","id":"@a","markname":"","name":"a","province":"","sex":"","signature":"","uid":""}],"post_type":"event"}`},
		{"new_group: always with its member key", must(NewGroupEvent(Group{ID: "@@g", Name: "g"})),
			`{"event":"new_group","params":[{"displayname":"g","id":"@@g","member":[],"name":"g","owner_uid":"","uid":""}],"post_type":"event"}`},
		{"lose_group", must(LoseGroupEvent(Group{ID: "@@g", Name: "g", Member: []Member{{ID: "@m", Name: "m"}}})),
			`{"event":"lose_group","params":[{"displayname":"g","id":"@@g","member":[{"account":"","city":"","display":"","displayname":"m","id":"@m","markname":"","name":"m","province":"","sex":"","signature":"","uid":""}],"name":"g","owner_uid":"","uid":""}],"post_type":"event"}`},
		{"new_group_member [member, group]", must(NewGroupMemberEvent(Member{ID: "@m", Name: "m"}, Group{ID: "@@g", Name: "g"})),
			`{"event":"new_group_member","params":[{"account":"","city":"","display":"","displayname":"m","id":"@m","markname":"","name":"m","province":"","sex":"","signature":"","uid":""},{"displayname":"g","id":"@@g","member":[],"name":"g","owner_uid":"","uid":""}],"post_type":"event"}`},
		{"lose_group_member", must(LoseGroupMemberEvent(Member{ID: "@m"}, Group{ID: "@@g"})),
			`{"event":"lose_group_member","params":[{"account":"","city":"","display":"","displayname":"昵称未知","id":"@m","markname":"","name":"","province":"","sex":"","signature":"","uid":""},{"displayname":"群名未知","id":"@@g","member":[],"name":"","owner_uid":"","uid":""}],"post_type":"event"}`},
		{"friend_property_change [obj, prop, old, new]", must(PropertyChangeEvent(EventFriendPropertyChange, Friend{ID: "@a", Name: "a", Markname: "新"}, "markname", "", "新")),
			`{"event":"friend_property_change","params":[{"account":"","category":"","city":"","display":"","displayname":"新","id":"@a","markname":"新","name":"a","province":"","sex":"","signature":"","uid":""},"markname","","新"],"post_type":"event"}`},
		{"user_property_change", must(PropertyChangeEvent(EventUserPropertyChange, User{ID: "@u", Name: "u", Signature: "s2"}, "signature", "s1", "s2")),
			`{"event":"user_property_change","params":[{"account":"","city":"","display":"","displayname":"u","id":"@u","markname":"","name":"u","province":"","sex":"","signature":"s2","uid":""},"signature","s1","s2"],"post_type":"event"}`},
		{"friend_request [id, displayname, verify, ticket]", must(FriendRequestEvent(FriendRequest{ID: "@s", Displayname: "陌生人", Verify: "我是<陌生人>", Ticket: "v2_abc@stranger"})),
			`{"event":"friend_request","params":["@s","陌生人","我是<陌生人>","v2_abc@stranger"],"post_type":"event"}`},
		{"update_user", must(UpdateUserEvent(User{ID: "@u", Name: "u"})),
			`{"event":"update_user","params":[{"account":"","city":"","display":"","displayname":"u","id":"@u","markname":"","name":"u","province":"","sex":"","signature":"","uid":""}],"post_type":"event"}`},
		{"update_friend: a flat list", must(UpdateFriendEvent([]Friend{{ID: "@a", Name: "a"}, {ID: "@b", Name: "b"}})),
			`{"event":"update_friend","params":[{"account":"","category":"","city":"","display":"","displayname":"a","id":"@a","markname":"","name":"a","province":"","sex":"","signature":"","uid":""},{"account":"","category":"","city":"","display":"","displayname":"b","id":"@b","markname":"","name":"b","province":"","sex":"","signature":"","uid":""}],"post_type":"event"}`},
		{"update_group", must(UpdateGroupEvent([]Group{{ID: "@@g", Name: "g"}})),
			`{"event":"update_group","params":[{"displayname":"g","id":"@@g","member":[],"name":"g","owner_uid":"","uid":""}],"post_type":"event"}`},
		{"update_friend of nobody", must(UpdateFriendEvent(nil)), `{"event":"update_friend","params":[],"post_type":"event"}`},
		{"login after a QR scan", must(LoginEvent(true)), `{"event":"login","params":[1],"post_type":"event"}`},
		{"login with the cookie", must(LoginEvent(false)), `{"event":"login","params":[0],"post_type":"event"}`},
		{"login failed", must(LoginFailedEvent("此微信号不能登录网页微信")), `{"event":"login","params":[-1,"此微信号不能登录网页微信"],"post_type":"event"}`},

		{"send reply: id and msg_id", NewSendReply("2273934420223351581:@a"),
			`{"code":0,"id":"2273934420223351581:@a","msg_id":"2273934420223351581:@a","status":"success"}`},
		{"media send reply", NewSendReply("1:@@g").WithMedia("m-123"),
			`{"code":0,"id":"1:@@g","media_id":"m-123","msg_id":"1:@@g","status":"success"}`},
		{"send refused by WeChat", NewSendFailure("1:@a", 1205, ""),
			`{"code":1205,"id":"1:@a","msg_id":"1:@a","status":"unknown error"}`},
		{"send failed before an id", NewSendFailure("", 1, "发送失败"),
			`{"code":1,"id":null,"msg_id":null,"status":"发送失败"}`},
		{"send target not found", ErrSendNotFound, `{"code":100,"id":null,"msg_id":null,"status":"object not found"}`},
		{"send without content or media", ErrNoContent, `{"code":106,"id":null,"msg_id":null,"status":"content and media empty"}`},
		{"@all", NewAllSentReply(), `{"code":0,"id":0,"msg_id":0,"status":"request already executed"}`},
		{"consult answered", NewConsultReply("1:@x", "哈哈,有什么事情"),
			`{"code":0,"id":"1:@x","msg_id":"1:@x","status":"success","reply":"哈哈,有什么事情"}`},
		{"consult timed out", NewConsultTimeout("1:@x"),
			`{"code":0,"id":"1:@x","msg_id":"1:@x","status":"success","reply":null,"reply_status":"reply timeout"}`},
		{"revoke success", NewRevokeReply("1:@a", true), `{"code":0,"id":"1:@a","status":"revoke success"}`},
		{"revoke failure is not code 0", NewRevokeReply("1:@a", false), `{"code":201,"id":"1:@a","status":"revoke failure"}`},
		{"revoke without id", ErrMsgIDNotFound, `{"code":-1,"id":null,"status":"msg id not found"}`},
		{"create_group", NewCreateGroupReply("@@new"), `{"code":0,"group_id":"@@new","status":"success"}`},
		{"create_group failure", ErrCreateFailure, `{"code":201,"id":null,"status":"failure"}`},
		{"get_avatar not found", ErrAvatarNotFound, `{"code":100,"id":null,"status":"object not found"}`},
		{"friend id empty", ErrFriendIDEmpty, `{"code":200,"status":"friend id empty"}`},
		{"member id empty", ErrMemberIDEmpty, `{"code":200,"status":"member id empty"}`},
		{"friend id not found", ErrFriendIDNotFound("@x"), `{"code":100,"status":"friend id @x not found"}`},
		{"member id not found", ErrMemberIDNotFound("@x"), `{"code":100,"status":"member id @x not found"}`},
		{"group not found", ErrGroupNotFound, `{"code":100,"status":"group not found"}`},
		{"make_friend yourself", ErrYourself, `{"code":101,"status":"can not be yourself"}`},
		{"make_friend a friend", ErrAlreadyFriend, `{"code":101,"status":"already a friend"}`},
		{"accept_friend_request", NewAcceptReply(FriendRequest{ID: "@s", Displayname: "陌生人", Verify: "x", Ticket: "t"}),
			`{"code":0,"displayname":"陌生人","id":"@s","status":"success","ticket":"t"}`},
		{"accept_friend_request failure", ErrAcceptFailure, `{"code":-1,"status":"failure"}`},
		{"unsupported by the driver", Unsupported("ilink"), `{"code":202,"status":"not supported by this account's driver (ilink)"}`},
		{"upload_media", NewUploadReply(withData),
			`{"code":0,"media_ext":"jpg","media_id":"2273934420223351584:3","media_code":3,"media_mime":"image/jpeg","media_mtime":1462763788,"media_name":"mojo_weixin_media_Ja9l.jpg","media_path":"/tmp/mojo_weixin_media_Ja9l.jpg","media_size":4,"status":"success","media_type":"image"}`},
		{"get_client_info", &ClientInfo{Account: "default", Code: 0, HTTPDebug: "0", LogLevel: "info", OS: "linux", PID: 15497, Runtime: 3096, Starttime: 1475135588, Status: "success", Version: "1.4.6"},
			`{"account":"default","code":0,"http_debug":"0","log_encoding":null,"log_level":"info","log_path":"","os":"linux","pid":15497,"runtime":3096,"starttime":1475135588,"status":"success","version":"1.4.6"}`},
		{"stop_client", NewStopReply("default", 15972, 1475136637, 30),
			`{"account":"default","code":0,"pid":15972,"runtime":30,"starttime":1475136637,"status":"success, client(15972) will stop in 3 seconds"}`},
		{"inject reply", &InjectReply{Code: 0, ID: "@new", Status: "success", Ticket: "v2"}, `{"code":0,"id":"@new","status":"success","ticket":"v2"}`},
		{"injection of a media message", &Injection{Type: FriendMessage, SenderID: "@a", Format: FormatMedia, MediaName: "a.jpg", MediaMime: "image/jpeg", MediaData: []byte{0xff, 0xd8}},
			`{"type":"friend_message","format":"media","sender_id":"@a","media_name":"a.jpg","media_mime":"image/jpeg","media_data":"/9g="}`},
		{"injection of an app message", &Injection{Type: GroupMessage, GroupID: "@@g", SenderID: "@a", Format: FormatApp, App: &App{Title: "t", URL: "https://x"}},
			`{"type":"group_message","format":"app","sender_id":"@a","group_id":"@@g","app_desc":"","app_id":"","app_name":"","app_title":"t","app_url":"https://x"}`},
	}
}
