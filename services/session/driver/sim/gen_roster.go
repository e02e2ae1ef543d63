//go:build ignore

// gen_roster writes default_roster.json, the simulated account's built-in roster:
//
//	go run gen_roster.go > default_roster.json
//
// It is deterministic, so the ids in the README and the tests stay put.
package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/roster"
)

var (
	surnames  = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	givens    = []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "小明", "小红", "晓东", "子涵", "欣怡", "浩然", "梓轩", "雨桐", "一诺", "思远", "嘉怡", "宇航", "俊杰"}
	cities    = [][2]string{{"北京", "北京"}, {"上海", "上海"}, {"广东", "深圳"}, {"广东", "广州"}, {"浙江", "杭州"}, {"四川", "成都"}, {"辽宁", "大连"}, {"湖北", "武汉"}, {"江苏", "南京"}, {"陕西", "西安"}}
	cardWords = []string{"运维", "前端", "后端", "产品", "测试", "学生", "老司机", "潜水员"}
)

type person struct {
	id, uid  int64
	name     string
	sex      string
	province string
	city     string
}

func main() {
	r := rand.New(rand.NewPCG(20161108, 5000))
	people := make([]person, 400)
	for i := range people {
		c := cities[r.IntN(len(cities))]
		sex := "male"
		if r.IntN(2) == 0 {
			sex = "female"
		}
		people[i] = person{
			id:       2372835507 + int64(i)*7919,
			uid:      456789 + int64(i)*131,
			name:     string(surnames[r.IntN(len(surnames))]) + givens[r.IntN(len(givens))],
			sex:      sex,
			province: c[0],
			city:     c[1],
		}
	}
	me := events.User{
		Account: "1234567", Birthday: "1990-01-01", Blood: 3, City: "北京", ClientType: "web",
		Constel: 9, Country: "中国", Face: 522, ID: 4072574066, Mobile: "188********", Name: "小灰",
		Occupation: "计算机/互联网/IT", Personal: "这是我的个性签名", Province: "北京", Sex: "male",
		Shengxiao: 7, Signature: "Hello openqq", State: "online", UID: 1234567,
	}
	ro := roster.Roster{User: me}

	categories := []string{"我的好友", "我的家人", "我的同学", "同事"}
	marks := map[int]string{0: "老王", 2: "表妹", 5: "班长"}
	for i := 0; i < 16; i++ {
		p := people[i]
		ro.Friends = append(ro.Friends, events.Friend{
			Category: categories[i%len(categories)], ClientType: []string{"web", "mobile", "pc"}[r.IntN(3)],
			Face: 100 + r.IntN(500), Flag: []int{0, 8, 16, 32}[i%4], ID: p.id, IsVIP: i % 3 / 2,
			Markname: marks[i], Name: p.name, State: []string{"online", "offline", "away"}[r.IntN(3)],
			UID: p.uid, VIPLevel: i % 3 / 2 * (1 + r.IntN(7)),
		})
	}

	self := events.GroupMember{
		Card: "群主小灰", City: me.City, ClientType: "web", Country: "中国", ID: me.ID,
		JoinTime: 1420070400, LastSpeakTime: 1479787946, Level: 5, Name: me.Name, Province: me.Province,
		Qage: 8, Sex: me.Sex, State: "online", UID: me.UID,
	}
	member := func(p person, role string) events.GroupMember {
		card := ""
		if r.IntN(3) == 0 {
			card = cardWords[r.IntN(len(cardWords))] + "-" + p.name
		}
		return events.GroupMember{
			BadRecord: r.IntN(2) * r.IntN(3), Card: card, City: p.city, ClientType: "unknown",
			Country: "中国", ID: p.id, JoinTime: 1400000000 + int64(r.IntN(80000000)),
			LastSpeakTime: 1453449884 + int64(r.IntN(30000000)), Level: 1 + r.IntN(6), Name: p.name,
			Province: p.province, Qage: 1 + r.IntN(15), Role: role, Sex: p.sex,
			State: []string{"online", "offline"}[r.IntN(2)], UID: p.uid,
		}
	}
	group := func(id, uid int64, name, markname, role string, owner int, admins []int, others []int) events.Group {
		g := events.Group{
			Code: uid*10 + 7, Createtime: 1300000000 + uid%1000*86400, ID: id, Level: 3,
			Markname: markname, MaxAdmin: 10, MaxMember: 2000, Memo: name + "的群公告：文明交流，禁止刷屏。",
			Name: name, Role: role, UID: uid,
		}
		me := self
		switch role {
		case events.GroupRoleCreate:
			me.Role = events.MemberRoleOwner
			g.OwnerID, g.OwnerUID = self.ID, self.UID
		case events.GroupRoleManage:
			me.Role = events.MemberRoleAdmin
		default:
			me.Role = events.MemberRoleMember
		}
		g.Member = append(g.Member, me)
		if owner >= 0 {
			g.Member = append(g.Member, member(people[owner], events.MemberRoleOwner))
			g.OwnerID, g.OwnerUID = people[owner].id, people[owner].uid
		}
		for _, a := range admins {
			g.Member = append(g.Member, member(people[a], events.MemberRoleAdmin))
		}
		for _, o := range others {
			g.Member = append(g.Member, member(people[o], events.MemberRoleMember))
		}
		for _, m := range g.Member {
			if m.Role == events.MemberRoleAdmin || m.Role == events.MemberRoleOwner {
				g.AdminCount++
			}
		}
		g.MemberCount = len(g.Member)
		return g
	}
	span := func(from, to int) []int {
		var s []int
		for i := from; i < to; i++ {
			s = append(s, i)
		}
		return s
	}
	ro.Groups = []events.Group{
		group(2617047292, 67890, "PERL学习交流", "", events.GroupRoleManage, 16, []int{17, 18}, append(span(0, 8), span(19, 318)...)),
		group(2617055211, 67891, "openqq开发组", "开发组", events.GroupRoleCreate, -1, []int{1}, append([]int{2, 3, 4}, span(320, 336)...)),
		group(2617063130, 67892, "周末爬山群", "", events.GroupRoleAttend, 340, []int{341}, span(342, 400)),
	}

	dm := func(p person) events.DiscussMember {
		return events.DiscussMember{ClientType: "unknown", ID: p.id, Name: p.name, State: "offline", UID: p.uid}
	}
	ro.Discusses = []events.Discuss{{
		ID: 4118239384, Name: "周末聚餐", OwnerID: me.ID,
		Member: []events.DiscussMember{
			{ClientType: "web", ID: me.ID, Name: me.Name, State: "online", UID: me.UID},
			dm(people[0]), dm(people[1]), dm(people[400-1]),
		},
	}}
	if err := ro.Validate(); err != nil {
		panic(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ro); err != nil {
		panic(err)
	}
}
