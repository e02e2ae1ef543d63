package face

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Part
	}{
		{"empty", "", nil},
		{"text", "hello", []Part{{Text: "hello"}}},
		{"face", "[微笑]", []Part{{Text: "[微笑]", Face: true, ID: 14}}},
		{"around", "a[微笑]b", []Part{{Text: "a"}, {Text: "[微笑]", Face: true, ID: 14}, {Text: "b"}}},
		{"not a face", "[不是表情]", []Part{{Text: "[不是表情]"}}},
		{"nested", "[[微笑]]", []Part{{Text: "["}, {Text: "[微笑]", Face: true, ID: 14}, {Text: "]"}}},
		{"unclosed", "[微笑", []Part{{Text: "[微笑"}}},
		{"unopened", "微笑]", []Part{{Text: "微笑]"}}},
		{"two", "[惊讶][强]", []Part{{Text: "[惊讶]", Face: true, ID: 0}, {Text: "[强]", Face: true, ID: 76}}},
		{"later name", "[赞]", []Part{{Text: "[赞]", Face: true, ID: 76}}},
		{"emoji", "😀[微笑]😀", []Part{{Text: "😀"}, {Text: "[微笑]", Face: true, ID: 14}, {Text: "😀"}}},
		{"empty brackets", "[]", []Part{{Text: "[]"}}},
		{"cq code", "[CQ:face,id=14]", []Part{{Text: "[CQ:face,id=14]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parse(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}

func TestTableRoundTrip(t *testing.T) {
	if len(IDs()) < 105 {
		t.Fatalf("table has %d faces, want Mojo's 105 at least", len(IDs()))
	}
	for _, id := range IDs() {
		n, _ := Name(id)
		got, ok := ID(n)
		if !ok || got != id {
			t.Errorf("ID(%q) = %d, %v; want %d", n, got, ok, id)
		}
		if Text(id) != "["+n+"]" {
			t.Errorf("Text(%d) = %q", id, Text(id))
		}
	}
	if Text(9999) != Unknown {
		t.Errorf("Text(9999) = %q, want %q", Text(9999), Unknown)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "[微笑]", "a[[微笑]]b", "[不是表情]", "[", "]", "[[", "😀[赞", "[CQ:face,id=1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		for _, p := range Parse(s) {
			if p.Text == "" {
				t.Fatalf("empty part in %q", s)
			}
			if p.Face {
				if id, ok := ID(strings.Trim(p.Text, "[]")); !ok || id != p.ID {
					t.Fatalf("face part %+v of %q", p, s)
				}
			}
			b.WriteString(p.Text)
		}
		if b.String() != s {
			t.Fatalf("parts of %q join to %q", s, b.String())
		}
	})
}
