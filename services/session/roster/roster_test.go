package roster

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

// testRoster builds a small roster whose names collide on purpose, so that the tests can tell
// first-match from any-match and name from displayname. Each call returns a fresh copy.
//
//	friends  101 张三 (markname 老张, vip 6)   102 李四   103 张三   104 王五 (markname 李四)
//	groups   301 测试群 (markname 工作群, 3 members)   302 闲聊 (1 member)   303 工作群 (no members)
//	discuss  701 讨论组 (2 members)
func testRoster() *Roster {
	return &Roster{
		User: events.User{ID: 1000, UID: 2000, Name: "小灰", Account: "default"},
		Friends: []events.Friend{
			{ID: 101, UID: 201, Name: "张三", Markname: "老张", Category: "我的好友", IsVIP: 1, VIPLevel: 6, State: "online", ClientType: "pc", Face: 241},
			{ID: 102, UID: 202, Name: "李四", Category: "同事", State: "offline", ClientType: "web"},
			{ID: 103, UID: 203, Name: "张三", Category: "同事", State: "online", ClientType: "mobile"},
			{ID: 104, UID: 204, Name: "王五", Markname: "李四", Category: "我的家人", State: "away", ClientType: "pc", Flag: 8},
		},
		Groups: []events.Group{
			{
				ID: 301, UID: 401, Code: 501, Name: "测试群", Markname: "工作群", Role: events.GroupRoleCreate,
				Level: 2, MaxMember: 500, MaxAdmin: 10, AdminCount: 1, OwnerID: 1000, OwnerUID: 2000, Memo: "<公告>",
				MemberCount: 3,
				Member: []events.GroupMember{
					{ID: 1000, UID: 2000, Name: "小灰", Card: "群主", Role: events.MemberRoleOwner},
					{ID: 501, UID: 601, Name: "成员甲", Role: events.MemberRoleAdmin},
					{ID: 502, UID: 602, Name: "成员乙", Card: "乙卡", Role: events.MemberRoleMember},
				},
			},
			{
				ID: 302, UID: 402, Name: "闲聊", Role: events.GroupRoleAttend, OwnerID: 101, OwnerUID: 201,
				MemberCount: 1,
				Member:      []events.GroupMember{{ID: 101, UID: 201, Name: "张三", Role: events.MemberRoleOwner}},
			},
			{ID: 303, UID: 403, Name: "工作群", Role: events.GroupRoleManage, Member: []events.GroupMember{}},
		},
		Discusses: []events.Discuss{
			{ID: 701, Name: "讨论组", OwnerID: 101, Member: []events.DiscussMember{
				{ID: 801, UID: 901, Name: "甲", State: "online"},
				{ID: 802, UID: 902, Name: "乙", State: "offline"},
			}},
		},
	}
}

func TestTestRosterIsValid(t *testing.T) {
	r := testRoster()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("Decode(Marshal(testRoster())) differs:\n got %+v\nwant %+v", got, r)
	}
}

func loadDefaultRoster(t testing.TB) *Roster {
	t.Helper()
	f, err := os.Open("../driver/sim/default_roster.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := Decode(f)
	if err != nil {
		t.Fatalf("Decode(default_roster.json): %v", err)
	}
	return r
}

func TestDecodeDefaultRoster(t *testing.T) {
	r := loadDefaultRoster(t)
	if err := r.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if len(r.Friends) == 0 {
		t.Error("no friends")
	}
	if len(r.Groups) < 3 {
		t.Errorf("%d groups, want >= 3", len(r.Groups))
	}
	big := false
	for _, g := range r.Groups {
		if g.MemberCount != len(g.Member) {
			t.Errorf("group %d: member_count %d, %d members", g.ID, g.MemberCount, len(g.Member))
		}
		if len(g.Member) >= 300 {
			big = true
		}
	}
	if !big {
		t.Error("no group with >= 300 members")
	}
	if r.User.ID == 0 || r.User.Name == "" {
		t.Errorf("user = %+v, want an id and a name", r.User)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, r *Roster)
	}{
		{"lists absent", `{"user":{"id":1}}`, func(t *testing.T, r *Roster) {
			if r.Friends == nil || r.Groups == nil || r.Discusses == nil {
				t.Errorf("nil list after Decode: %+v", r)
			}
		}},
		{"lists null", `{"user":{"id":1},"friends":null,"groups":null,"discusses":null}`, func(t *testing.T, r *Roster) {
			if r.Friends == nil || r.Groups == nil || r.Discusses == nil {
				t.Errorf("nil list after Decode: %+v", r)
			}
		}},
		{"member lists null", `{"user":{"id":1},"groups":[{"id":5,"member":null}],"discusses":[{"id":7}]}`, func(t *testing.T, r *Roster) {
			if r.Groups[0].Member == nil {
				t.Error("group member list is nil")
			}
			if r.Discusses[0].Member == nil {
				t.Error("discuss member list is nil")
			}
			if r.Groups[0].MemberCount != 0 {
				t.Errorf("member_count = %d, want 0", r.Groups[0].MemberCount)
			}
		}},
		{"member_count from members", `{"user":{"id":1},"groups":[{"id":5,"member_count":99,"member":[{"id":1},{"id":2}]}]}`, func(t *testing.T, r *Roster) {
			if got := r.Groups[0].MemberCount; got != 2 {
				t.Errorf("member_count = %d, want 2", got)
			}
		}},
		{"largest id", `{"user":{"id":9007199254740991},"friends":[{"id":9007199254740991}]}`, func(t *testing.T, r *Roster) {
			if r.Friends[0].ID != 1<<53-1 {
				t.Errorf("id = %d", r.Friends[0].ID)
			}
		}},
		{"same id in different lists", `{"user":{"id":1},"friends":[{"id":1}],"groups":[{"id":1,"member":[{"id":1}]},{"id":2,"member":[{"id":1}]}],"discusses":[{"id":1,"member":[{"id":1}]}]}`, nil},
		{"chinese text", `{"user":{"id":1,"name":"小灰"},"friends":[{"id":2,"name":"老王","markname":"<王>&"}]}`, func(t *testing.T, r *Roster) {
			if r.User.Name != "小灰" || r.Friends[0].Markname != "<王>&" {
				t.Errorf("text mangled: %+v", r)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(strings.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

func TestDecodeRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"not JSON", `not json`},
		{"empty", ``},
		{"null", `null`},
		{"no user id", `{}`},
		{"unknown top-level field", `{"user":{"id":1},"foo":1}`},
		{"unknown user field", `{"user":{"id":1,"nickname":"x"}}`},
		{"unknown friend field", `{"user":{"id":1},"friends":[{"id":2,"nickname":"x"}]}`},
		{"unknown member field", `{"user":{"id":1},"groups":[{"id":2,"member":[{"id":3,"nick":"x"}]}]}`},
		{"string id", `{"user":{"id":1},"friends":[{"id":"2"}]}`},
		{"fractional id", `{"user":{"id":1},"friends":[{"id":2.5}]}`},
		{"duplicate friend id", `{"user":{"id":1},"friends":[{"id":2,"name":"a"},{"id":2,"name":"b"}]}`},
		{"duplicate group id", `{"user":{"id":1},"groups":[{"id":2},{"id":2}]}`},
		{"duplicate group member id", `{"user":{"id":1},"groups":[{"id":2,"member":[{"id":3},{"id":3}]}]}`},
		{"duplicate discuss id", `{"user":{"id":1},"discusses":[{"id":2},{"id":2}]}`},
		{"duplicate discuss member id", `{"user":{"id":1},"discusses":[{"id":2,"member":[{"id":3},{"id":3}]}]}`},
		{"user id 0", `{"user":{"id":0}}`},
		{"friend id 0", `{"user":{"id":1},"friends":[{"id":0}]}`},
		{"friend id absent", `{"user":{"id":1},"friends":[{"name":"x"}]}`},
		{"negative friend id", `{"user":{"id":1},"friends":[{"id":-5}]}`},
		{"friend id 2^53", `{"user":{"id":1},"friends":[{"id":9007199254740992}]}`},
		{"user id 2^53", `{"user":{"id":9007199254740992}}`},
		{"group id 0", `{"user":{"id":1},"groups":[{"id":0}]}`},
		{"group id 2^53", `{"user":{"id":1},"groups":[{"id":9007199254740992}]}`},
		{"group member id 0", `{"user":{"id":1},"groups":[{"id":2,"member":[{"id":0}]}]}`},
		{"group member id 2^53", `{"user":{"id":1},"groups":[{"id":2,"member":[{"id":9007199254740993}]}]}`},
		{"discuss id 0", `{"user":{"id":1},"discusses":[{"id":0}]}`},
		{"discuss member id 2^53", `{"user":{"id":1},"discusses":[{"id":2,"member":[{"id":9007199254740992}]}]}`},
		{"id beyond int64", `{"user":{"id":1},"friends":[{"id":99999999999999999999}]}`},
		// COMPAT.md keeps every id a JavaScript client reads below 2^53, uids too.
		{"friend uid 2^53", `{"user":{"id":1},"friends":[{"id":2,"uid":9007199254740992}]}`},
		{"group uid 2^53", `{"user":{"id":1},"groups":[{"id":2,"uid":9007199254740993}]}`},
		{"member uid negative", `{"user":{"id":1},"groups":[{"id":2,"member":[{"id":3,"uid":-1}]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decode(strings.NewReader(tc.in))
			if err == nil {
				t.Fatalf("Decode(%s) = %+v, want an error", tc.in, r)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Decode(%s) error %v does not wrap ErrInvalid", tc.in, err)
			}
			if r != nil {
				t.Errorf("Decode returned a roster with an error: %+v", r)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *Roster)
		ok     bool
	}{
		{"as built", func(*Roster) {}, true},
		{"nil lists", func(r *Roster) { r.Friends, r.Groups, r.Discusses = nil, nil, nil }, true},
		{"duplicate friend", func(r *Roster) { r.Friends = append(r.Friends, r.Friends[0]) }, false},
		{"duplicate member", func(r *Roster) { r.Groups[0].Member[1].ID = r.Groups[0].Member[0].ID }, false},
		{"discuss member id 0", func(r *Roster) { r.Discusses[0].Member[0].ID = 0 }, false},
		{"user id 2^53", func(r *Roster) { r.User.ID = 1 << 53 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRoster()
			tc.mutate(r)
			err := r.Validate()
			if tc.ok && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate = %v, want an ErrInvalid error", err)
			}
		})
	}
}
