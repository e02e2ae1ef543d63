package sim

import (
	"fmt"
	"math/rand/v2"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxroster"
)

// The accounts of the built-in roster that tests and the README name. Their ids change at
// every login; their accounts and names do not.
const (
	XiaoiceAccount = "ms-xiaoice" // 小冰, an official account that answers everything
	PayAccount     = "wxzhifu"    // 微信支付, an official account
	UserName       = "小灰"         // the account's own name
	// OwnGroupName is a group the account created (its owner): it may invite, kick, rename.
	OwnGroupName = "openwx测试群"
)

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁")
	givens   = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "小明", "小红", "晓东", "子涵", "欣怡", "浩然"}
	places   = [][2]string{{"北京", "海淀"}, {"上海", "浦东"}, {"广东", "深圳"}, {"广东", "广州"}, {"浙江", "杭州"}, {"四川", "成都"}, {"湖北", "武汉"}, {"江苏", "南京"}}
	sigs     = []string{"", "", "今天也要加油", "佛系青年", "代码改变世界", "在路上"}
)

// defaultRoster generates the built-in roster: the user; friends (people, three official
// accounts and the file assistant); three groups with members, some of them not friends.
// It is deterministic but for the ids, which the first login renews anyway.
func defaultRoster() *wxroster.Roster {
	r := rand.New(rand.NewPCG(20161117, 3000))
	ro := &wxroster.Roster{User: wx.User{
		Account: "xiaohui", City: "深圳", ID: newContactID(), Name: UserName, Province: "广东",
		Sex: wx.SexMale, Signature: "Hello openwx", UID: "1234567",
	}}
	people := make([]wx.Member, 40)
	for i := range people {
		p := places[r.IntN(len(places))]
		sex := wx.SexMale
		if r.IntN(2) == 0 {
			sex = wx.SexFemale
		}
		people[i] = wx.Member{
			ID: newContactID(), Name: string(surnames[r.IntN(len(surnames))]) + givens[r.IntN(len(givens))],
			Province: p[0], City: p[1], Sex: sex, Signature: sigs[r.IntN(len(sigs))], UID: fmt.Sprint(456789 + i*131),
		}
		if i%4 == 0 {
			people[i].Account = fmt.Sprintf("wxid_sim%03d", i)
		}
	}
	marks := map[int]string{0: "老王", 3: "表妹", 7: "班长"}
	ro.Friends = append(ro.Friends,
		wx.Friend{ID: wx.FileHelperID, Name: "文件传输助手", Category: wx.CategorySystem},
		wx.Friend{ID: newContactID(), Account: PayAccount, Name: "微信支付", Category: wx.CategoryOfficial,
			Province: "广东", City: "深圳", Signature: "帮助解决微信支付中遇到的困难,收集关于微信支付的建议反馈。"},
		wx.Friend{ID: newContactID(), Account: XiaoiceAccount, Name: "小冰", Category: wx.CategoryOfficial,
			Province: "北京", City: "海淀", Signature: "我是人工智能微软小冰,我回来了,吼吼~~"},
		wx.Friend{ID: newContactID(), Account: "weixingongzuo", Name: "微信团队", Category: wx.CategoryOfficial,
			Signature: "微信团队官方帐号"},
	)
	// People 0..19 are friends; 20..39 are met only in groups.
	for i := range 20 {
		p := people[i]
		ro.Friends = append(ro.Friends, wx.Friend{
			Account: p.Account, Category: wx.CategoryFriend, City: p.City, ID: p.ID, Markname: marks[i],
			Name: p.Name, Province: p.Province, Sex: p.Sex, Signature: p.Signature, UID: p.UID,
		})
	}
	self := wx.Member{Account: ro.User.Account, City: ro.User.City, ID: ro.User.ID, Name: ro.User.Name,
		Province: ro.User.Province, Sex: ro.User.Sex, Signature: ro.User.Signature, UID: ro.User.UID}
	group := func(name, ownerUID string, idx []int) wx.Group {
		g := wx.Group{ID: newGroupID(), Name: name, OwnerUID: ownerUID, UID: fmt.Sprint(9000000 + len(ro.Groups)), Member: []wx.Member{self}}
		for _, i := range idx {
			m := people[i]
			if i%5 == 1 {
				m.Display = "群昵称" + m.Name
			}
			g.Member = append(g.Member, m)
		}
		return g
	}
	ro.Groups = append(ro.Groups,
		// The account owns this one; members 0..4 are friends, 20..27 are not.
		group(OwnGroupName, ro.User.UID, []int{0, 1, 2, 3, 4, 20, 21, 22, 23, 24, 25, 26, 27}),
		group("PERL学习交流", people[5].UID, []int{5, 6, 7, 28, 29, 30, 31, 32}),
		// No name: its displayname is made of its first members' names.
		group("", people[8].UID, []int{8, 33, 34, 35}),
	)
	return ro
}

// newContactID makes a contact id of the form WeChat gives: "@" and 32 hex digits.
func newContactID() string { return fmt.Sprintf("@%016x%016x", rand.Uint64(), rand.Uint64()) }

// newGroupID makes a group id: "@@" and 64 hex digits.
func newGroupID() string {
	return fmt.Sprintf("@@%016x%016x%016x%016x", rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64())
}

// newID is what RenewIDs takes.
func newID(group bool) string {
	if group {
		return newGroupID()
	}
	return newContactID()
}
