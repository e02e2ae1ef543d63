package onebot

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/roster"
)

func TestContent(t *testing.T) {
	names := func(qq string) string { return map[string]string{"1": "甲"}[qq] + "?" }
	tests := []struct {
		name    string
		message string
		raw     string
		want    string
	}{
		{"text", `[{"type":"text","data":{"text":"你好\n"}}]`, "", "你好\n"},
		{"faces", `[{"type":"face","data":{"id":"14"}},{"type":"face","data":{"id":0}},{"type":"face","data":{"id":"9999"}}]`, "", "[微笑][惊讶][表情]"},
		{"media", `[{"type":"image","data":{}},{"type":"record","data":{}},{"type":"video","data":{}},{"type":"file","data":{}}]`, "", "[图片][语音][视频][文件]"},
		{"at", `[{"type":"at","data":{"qq":"all"}},{"type":"at","data":{"qq":"1"}},{"type":"at","data":{"qq":"2","name":"@乙"}}]`, "", "@全体成员@甲?@乙"},
		{"reply dropped", `[{"type":"reply","data":{"id":"5"}},{"type":"text","data":{"text":"hi"}}]`, "", "hi"},
		{"cards", `[{"type":"json","data":{}},{"type":"forward","data":{}},{"type":"newthing","data":{}}]`, "", "[卡片][合并转发][newthing]"},
		{"mface summary", `[{"type":"mface","data":{"summary":"[开心]"}},{"type":"mface","data":{}}]`, "", "[开心][表情]"},
		{"one segment", `{"type":"text","data":{"text":"solo"}}`, "", "solo"},
		{"CQ string", `"a&#91;b&#93;&amp;c[CQ:face,id=14][CQ:at,qq=all] d"`, "", "a[b]&c[微笑]@全体成员 d"},
		{"CQ escaped amp last", `"&amp;#91;"`, "", "&#91;"},
		{"CQ unclosed", `"x[CQ:face,id=1"`, "", "x[CQ:face,id=1"},
		{"raw_message fallback", `null`, "[CQ:image,file=a.jpg]看", "[图片]看"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := render(segments(json.RawMessage(tc.message), tc.raw), names); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContentMessage(t *testing.T) {
	for in, want := range map[string]string{
		"[CQ:at,qq=all] & <b>": `[{"type":"text","data":{"text":"[CQ:at,qq=all] \u0026 \u003cb\u003e"}}]`,
		"hi[微笑]!":              `[{"type":"text","data":{"text":"hi"}},{"type":"face","data":{"id":"14"}},{"type":"text","data":{"text":"!"}}]`,
		"[不是表情]":               `[{"type":"text","data":{"text":"[不是表情]"}}]`,
		"[CQ:face,id=14]":      `[{"type":"text","data":{"text":"[CQ:face,id=14]"}}]`,
	} {
		b, _ := json.Marshal(contentMessage(in))
		if string(b) != want {
			t.Errorf("%q: got %s, want %s", in, b, want)
		}
	}
}

func TestNum(t *testing.T) {
	tests := map[string]int64{`123`: 123, `"456"`: 456, `"LV5"`: 5, `1.5e3`: 1500, `null`: 0, `"x"`: 0, `-7`: -7}
	for in, want := range tests {
		var n num
		if err := json.Unmarshal([]byte(in), &n); err != nil || int64(n) != want {
			t.Errorf("%s: %d %v, want %d", in, n, err, want)
		}
	}
}

func TestDiff(t *testing.T) {
	g := func(id int64, name string, ms ...events.GroupMember) events.Group {
		return events.Group{ID: id, UID: id, Name: name, Member: ms}
	}
	m := func(id int64, card, role string) events.GroupMember {
		return events.GroupMember{ID: id, UID: id, Card: card, Role: role}
	}
	old := &roster.Roster{
		Friends: []events.Friend{{ID: 1, Markname: "a"}, {ID: 2}},
		Groups:  []events.Group{g(10, "ten", m(1, "", "member"), m(3, "x", "member")), g(11, "eleven")},
	}
	cur := &roster.Roster{
		Friends: []events.Friend{{ID: 1, Markname: "b"}, {ID: 4}},
		Groups:  []events.Group{g(10, "TEN", m(1, "c", "admin"), m(5, "", "member")), g(12, "twelve", m(6, "", "member"))},
	}
	kinds := func(ops []op) []string {
		var out []string
		for _, o := range ops {
			if o.change != nil {
				out = append(out, o.change.Kind)
			} else {
				out = append(out, o.prop.Property+"="+o.prop.New)
			}
		}
		return out
	}
	tests := []struct {
		name string
		sc   scope
		want []string
	}{
		{"everything", everything, []string{
			"markname=b", events.EventNewFriend, events.EventLoseFriend,
			"name=TEN", events.EventNewGroup, events.EventLoseGroup,
			"card=c", "role=admin", events.EventNewGroupMember, events.EventLoseGroupMember}},
		{"friends", scope{friends: true}, []string{"markname=b", events.EventNewFriend, events.EventLoseFriend}},
		{"one group's members", scope{members: []int64{10}}, []string{"card=c", "role=admin", events.EventNewGroupMember, events.EventLoseGroupMember}},
		{"unknown group", scope{members: []int64{99}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := kinds(diff(old, cur, tc.sc)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSetRoles(t *testing.T) {
	tests := []struct {
		role, want string
	}{{"owner", events.GroupRoleCreate}, {"admin", events.GroupRoleManage}, {"member", events.GroupRoleAttend}}
	for _, tc := range tests {
		g := events.Group{Member: []events.GroupMember{{ID: 1, Role: tc.role}, {ID: 2, Role: "owner"}, {ID: 3, Role: "admin"}}}
		setRoles(&g, 1)
		if g.Role != tc.want || g.MemberCount != 3 {
			t.Errorf("%s: role %q, want %q", tc.role, g.Role, tc.want)
		}
	}
}

func TestDedup(t *testing.T) {
	d := newDedup(time.Minute)
	t0 := time.Unix(1000, 0)
	steps := []struct {
		key  string
		at   time.Duration
		want bool
	}{{"a", 0, true}, {"a", time.Second, false}, {"b", time.Second, true}, {"a", 61 * time.Second, true}, {"b", 62 * time.Second, true}, {"a", 62 * time.Second, false}}
	for i, s := range steps {
		if got := d.first(s.key, t0.Add(s.at)); got != s.want {
			t.Errorf("step %d (%s at %s): %v, want %v", i, s.key, s.at, got, s.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			if got := backoff(attempt, lo, hi); got < want/2 || got > want {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, got, want/2, want)
			}
		}
	}
}

func TestAuthorize(t *testing.T) {
	d := &Driver{cfg: Config{AccessToken: "tok en"}}
	tests := []struct {
		name   string
		header string
		query  string
		want   int
	}{
		{"Bearer (NapCat, Lagrange)", "Bearer tok en", "", 0},
		{"Token (go-cqhttp)", "Token tok en", "", 0},
		{"lowercase scheme", "bearer tok en", "", 0},
		{"query", "", "access_token=tok+en", 0},
		{"wrong header, right query", "Bearer nope", "access_token=tok+en", 0},
		{"wrong", "Bearer tok", "", 403},
		{"wrong scheme", "Basic tok en", "", 401},
		{"NapCat's empty Bearer", "Bearer ", "", 403},
		{"missing", "", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/onebot/v11/ws?"+tc.query, nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			if got, _ := d.authorize(r); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	if code, _ := (&Driver{}).authorize(httptest.NewRequest("GET", "/", nil)); code != 0 {
		t.Errorf("no token configured: %d", code)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string // "" = accepted
	}{
		{"forward loopback without token", Config{URL: "ws://127.0.0.1:3001"}, ""},
		{"forward localhost without token", Config{URL: "ws://localhost:3001/"}, ""},
		{"forward remote without token", Config{URL: "ws://napcat:3001"}, "ACCESS_TOKEN is empty"},
		{"forward remote, token in URL", Config{URL: "ws://napcat:3001/?access_token=x"}, ""},
		{"forward remote with token", Config{URL: "wss://qq.example.com/ws", AccessToken: "x"}, ""},
		{"reverse loopback without token", Config{ReverseAddr: "127.0.0.1:8081"}, ""},
		{"reverse IPv6 loopback", Config{ReverseAddr: "[::1]:8081"}, ""},
		{"reverse all interfaces without token", Config{ReverseAddr: ":8081"}, "ACCESS_TOKEN is empty"},
		{"reverse all interfaces with token", Config{ReverseAddr: "0.0.0.0:8081", AccessToken: "x"}, ""},
		{"neither", Config{}, "set ONEBOT_URL"},
		{"both", Config{URL: "ws://127.0.0.1:1", ReverseAddr: "127.0.0.1:2"}, "not both"},
		{"not a ws URL", Config{URL: "ftp://127.0.0.1/?access_token=hide"}, "not a ws://"},
		{"bad reverse addr", Config{ReverseAddr: "8081"}, "ONEBOT_REVERSE_ADDR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, nil)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one with %q", err, tc.err)
			case err != nil && strings.Contains(err.Error(), "hide"):
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

// The driver keeps to the optional parts of the contract the session checks for.
var _ driver.Requests = (*Driver)(nil)
