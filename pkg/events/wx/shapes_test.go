package wx

import (
	"github.com/openqq/openqq/pkg/events"
)

// Fixtures shared by the tests: the seed's examples where it has them.

func friendXiaohui() Friend {
	return Friend{Account: "", Category: CategoryFriend, City: "深圳", ID: "@00227d73fa6b8326f69bca419db7a05c",
		Name: "小灰", Province: "广东", Sex: SexMale, Signature: "小灰灰的个性签名", UID: "123456"}
}

func memberOf(id, name, display string) Member {
	return Member{ID: id, Name: name, Display: display, Sex: SexFemale, UID: ""}
}

func groupPerl() Group {
	return Group{ID: "@@2617047292", Name: "PERL学习交流", OwnerUID: "", UID: "123456", Member: []Member{
		memberOf("@adadada", "灰灰", ""), memberOf("@dadada", "小红", "群昵称"),
	}}
}

func recvGroupText() *Message {
	return &Message{
		Class: events.ClassRecv, Content: "测试一下 <&>", Format: FormatText, From: "", ID: "10856",
		PostType: events.PostReceiveMessage, Source: SourceLocal, Time: 1442542632, Type: GroupMessage,
		Sender:   &Sender{Name: "灰灰", ID: "@2372835507", Nickname: "灰灰", UID: "123456"},
		Receiver: &Receiver{Name: "小灰", Account: "xiaohui", ID: "@4072574066", Nickname: "小灰", UID: "123456"},
		GroupRef: &GroupRef{Name: "PERL学习交流", ID: "@@2617047292", Nickname: "PERL学习交流", UID: "123456"},
	}
}
