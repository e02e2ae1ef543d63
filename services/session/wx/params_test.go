package wx

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxroster"
)

func TestIDList(t *testing.T) {
	for _, c := range []struct {
		name string
		p    events.Params
		want []string
		bad  bool
	}{
		{"HEAD's friends", events.Params{"friends": "@a,@b"}, []string{"@a", "@b"}, false},
		{"the seed's friend", events.Params{"friend": "@a"}, []string{"@a"}, false},
		{"friends wins", events.Params{"friends": "@a", "friend": "@b"}, []string{"@a"}, false},
		{"blanks and repeats go", events.Params{"friends": " @a , ,@a,@b,"}, []string{"@a", "@b"}, false},
		{"none", events.Params{}, nil, false},
		{"empty", events.Params{"friends": ""}, nil, false},
		{"at the cap", events.Params{"friends": "1,2,3"}, []string{"1", "2", "3"}, false},
		{"over the cap", events.Params{"friends": "1,2,3,4"}, nil, true},
	} {
		got, err := idList(c.p, 3, "friends", "friend")
		if (err != nil) != c.bad || !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, %v; want %v (error %v)", c.name, got, err, c.want, c.bad)
		}
	}
}

func TestStickOp(t *testing.T) {
	for _, c := range []struct {
		p   events.Params
		on  bool
		bad bool
	}{
		{events.Params{}, true, false},
		{events.Params{"op": "1"}, true, false},
		{events.Params{"op": " 0 "}, false, false},
		{events.Params{"op": ""}, false, true},
		{events.Params{"op": "2"}, false, true},
		{events.Params{"op": "yes"}, false, true},
	} {
		on, err := stickOp(c.p)
		if on != c.on || (err != nil) != c.bad {
			t.Errorf("op %v: %v, %v", c.p, on, err)
		}
	}
}

func TestConsultTimeoutParam(t *testing.T) {
	for _, c := range []struct {
		raw   string
		given bool
		want  time.Duration
		bad   bool
	}{
		{"", false, 30 * time.Second, false},
		{"", true, 30 * time.Second, false},
		{"5", true, 5 * time.Second, false},
		{"0.5", true, 500 * time.Millisecond, false},
		{"300", true, 300 * time.Second, false},
		{"301", true, 0, true},
		{"0", true, 0, true},
		{"-1", true, 0, true},
		{"abc", true, 0, true},
		{"Inf", true, 0, true},
		{"NaN", true, 0, true},
	} {
		got, err := wx.ConsultTimeout(c.raw, c.given)
		if got != c.want || (err != nil) != c.bad {
			t.Errorf("timeout %q: %v, %v", c.raw, got, err)
		}
	}
}

// FuzzWxParams feeds the readers of the routes' params and the send targets' lookups any
// params: they never panic, and what they accept is within their bounds.
func FuzzWxParams(f *testing.F) {
	f.Add("friends", "@a,@b,@a", "1", "30", "1234:@a", "@a", "老王", "")
	f.Add("friend", " , ,", "0", "0.25", "12345", "@@g", "", "media")
	f.Add("members", strings.Repeat("@x,", 200), "2", "-1", ":@a", "", "PERL学习交流", "data")
	f.Add("member", "@\u0000,\xff", "", "NaN", "1:", "@@g", "x", "")
	f.Add("id", "@all", " 1", "1e9", "a:b:c", "filehelper", "文件传输助手", "path")
	ro := &wxroster.Roster{
		User:    wx.User{ID: "@me", Name: "我"},
		Friends: []wx.Friend{{ID: "@a", Name: "老王", Markname: "老王"}, {ID: "filehelper", Name: "文件传输助手"}},
		Groups:  []wx.Group{{ID: "@@g", Name: "PERL学习交流", Member: []wx.Member{{ID: "@a", Name: "老王"}}}},
	}
	f.Fuzz(func(t *testing.T, key, list, op, timeout, msgID, id, name, media string) {
		p := events.Params{key: list, "op": op, "id": id, "displayname": name, "markname": name, "media_" + media: list}
		ids, err := idList(p, 100, key, "friend")
		if err == nil {
			if len(ids) > 100 {
				t.Fatalf("%d ids over the cap", len(ids))
			}
			seen := map[string]bool{}
			for _, x := range ids {
				if x == "" || x != strings.TrimSpace(x) || strings.Contains(x, ",") || seen[x] {
					t.Fatalf("id %q in %q", x, ids)
				}
				seen[x] = true
			}
		} else if st, ok := err.(*events.Status); !ok || st.Code == 0 {
			t.Fatalf("idList error %v is not a clear reply", err)
		}
		if _, err := stickOp(p); err != nil && strings.TrimSpace(op) == "1" {
			t.Fatalf("op %q refused", op)
		}
		if d, err := wx.ConsultTimeout(timeout, true); err == nil && (d <= 0 || d > wx.ConsultMaxTimeout) {
			t.Fatalf("timeout %q read as %v", timeout, d)
		}
		if m, peer, ok := wx.SplitMsgID(msgID); ok && wx.JoinMsgID(m, peer) != msgID {
			t.Fatalf("%q split as %q, %q", msgID, m, peer)
		}
		if tg, ok := friendTarget(ro, p); ok && (tg.id != id && id != "" || tg.typ != wx.FriendMessage) {
			t.Fatalf("friend %+v found for id %q", tg, id)
		}
		if tg, ok := groupTarget(ro, p); ok && (tg.id != id && id != "" || !wx.IsGroupID(tg.id)) {
			t.Fatalf("group %+v found for id %q", tg, id)
		}
		_ = hasMedia(p)
	})
}
