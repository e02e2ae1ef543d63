package roster

import (
	"testing"

	"github.com/openqq/openqq/pkg/events"
)

func TestPropertyFields(t *testing.T) {
	u := &events.User{Name: "我", Signature: "签名"}
	f := &events.Friend{Name: "张三", Markname: "老张"}
	g := &events.Group{Name: "群", Markname: "备注"}
	m := &events.GroupMember{Name: "甲", Card: "名片", Role: "admin"}
	tests := []struct {
		name string
		got  *string
		want *string // nil: no such property
	}{
		{"user name", UserField(u, PropertyName), &u.Name},
		{"user signature", UserField(u, PropertySignature), &u.Signature},
		{"user card", UserField(u, PropertyCard), nil},
		{"friend name", FriendField(f, PropertyName), &f.Name},
		{"friend markname", FriendField(f, PropertyMarkname), &f.Markname},
		{"friend role", FriendField(f, PropertyRole), nil},
		{"group name", GroupField(g, PropertyName), &g.Name},
		{"group markname", GroupField(g, PropertyMarkname), &g.Markname},
		{"group signature", GroupField(g, PropertySignature), nil},
		{"member name", MemberField(m, PropertyName), &m.Name},
		{"member card", MemberField(m, PropertyCard), &m.Card},
		{"member role", MemberField(m, PropertyRole), &m.Role},
		{"member markname", MemberField(m, PropertyMarkname), nil},
		{"unknown", MemberField(m, "id"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("field %p, want %p", tc.got, tc.want)
			}
		})
	}
	for role, want := range map[string]bool{"owner": true, "admin": true, "member": true, "": false, "attend": false} {
		if ValidRole(role) != want {
			t.Errorf("ValidRole(%q) = %v", role, !want)
		}
	}
}
