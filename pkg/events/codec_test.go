package events

import (
	"bytes"
	"testing"
)

func TestMarshalListIsMarshal(t *testing.T) {
	groups := []Group{
		{ID: 1, Name: "PERL学习交流 <&>", Memo: "line one\nline two", Member: []GroupMember{{ID: 2, Name: "灰灰", Card: "a\"b"}}},
		{ID: 3, Name: "空群", Member: []GroupMember{}},
	}
	for _, tc := range []struct {
		name string
		got  func() ([]byte, error)
		want any
	}{
		{"groups", func() ([]byte, error) { return MarshalList(groups, 0) }, groups},
		{"groups with a size hint", func() ([]byte, error) { return MarshalList(groups, 1<<16) }, groups},
		{"empty", func() ([]byte, error) { return MarshalList([]Friend{}, 10) }, []Friend{}},
		{"nil", func() ([]byte, error) { return MarshalList[Friend](nil, 0) }, []Friend{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if err != nil {
				t.Fatal(err)
			}
			want := MustMarshal(tc.want)
			if !bytes.Equal(got, want) {
				t.Errorf("MarshalList:\n got %s\nwant %s", got, want)
			}
		})
	}
}

func BenchmarkMarshalList(b *testing.B) {
	members := make([]GroupMember, 200)
	for i := range members {
		members[i] = GroupMember{ID: int64(i), Name: "王伟", City: "北京", Province: "北京", Country: "中国", Role: "member"}
	}
	groups := make([]Group, 100)
	for i := range groups {
		groups[i] = Group{ID: int64(i), Name: "测试群", Member: members}
	}
	size := len(MustMarshal(groups))
	b.Run("Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = Marshal(groups)
		}
	})
	b.Run("MarshalList", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = MarshalList(groups, size)
		}
	})
}
