package scenario

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/roster"
)

// LargeRoster is a roster of groups×members members with every field filled in, as a busy
// account's would be. It is deterministic.
func LargeRoster(groups, members int) *roster.Roster {
	r := rand.New(rand.NewPCG(6, 2017))
	surnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁")
	givens := []string{"伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "子涵", "欣怡", "浩然", "梓轩"}
	cities := [][2]string{{"北京", "北京"}, {"上海", "上海"}, {"广东", "深圳"}, {"浙江", "杭州"}, {"四川", "成都"}, {"湖北", "武汉"}}
	name := func() string { return string(surnames[r.IntN(len(surnames))]) + givens[r.IntN(len(givens))] }
	me := events.User{
		Account: "1234567", Birthday: "1990-01-01", Blood: 3, City: "北京", ClientType: "web",
		Constel: 9, Country: "中国", Face: 522, ID: 4072574066, Mobile: "188********", Name: "小灰",
		Occupation: "计算机/互联网/IT", Personal: "这是我的个性签名", Province: "北京", Sex: "male",
		Shengxiao: 7, Signature: "Hello openqq", State: "online", UID: 1234567,
	}
	ro := &roster.Roster{User: me}
	for i := range 20 {
		ro.Friends = append(ro.Friends, events.Friend{
			Category: "我的好友", ClientType: "pc", Face: 100 + i, ID: 3_000_000_000 + int64(i),
			Name: name(), State: "online", UID: 500_000 + int64(i),
		})
	}
	for g := range groups {
		grp := events.Group{
			AdminCount: 3, Code: 1_000_000 + int64(g), Createtime: 1420070400 + int64(g)*86400,
			ID: 2_600_000_000 + int64(g), Level: 1 + g%5, MaxAdmin: 10, MaxMember: 2000,
			Memo: "群公告：欢迎新人，请先阅读群规", Name: fmt.Sprintf("测试群%03d", g),
			OwnerID: me.ID, OwnerUID: me.UID, Role: events.GroupRoleCreate, UID: 60_000 + int64(g),
		}
		for m := range members {
			c := cities[r.IntN(len(cities))]
			role := events.MemberRoleMember
			if m < 3 {
				role = events.MemberRoleAdmin
			}
			card := ""
			if r.IntN(3) == 0 {
				card = "运维-" + name()
			}
			grp.Member = append(grp.Member, events.GroupMember{
				Card: card, City: c[1], ClientType: []string{"web", "mobile", "pc"}[r.IntN(3)],
				Country: "中国", ID: 2_000_000_000 + int64(g)*int64(members) + int64(m),
				JoinTime: 1420070400 + int64(r.IntN(1e8)), LastSpeakTime: 1479787946 - int64(r.IntN(1e7)),
				Level: 1 + r.IntN(6), Name: name(), Province: c[0], Qage: r.IntN(15), Role: role,
				Sex: []string{"male", "female"}[r.IntN(2)], State: []string{"online", "offline", "away"}[r.IntN(3)],
				UID: 1_000_000 + int64(g)*int64(members) + int64(m),
			})
		}
		ro.Groups = append(ro.Groups, grp)
	}
	return ro
}

// writeRoster writes ro as a SIM_ROSTER file after checking it as the session will.
func writeRoster(dir string, ro *roster.Roster) (string, error) {
	if err := ro.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(ro)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "roster.json")
	return path, os.WriteFile(path, b, 0o644)
}
