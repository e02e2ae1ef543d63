package reporter

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
	"github.com/openqq/openqq/pkg/infra/natstest"
)

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	def := DefaultShutupTime
	tests := []struct {
		name  string
		ctype string
		body  string
		want  Answer
		ok    bool
	}{
		// Content types: only a JSON one counts, charset and case aside.
		{"text/json", "text/json", `{"reply":"hi"}`, Answer{Reply: "hi", ShutupTime: def}, true},
		{"application/json", js, `{"reply":"hi"}`, Answer{Reply: "hi", ShutupTime: def}, true},
		{"charset", "application/json; charset=utf-8", `{"reply":"hi"}`, Answer{Reply: "hi", ShutupTime: def}, true},
		{"upper case", "APPLICATION/JSON", `{"reply":"hi"}`, Answer{Reply: "hi", ShutupTime: def}, true},
		{"text/json charset", "text/json;charset=GBK", `{"reply":"hi"}`, Answer{Reply: "hi", ShutupTime: def}, true},
		{"text/html", "text/html", `{"reply":"hi"}`, Answer{}, false},
		{"text/plain", "text/plain; charset=utf-8", `{"reply":"hi"}`, Answer{}, false},
		{"empty content type", "", `{"reply":"hi"}`, Answer{}, false},
		{"octet-stream", "application/octet-stream", `{"reply":"hi"}`, Answer{}, false},

		// reply
		{"reply string", js, `{"reply":"你好\n"}`, Answer{Reply: "你好\n", ShutupTime: def}, true},
		{"reply number", js, `{"reply":42}`, Answer{Reply: "42", ShutupTime: def}, true},
		{"reply float", js, `{"reply":1.5}`, Answer{Reply: "1.5", ShutupTime: def}, true},
		{"reply empty", js, `{"reply":""}`, Answer{}, false},
		{"reply null", js, `{"reply":null}`, Answer{}, false},
		{"reply object", js, `{"reply":{"a":1}}`, Answer{}, false},
		{"reply array", js, `{"reply":["a"]}`, Answer{}, false},
		{"whitespace around", js, " \n\t{\"reply\":\"hi\"}\r\n", Answer{Reply: "hi", ShutupTime: def}, true},

		// shutup: Perl's `== 1`
		{"shutup 1", js, `{"shutup":1}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup string 1", js, `{"shutup":"1"}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup 1.0", js, `{"shutup":1.0}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup 2", js, `{"shutup":2}`, Answer{}, false},
		{"shutup 0", js, `{"shutup":0}`, Answer{}, false},
		{"shutup string abc", js, `{"shutup":"abc"}`, Answer{}, false},
		{"shutup true", js, `{"shutup":true}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup false", js, `{"shutup":false}`, Answer{}, false},

		// shutup_time, in seconds, default 60, kept only in [1, 30 days]
		{"shutup_time number", js, `{"shutup":1,"shutup_time":120}`, Answer{Shutup: true, ShutupTime: 120}, true},
		{"shutup_time string", js, `{"shutup":1,"shutup_time":"300"}`, Answer{Shutup: true, ShutupTime: 300}, true},
		{"shutup_time float", js, `{"shutup":1,"shutup_time":90.7}`, Answer{Shutup: true, ShutupTime: 90}, true},
		{"shutup_time negative", js, `{"shutup":1,"shutup_time":-5}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup_time zero", js, `{"shutup":1,"shutup_time":0}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup_time 30 days", js, `{"shutup":1,"shutup_time":2592000}`, Answer{Shutup: true, ShutupTime: 2592000}, true},
		{"shutup_time huge", js, `{"shutup":1,"shutup_time":1e300}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup_time over 30 days", js, `{"shutup":1,"shutup_time":2592001}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup_time garbage", js, `{"shutup":1,"shutup_time":"soon"}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup_time NaN string", js, `{"shutup":1,"shutup_time":"NaN"}`, Answer{Shutup: true, ShutupTime: def}, true},
		{"shutup_time alone", js, `{"shutup_time":120}`, Answer{}, false},
		{"reply and shutup", js, `{"reply":"闭嘴","shutup":"1","shutup_time":"600"}`, Answer{Reply: "闭嘴", Shutup: true, ShutupTime: 600}, true},

		// format
		{"format text", js, `{"reply":"x","format":"text"}`, Answer{Reply: "x", Format: "text", ShutupTime: def}, true},
		{"format json", js, `{"reply":"x","format":"json"}`, Answer{Reply: "x", Format: "json", ShutupTime: def}, true},

		// bodies that are not an answer, and must do no harm
		{"not JSON", js, `reply: hi`, Answer{}, false},
		{"truncated JSON", js, `{"reply":"hi"`, Answer{}, false},
		{"JSON array", js, `[{"reply":"hi"}]`, Answer{}, false},
		{"JSON null", js, `null`, Answer{}, false},
		{"JSON string", js, `"hi"`, Answer{}, false},
		{"JSON number", js, `1`, Answer{}, false},
		{"empty object", js, `{}`, Answer{}, false},
		{"empty body", js, ``, Answer{}, false},
		{"ok", js, `ok`, Answer{}, false},
		{"ok text/plain", "text/plain", `ok`, Answer{}, false},
		{"HTML", "text/html; charset=utf-8", `<html><body>{"reply":"hi"}</body></html>`, Answer{}, false},
		{"HTML labelled JSON", js, `<!DOCTYPE html><html></html>`, Answer{}, false},
		{"two objects", js, `{"reply":"a"}{"reply":"b"}`, Answer{}, false},
		{"unknown keys only", js, `{"code":0,"status":"ok"}`, Answer{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseAnswer(tt.ctype, []byte(tt.body))
			if !ok && !tt.ok {
				return // no answer: its fields mean nothing
			}
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseAnswer(%q, %q) = %+v, %v; want %+v, %v", tt.ctype, tt.body, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// containsFold reports whether s contains sub under Unicode simple case folding, which is what
// a (?i) regexp matches.
func containsFold(s, sub string) bool {
	for i := range s {
		rest, j := s[i:], 0
		for _, want := range sub {
			if rest == "" {
				break
			}
			r, n := utf8.DecodeRuneInString(rest)
			if !equalFoldRune(r, want) {
				break
			}
			rest, j = rest[n:], j+1
		}
		if j == utf8.RuneCountInString(sub) {
			return true
		}
	}
	return false
}

func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []struct{ ctype, body string }{
		{"application/json", `{"reply":"hi","shutup":1,"shutup_time":120}`},
		{"text/json", `{"shutup":"1","shutup_time":"-1"}`},
		{"application/json; charset=utf-8", `{"shutup_time":1e309}`},
		{"APPLICATION/JSON", `{"format":"text","reply":7}`},
		{"text/html", `<html>{"reply":"x"}</html>`},
		{"", `{"reply":"x"}`},
		{"application/json", `null`},
		{"application/json", `[1,2]`},
		{"application/json", `ok`},
		{"application/json", ``},
		{"application/json", `{"shutup_time":"NaN","shutup":"Inf"}`},
		{"application/json", `{"shutup":1,"shutup_time":2592000.9}`},
		{"application/json", `{"shutup":1,"shutup_time":0.5}`},
		{"application/json", `{"media":"https://example.com/a.jpg","reply":"r"}`},
		{"text/json", `{"media":" @crypt_1:3 "}`},
	} {
		f.Add(s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		orig := bytes.Clone(body)
		a, ok := ParseAnswer(ctype, body)
		if !bytes.Equal(body, orig) {
			t.Fatalf("ParseAnswer modified its input")
		}
		if !ok {
			return
		}
		if !containsFold(ctype, "application/json") && !containsFold(ctype, "text/json") {
			t.Fatalf("content type %q is not JSON, yet answer %+v", ctype, a)
		}
		if a.ShutupTime < 1 || a.ShutupTime > 30*24*3600 {
			t.Fatalf("ShutupTime %d out of [1, 2592000] (body %q)", a.ShutupTime, body)
		}
		if a.Reply == "" && !a.Shutup && a.Format == "" && a.Media == "" {
			t.Fatalf("an empty answer counts: %+v", a)
		}
		trimmed := bytes.TrimSpace(body)
		if !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("an answer from a body that is no JSON object: %q", body)
		}
	})
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ min, max time.Duration }{
		{50 * time.Millisecond, 500 * time.Millisecond},
		{time.Second, 5 * time.Minute},
		{time.Second, time.Second},
		{3 * time.Second, 10 * time.Second}, // max not a doubling of min
		{time.Millisecond, 24 * time.Hour},
	} {
		r := &Reporter{cfg: Config{PostRetryMin: tc.min, PostRetryMax: tc.max}}
		for attempt := 1; attempt <= 80; attempt++ {
			base := tc.min
			for i := 1; i < attempt && base < tc.max; i++ {
				base *= 2
			}
			base = min(base, tc.max)
			lo, hi := time.Duration(0.8*float64(base)), time.Duration(math.Ceil(1.2*float64(base)))
			var sum time.Duration
			const n = 200
			for range n {
				d := r.backoff(attempt)
				if d < lo || d > hi {
					t.Fatalf("min %v max %v attempt %d: backoff %v outside [%v, %v]", tc.min, tc.max, attempt, d, lo, hi)
				}
				if d < time.Duration(0.8*float64(tc.min)) || d > time.Duration(1.2*float64(tc.max))+1 {
					t.Fatalf("min %v max %v attempt %d: backoff %v outside [0.8*min, 1.2*max]", tc.min, tc.max, attempt, d)
				}
				sum += d
			}
			// The jitter is spread around the base, not stuck at one end.
			if mean := sum / n; mean < time.Duration(0.9*float64(base)) || mean > time.Duration(1.1*float64(base)) {
				t.Errorf("min %v max %v attempt %d: mean backoff %v, want about %v", tc.min, tc.max, attempt, mean, base)
			}
		}
	}
	// The first tries double.
	r := &Reporter{cfg: Config{PostRetryMin: 100 * time.Millisecond, PostRetryMax: time.Hour}}
	for attempt, want := range []time.Duration{0, 100, 200, 400, 800, 1600} {
		if attempt == 0 {
			continue
		}
		want *= time.Millisecond
		if d := r.backoff(attempt); d < want*8/10 || d > want*12/10 {
			t.Errorf("attempt %d: %v, want %v ±20%%", attempt, d, want)
		}
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	// RFC 2104 / Wikipedia's HMAC-SHA1 vectors.
	for _, tc := range []struct{ key, body, want string }{
		{"key", "The quick brown fox jumps over the lazy dog", "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"},
		{"", "", "sha1=fbdb1d1b18aa6c08324b7d64b71fb76370690e1d"},
		{"Jefe", "what do ya want for nothing?", "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
	} {
		if got := Sign(tc.key, []byte(tc.body)); got != tc.want {
			t.Errorf("Sign(%q, %q) = %s, want %s", tc.key, tc.body, got, tc.want)
		}
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/post_api", true},
		{"https://bot.example.com/qq?token=abc", true},
		{"http://user:pass@host/", true},
		{"HTTP://host/", true},
		{"ftp://host/post", false},
		{"localhost:8080/post", false},
		{"http://", false},
		{"http:///path", false},
		{"/post_api", false},
		{"", false},
		{"://nope", false},
		{"http://host:port/", false},
		{"http://[::1", false},
	} {
		err := checkURL(tc.url)
		if (err == nil) != tc.ok {
			t.Errorf("checkURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
	// The error never shows a password or the query.
	for _, tc := range []struct{ name, url string }{
		{"unsupported scheme", "ftp://alice:s3cr3t-pw@host/post?token=t0k3n"},
		{"no host", "gopher://alice:s3cr3t-pw@/x?token=t0k3n"},
		{"unparsable", "http://alice:s3cr3t-pw@host:port/?token=t0k3n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkURL(tc.url)
			if err == nil {
				t.Fatalf("checkURL(%q) accepted", tc.url)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "t0k3n") {
				t.Errorf("checkURL(%q) leaks a secret: %v", tc.url, err)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"http://host/post_api", "http://host/post_api"},
		{"http://alice:s3cr3t@host:8080/p", "http://***@host:8080/p"},
		{"https://host/p?access_token=t0k3n&x=1", "https://host/p?access_token=***&x=***"},
		{"http://alice:s3cr3t@host/p?token=t0k3n", "http://***@host/p?token=***"},
		{"http://alice@host/p", "http://***@host/p"},
		{"http://[::1", "(unparsable URL)"},
	} {
		got := config.MaskURL(tc.in)
		if got != tc.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3cr3t") || strings.Contains(got, "t0k3n") {
			t.Errorf("MaskURL(%q) = %q leaks a secret", tc.in, got)
		}
	}
	// A target names itself without secrets, and its consumer name neither.
	tg := newHTTPTarget(nil, "http://alice:s3cr3t@host/p?token=t0k3n")
	if s := tg.String() + tg.consumer(); strings.Contains(s, "s3cr3t") || strings.Contains(s, "t0k3n") {
		t.Errorf("target %q / %q leaks a secret", tg.String(), tg.consumer())
	}
	if !strings.HasPrefix(tg.consumer(), "reporter_") || !validToken(tg.consumer()) {
		t.Errorf("consumer name %q", tg.consumer())
	}
	if a, b := consumerName("http://a/x"), consumerName("http://a/y"); a == b {
		t.Errorf("two URLs share consumer %q", a)
	}
}

func TestNewDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := natstest.Connect(t, srv)

	r, err := New(nc, Config{PostAPI: []string{"http://127.0.0.1:1/post"}}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		SubjectPrefix: "qq", PostAPI: []string{"http://127.0.0.1:1/post"},
		PostEventList: events.DefaultPostEventList,
		PostTimeout:   10 * time.Second, PostConcurrency: 16, PostMaxDeliver: 10,
		PostRetryMin: time.Second, PostRetryMax: 5 * time.Minute, PostBackfill: 10 * time.Minute,
		APITimeout: 10 * time.Second, PostDrainTimeout: 10 * time.Second,
		PostAckWait: 10 * time.Second, PostPinTTL: 5 * time.Second, PostOrder: OrderConversation,
		PostMaxLag: 10 * time.Minute, PostPartitions: 1, KVReplicas: 1, StreamReplicas: 1,
	}
	config.Defaults(&want.Config) // the media store's MEDIA_* defaults, its own
	if !reflect.DeepEqual(r.cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", r.cfg, want)
	}
	if r.pullExpiry() >= r.cfg.PostPinTTL {
		t.Errorf("pull expiry %v does not renew the pin within its TTL %v", r.pullExpiry(), r.cfg.PostPinTTL)
	}

	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"bad prefix", Config{SubjectPrefix: "q q"}},
		{"wildcard prefix", Config{SubjectPrefix: "qq.*"}},
		{"negative timeout", Config{PostTimeout: -time.Second}},
		{"negative concurrency", Config{PostConcurrency: -1}},
		{"negative max deliver", Config{PostMaxDeliver: -1}},
		{"max below min", Config{PostRetryMin: time.Minute, PostRetryMax: time.Second}},
		{"negative api timeout", Config{APITimeout: -1}},
		{"unknown order", Config{PostOrder: "random"}},
		{"tiny pin ttl", Config{PostPinTTL: time.Millisecond}},
		{"negative partitions", Config{PostPartitions: -1}},
		{"too many partitions", Config{PostPartitions: maxPartitions + 1}},
		{"bad url", Config{PostAPI: []string{"ftp://alice:s3cr3t@host/"}}},
		{"bad event", Config{PostEventList: []string{"new_friend", "a.b"}}},
		{"wildcard event", Config{PostEventList: []string{">"}}},
	} {
		_, err := New(nc, tc.cfg, nil)
		if err == nil {
			t.Errorf("%s: New(%+v) accepted", tc.name, tc.cfg)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: error leaks the password: %v", tc.name, err)
		}
	}
	t.Run("unparsable url hides its password", func(t *testing.T) {
		_, err := New(nc, Config{PostAPI: []string{"http://alice:s3cr3t@host:port/"}}, nil)
		if err == nil {
			t.Fatal("accepted")
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatal("New's error leaks the POST_API password: " + err.Error())
		}
	})
	if (Config{}).Enabled() || (Config{PostAPI: []string{" ", ""}}).Enabled() {
		t.Error("a config without targets is enabled")
	}
	if !(Config{PostStdout: true}).Enabled() || !(Config{PostAPI: []string{"http://x/"}}).Enabled() {
		t.Error("a config with a target is not enabled")
	}
}

func TestFilterSubjects(t *testing.T) {
	t.Parallel()
	msgs := []string{"qq.events.friend_message", "qq.events.group_message", "qq.events.discuss_message", "qq.events.sess_message"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"default list", Config{PostEvent: true, PostEventList: events.DefaultPostEventList},
			append(append([]string(nil), msgs...), "qq.events.login", "qq.events.stop", "qq.events.state_change",
				"qq.events.input_qrcode", "qq.events.new_group", "qq.events.new_friend", "qq.events.new_group_member",
				"qq.events.lose_group", "qq.events.lose_friend", "qq.events.lose_group_member")},
		{"events off", Config{PostEvent: false, PostEventList: events.DefaultPostEventList}, msgs},
		{"custom list", Config{PostEvent: true, PostEventList: []string{" new_friend ", "new_friend", "", "group_message"}},
			append(append([]string(nil), msgs...), "qq.events.new_friend")},
		{"other prefix", Config{SubjectPrefix: "acct2", PostEvent: true, PostEventList: []string{"stop"}},
			[]string{"acct2.events.friend_message", "acct2.events.group_message", "acct2.events.discuss_message", "acct2.events.sess_message", "acct2.events.stop"}},
	} {
		prefix := tc.cfg.SubjectPrefix
		if prefix == "" {
			prefix = "qq"
		}
		r := &Reporter{cfg: tc.cfg, subj: events.Subjects{Prefix: prefix}}
		if got := r.filterSubjects(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: filterSubjects = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestActions: what an answer turns into, for the four message types received and sent.
func TestActions(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	r, err := New(natstest.Connect(t, srv), Config{PostAPI: []string{"http://127.0.0.1:1/"}}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	me := &events.Sender{Name: "小灰", ID: myID, UID: 1234567}
	meRecv := &events.Receiver{Name: "小灰", ID: myID, UID: 1234567}
	friend := &events.Sender{Name: "老王", ID: friendID, UID: friendUID}
	friendRecv := &events.Receiver{Name: "老王", ID: friendID, UID: friendUID}
	member := &events.Sender{Name: "邓宇航", ID: plainMemberID, UID: 459278}
	memberRecv := &events.Receiver{Name: "邓宇航", ID: plainMemberID, UID: 459278}
	group := &events.GroupRef{Name: "PERL学习交流", ID: adminGroupID, UID: adminGroupUID}
	discuss := &events.DiscussRef{Name: "周末聚餐", ID: discussID}

	recv := func(typ string, s *events.Sender, g *events.GroupRef, d *events.DiscussRef) *events.Message {
		return &events.Message{ID: 1, Type: typ, Class: events.ClassRecv, PostType: events.PostReceiveMessage,
			Content: "hi", Sender: s, Receiver: meRecv, GroupRef: g, DiscussRef: d}
	}
	send := func(typ, from string, rc *events.Receiver, g *events.GroupRef, d *events.DiscussRef) *events.Message {
		return &events.Message{ID: 2, Type: typ, Class: events.ClassSend, PostType: events.PostSendMessage, From: from,
			Content: "hi", Sender: me, Receiver: rc, GroupRef: g, DiscussRef: d,
			SendResult: &events.SendResult{Code: 0, Status: events.SendOK, Msg: events.SendOK, Info: events.SendOKInfo}}
	}
	reply := func(route string, p events.Params) apiCall {
		p["content"] = "R"
		return apiCall{route, p}
	}
	sid := func(id int64) string { return itoa(id) }
	pic := func(route string, kv ...string) apiCall {
		p := events.Params{}
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return apiCall{route, p}
	}
	shutup := apiCall{events.RouteShutupGroupMember, events.Params{"group_id": sid(adminGroupID), "member_id": sid(plainMemberID), "seconds": "120"}}
	shutupFriend := apiCall{events.RouteShutupGroupMember, events.Params{"group_id": sid(adminGroupID), "member_id": sid(friendID), "seconds": "60"}}

	replyA := Answer{Reply: "R", ShutupTime: 60}
	shutupA := Answer{Shutup: true, ShutupTime: 120}
	bothA := Answer{Reply: "R", Shutup: true, ShutupTime: 120}

	toFriend := reply(events.RouteSendFriendMessage, events.Params{"id": sid(friendID)})
	toGroup := reply(events.RouteSendGroupMessage, events.Params{"id": sid(adminGroupID)})
	toDiscuss := reply(events.RouteSendDiscussMessage, events.Params{"id": sid(discussID)})
	toSessGroup := reply(events.RouteSendSessMessage, events.Params{"id": sid(plainMemberID), "group_id": sid(adminGroupID)})
	toSessDiscuss := reply(events.RouteSendSessMessage, events.Params{"id": sid(discussMember), "group_id": ""})
	delete(toSessDiscuss.params, "group_id")
	toSessDiscuss.params["discuss_id"] = sid(discussID)
	discussSender := &events.Sender{Name: "邵秀兰", ID: discussMember, UID: 456920}
	discussRecv := &events.Receiver{Name: "邵秀兰", ID: discussMember, UID: 456920}

	tests := []struct {
		name string
		m    *events.Message
		a    Answer
		want []apiCall
	}{
		// received: the reply goes to the conversation
		{"recv friend reply", recv(events.FriendMessage, friend, nil, nil), replyA, []apiCall{toFriend}},
		{"recv group reply", recv(events.GroupMessage, member, group, nil), replyA, []apiCall{toGroup}},
		{"recv discuss reply", recv(events.DiscussMessage, discussSender, nil, discuss), replyA, []apiCall{toDiscuss}},
		{"recv sess via group reply", recv(events.SessMessage, member, group, nil), replyA, []apiCall{toSessGroup}},
		{"recv sess via discuss reply", recv(events.SessMessage, discussSender, nil, discuss), replyA, []apiCall{toSessDiscuss}},
		{"recv reply with format json", recv(events.FriendMessage, friend, nil, nil), Answer{Reply: "R", Format: "json", ShutupTime: 60}, []apiCall{toFriend}},
		// shutup: only the sender of a received group message
		{"recv group shutup", recv(events.GroupMessage, member, group, nil), shutupA, []apiCall{shutup}},
		{"recv group reply and shutup", recv(events.GroupMessage, member, group, nil), bothA, []apiCall{toGroup, shutup}},
		{"recv group shutup default time", recv(events.GroupMessage, friend, group, nil), Answer{Shutup: true, ShutupTime: 60}, []apiCall{shutupFriend}},
		{"recv friend shutup", recv(events.FriendMessage, friend, nil, nil), shutupA, nil},
		{"recv friend reply and shutup", recv(events.FriendMessage, friend, nil, nil), bothA, []apiCall{toFriend}},
		{"recv discuss shutup", recv(events.DiscussMessage, discussSender, nil, discuss), shutupA, nil},
		{"recv sess shutup", recv(events.SessMessage, member, group, nil), shutupA, nil},
		{"recv format only", recv(events.GroupMessage, member, group, nil), Answer{Format: "text", ShutupTime: 60}, nil},
		// received but malformed: nothing to address
		{"recv friend without sender", recv(events.FriendMessage, nil, nil, nil), replyA, nil},
		{"recv group without group", recv(events.GroupMessage, member, nil, nil), bothA, nil},
		{"recv discuss without discuss", recv(events.DiscussMessage, discussSender, nil, nil), replyA, nil},
		{"recv sess without where", recv(events.SessMessage, member, nil, nil), replyA, nil},
		{"recv unknown type", recv("temp_message", member, group, nil), replyA, nil},

		// sent through the API: a plain-text reply goes to the same conversation
		{"send friend reply", send(events.FriendMessage, "api", friendRecv, nil, nil), replyA, []apiCall{toFriend}},
		{"send group reply", send(events.GroupMessage, "api", nil, group, nil), replyA, []apiCall{toGroup}},
		{"send discuss reply", send(events.DiscussMessage, "api", nil, nil, discuss), replyA, []apiCall{toDiscuss}},
		{"send sess via group reply", send(events.SessMessage, "api", memberRecv, group, nil), replyA, []apiCall{toSessGroup}},
		{"send sess via discuss reply", send(events.SessMessage, "api", discussRecv, nil, discuss), replyA, []apiCall{toSessDiscuss}},
		{"send no from reply", send(events.FriendMessage, "", friendRecv, nil, nil), replyA, []apiCall{toFriend}},
		{"send format text", send(events.GroupMessage, "api", nil, group, nil), Answer{Reply: "R", Format: "text", ShutupTime: 60}, []apiCall{toGroup}},
		{"send format json", send(events.GroupMessage, "api", nil, group, nil), Answer{Reply: "R", Format: "json", ShutupTime: 60}, nil},
		{"send group shutup", send(events.GroupMessage, "api", nil, group, nil), bothA, []apiCall{toGroup}},
		{"send friend without receiver", send(events.FriendMessage, "api", nil, nil, nil), replyA, nil},

		// sent as an answer: never answered again (Mojo's endless loop)
		{"answer friend", send(events.FriendMessage, events.FromReply, friendRecv, nil, nil), replyA, nil},
		{"answer group", send(events.GroupMessage, events.FromReply, nil, group, nil), bothA, nil},
		{"answer discuss", send(events.DiscussMessage, events.FromReply, nil, nil, discuss), replyA, nil},
		{"answer sess via group", send(events.SessMessage, events.FromReply, memberRecv, group, nil), replyA, nil},
		{"answer sess via discuss", send(events.SessMessage, events.FromReply, discussRecv, nil, discuss), Answer{Reply: "R", Format: "text", ShutupTime: 60}, nil},

		// openqq's extension: Openwx's media answer, a picture after the reply
		{"recv friend media url", recv(events.FriendMessage, friend, nil, nil), Answer{Reply: "R", Media: "https://x.test/a.png"}, []apiCall{toFriend, pic(events.RouteSendFriendMessage, "media_path", "https://x.test/a.png", "id", sid(friendID))}},
		{"recv group media id", recv(events.GroupMessage, member, group, nil), Answer{Media: "abc:3"}, []apiCall{pic(events.RouteSendGroupMessage, "media_id", "abc:3", "id", sid(adminGroupID))}},
		{"recv group media and shutup", recv(events.GroupMessage, member, group, nil), Answer{Media: "abc:3", Shutup: true, ShutupTime: 120}, []apiCall{pic(events.RouteSendGroupMessage, "media_id", "abc:3", "id", sid(adminGroupID)), shutup}},
		{"recv discuss media", recv(events.DiscussMessage, discussSender, nil, discuss), Answer{Media: "abc:3"}, []apiCall{pic(events.RouteSendDiscussMessage, "media_id", "abc:3", "id", sid(discussID))}},
		{"recv sess media", recv(events.SessMessage, member, group, nil), Answer{Media: "http://x.test/b"}, []apiCall{pic(events.RouteSendSessMessage, "media_path", "http://x.test/b", "id", sid(plainMemberID), "group_id", sid(adminGroupID))}},
		{"recv media local path ignored", recv(events.FriendMessage, friend, nil, nil), Answer{Reply: "R", Media: "/etc/passwd"}, []apiCall{toFriend}},
		{"recv media file scheme ignored", recv(events.FriendMessage, friend, nil, nil), Answer{Media: "file:///etc/passwd"}, nil},
		{"send media", send(events.FriendMessage, "api", friendRecv, nil, nil), Answer{Media: "abc:3"}, []apiCall{pic(events.RouteSendFriendMessage, "media_id", "abc:3", "id", sid(friendID))}},
		{"send media format json", send(events.FriendMessage, "api", friendRecv, nil, nil), Answer{Media: "abc:3", Format: "json"}, nil},
		{"answer media", send(events.FriendMessage, events.FromReply, friendRecv, nil, nil), Answer{Media: "abc:3"}, nil},

		// neither received nor sent
		{"no post_type", &events.Message{Type: events.FriendMessage, Sender: friend}, replyA, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := r.actions(tt.m, tt.a)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions = %+v\n want %+v", got, tt.want)
			}
		})
	}
}
