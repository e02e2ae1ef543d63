package reporter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

func TestWXOrderKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		item string
		want string
	}{
		{`{"post_type":"receive_message","type":"friend_message","sender_id":"@f7","receiver_id":"@me"}`, "friend.@f7"},
		{`{"post_type":"send_message","type":"friend_message","sender_id":"@me","receiver_id":"@f7"}`, "friend.@f7"},
		{`{"post_type":"receive_message","type":"group_message","sender_id":"@m1","group_id":"@@g9"}`, "group.@@g9"},
		{`{"post_type":"send_message","type":"group_message","sender_id":"@me","group_id":"@@g9"}`, "group.@@g9"},
		{`{"post_type":"receive_message","type":"group_notice","group_id":"@@g9"}`, "group.@@g9"},
		{`{"post_type":"receive_message","type":"friend_message","sender_id":"filehelper","id":"123"}`, "friend.filehelper"},
		{`{"post_type":"event","event":"login","params":[1]}`, accountKey},
		{`{"post_type":"event","event":"friend_request","params":["@x","x","hi","t"]}`, accountKey},
		{`{"post_type":"event","event":"new_group_member","params":[{"id":"@m"},{"id":"@@g"}]}`, accountKey},
		// QQ's numeric ids do not decode as WeChat's: the account's key, never a wrong one.
		{`{"post_type":"receive_message","type":"friend_message","sender_id":7}`, accountKey},
		{`not json`, accountKey},
	} {
		if got := (wxPlatform{}).orderKey([]byte(tc.item)); got != tc.want {
			t.Errorf("wx orderKey(%s) = %q, want %q", tc.item, got, tc.want)
		}
	}
}

// TestWXActions: what an answer to an Openwx report turns into.
func TestWXActions(t *testing.T) {
	t.Parallel()
	log := natstest.Logger(t)
	enc := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	friendText := func(route string, p events.Params) apiCall { return apiCall{route, p} }
	const url = "https://example.com/a.jpg"
	toFriend := friendText(wx.RouteSendFriendMessage, events.Params{"id": "@f1", "content": "R"})
	toGroup := friendText(wx.RouteSendGroupMessage, events.Params{"id": "@@g1", "content": "R"})
	urlToFriend := apiCall{wx.RouteSendFriendMessage, events.Params{"id": "@f1", "media_path": url}}
	idToGroup := apiCall{wx.RouteSendGroupMessage, events.Params{"id": "@@g1", "media_id": "@crypt_ab12:3"}}
	for _, tc := range []struct {
		name string
		item []byte
		a    Answer
		want []apiCall
	}{
		{"recv friend reply", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Reply: "R"}, []apiCall{toFriend}},
		{"recv group reply", enc(wxRecvGroup("1", "@@g1", "@m1", "hi")), Answer{Reply: "R"}, []apiCall{toGroup}},
		{"recv friend media url", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Media: url}, []apiCall{urlToFriend}},
		{"recv friend media URL upper case", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Media: "HTTP://x/y.png"},
			[]apiCall{{wx.RouteSendFriendMessage, events.Params{"id": "@f1", "media_path": "HTTP://x/y.png"}}}},
		{"recv group media id", enc(wxRecvGroup("1", "@@g1", "@m1", "hi")), Answer{Media: "@crypt_ab12:3"}, []apiCall{idToGroup}},
		{"recv reply and media: text first", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Reply: "R", Media: url}, []apiCall{toFriend, urlToFriend}},
		{"recv media local path ignored", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Reply: "R", Media: "/tmp/test.jpg"}, []apiCall{toFriend}},
		{"recv media file scheme ignored", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Media: "file:///etc/passwd"}, nil},
		{"recv media ftp ignored", enc(wxRecvFriend("1", "@f1", "hi")), Answer{Media: "ftp://x/y"}, nil},
		{"recv shutup ignored", enc(wxRecvGroup("1", "@@g1", "@m1", "hi")), Answer{Shutup: true, ShutupTime: 60}, nil},
		{"recv reply and shutup: the reply only", enc(wxRecvGroup("1", "@@g1", "@m1", "hi")), Answer{Reply: "R", Shutup: true, ShutupTime: 60}, []apiCall{toGroup}},
		{"group notice not answered", enc(wxGroupNotice("1", "@@g1", "joined")), Answer{Reply: "R", Media: url}, nil},
		{"recv friend without sender", enc(wxRecvFriend("1", "", "hi")), Answer{Reply: "R"}, nil},
		{"send friend reply", enc(wxSendFriend("2", "@f1", "hi", "api")), Answer{Reply: "R"}, []apiCall{toFriend}},
		{"send group reply", enc(wxSendGroup("2", "@@g1", "hi", "api")), Answer{Reply: "R"}, []apiCall{toGroup}},
		{"send format json", enc(wxSendFriend("2", "@f1", "hi", "api")), Answer{Reply: "R", Format: "json"}, nil},
		{"answer never answered", enc(wxSendFriend("2", "@f1", "hi", events.FromReply)), Answer{Reply: "R", Media: url}, nil},
		{"answer to group never answered", enc(wxSendGroup("2", "@@g1", "hi", events.FromReply)), Answer{Reply: "R"}, nil},
		{"event", enc(wxEvent(events.EventLogin, 1)), Answer{Reply: "R"}, nil},
		{"not json", []byte("x"), Answer{Reply: "R"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := (wxPlatform{}).actions(tc.item, tc.a, log)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("actions = %+v\n want %+v", got, tc.want)
			}
		})
	}
	// The reply and the media of one answer are two parts in the answers bucket.
	if a, b := toFriend.part(), urlToFriend.part(); a == b {
		t.Errorf("reply and media share the part %q", a)
	}
}

func TestParseAnswerMedia(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body string
		want string
		ok   bool
	}{
		{`{"media":"https://x/a.jpg"}`, "https://x/a.jpg", true},
		{`{"media":" @crypt_1:3 "}`, "@crypt_1:3", true},
		{`{"media":""}`, "", false},
		{`{"media":{"a":1}}`, "", false},
		{`{"reply":"r","media":"https://x"}`, "https://x", true},
	} {
		a, ok := ParseAnswer("application/json", []byte(tc.body))
		if ok != tc.ok || ok && a.Media != tc.want {
			t.Errorf("ParseAnswer(%s) = %+v, %v; want media %q, %v", tc.body, a, ok, tc.want, tc.ok)
		}
	}
}

// SUBJECT_PREFIX=wx alone makes a WeChat reporter: Openwx's message types, and its default
// post_event_list with friend_request.
func TestWXFilterSubjects(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"by prefix", Config{SubjectPrefix: "wx", PostEvent: true, PostAPI: []string{"http://127.0.0.1:1/"}}, []string{
			"wx.events.friend_message", "wx.events.group_message", "wx.events.group_notice",
			"wx.events.login", "wx.events.stop", "wx.events.state_change", "wx.events.input_qrcode",
			"wx.events.new_group", "wx.events.new_friend", "wx.events.new_group_member",
			"wx.events.lose_group", "wx.events.lose_friend", "wx.events.lose_group_member", "wx.events.friend_request",
		}},
		{"explicit platform, custom prefix", Config{SubjectPrefix: "bot7", Platform: "wx", PostEvent: false, PostAPI: []string{"http://127.0.0.1:1/"}}, []string{
			"bot7.events.friend_message", "bot7.events.group_message", "bot7.events.group_notice",
		}},
		{"custom prefix is QQ's", Config{SubjectPrefix: "bot7", PostEvent: false, PostAPI: []string{"http://127.0.0.1:1/"}}, []string{
			"bot7.events.friend_message", "bot7.events.group_message", "bot7.events.discuss_message", "bot7.events.sess_message",
		}},
		{"group_notice listed twice", Config{SubjectPrefix: "wx", PostEvent: true, PostEventList: []string{"group_notice", "stop"}, PostAPI: []string{"http://127.0.0.1:1/"}}, []string{
			"wx.events.friend_message", "wx.events.group_message", "wx.events.group_notice", "wx.events.stop",
		}},
	} {
		r, err := New(natstest.Connect(t, srv), tc.cfg, natstest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.filterSubjects(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: filterSubjects = %v\n want %v", tc.name, got, tc.want)
		}
	}
	if _, err := New(natstest.Connect(t, srv), Config{Platform: "irc"}, nil); err == nil {
		t.Error("PLATFORM=irc accepted")
	}
}

// Answers to Openwx reports reach wx.api.send_*: a reply and a media (URL or media_id) to the
// conversation, marked as answers; nothing for a group notice, a shutup, a non-JSON answer, or
// a report of our own answer.
func TestWXAnswersReachTheAPI(t *testing.T) {
	t.Parallel()
	b := startWXBus(t)
	api := startWXAPI(t, b.nc)
	answers := map[string]answer{
		"reply":       {ctype: "application/json", body: `{"reply":"re:reply"}`},
		"media-url":   {ctype: "application/json", body: `{"media":"https://example.com/cat.jpg"}`},
		"media-id":    {ctype: "text/json; charset=utf-8", body: `{"media":"@crypt_0a1b:3"}`},
		"both":        {ctype: "application/json", body: `{"reply":"re:both","media":"https://example.com/both.png"}`},
		"group":       {ctype: "application/json", body: `{"reply":"re:group","shutup":1}`},
		"notice":      {ctype: "application/json", body: `{"reply":"re:notice"}`},
		"html":        {ctype: "text/html", body: `{"reply":"re:html"}`},
		"own-answer":  {ctype: "application/json", body: `{"reply":"loop","media":"https://example.com/loop.jpg"}`},
		"api-send":    {ctype: "application/json", body: `{"reply":"re:api-send"}`},
		"api-send-js": {ctype: "application/json", body: `{"reply":"x","format":"json"}`},
	}
	rc := newReceiver(t, func(p post) answer {
		a, ok := answers[p.str("content")]
		if !ok {
			return answer{status: http.StatusOK}
		}
		a.status = http.StatusOK
		return a
	})
	runReporter(t, b.srv, wxConfig(rc.url()))
	b.publish(t, wxRecvFriend("101", "@f1", "reply"))
	b.publish(t, wxRecvFriend("102", "@f2", "media-url"))
	b.publish(t, wxRecvGroup("103", "@@g1", "@m1", "media-id"))
	b.publish(t, wxRecvFriend("104", "@f3", "both"))
	b.publish(t, wxRecvGroup("105", "@@g2", "@m2", "group"))
	b.publish(t, wxGroupNotice("106", "@@g2", "notice"))
	b.publish(t, wxRecvFriend("107", "@f4", "html"))
	b.publish(t, wxSendFriend("108", "@f5", "own-answer", events.FromReply))
	b.publish(t, wxSendGroup("109", "@@g3", "own-answer", events.FromReply))
	b.publish(t, wxSendFriend("110", "@f6", "api-send", "api"))
	b.publish(t, wxSendFriend("111", "@f7", "api-send-js", "api"))
	b.publish(t, wxEvent(events.EventFriendRequest, "@f9", "new friend", "hello", "ticket-1"))
	rc.waitFor(t, 20*time.Second, "12 items", func(ps []post) bool { return len(ps) >= 12 })
	b.waitIdle(t, rc.url(), 20*time.Second)

	want := []wxCall{
		{wx.RouteSendFriendMessage, events.Params{"id": "@f1", "content": "re:reply"}, events.FromReply},
		{wx.RouteSendFriendMessage, events.Params{"id": "@f2", "media_path": "https://example.com/cat.jpg"}, events.FromReply},
		{wx.RouteSendGroupMessage, events.Params{"id": "@@g1", "media_id": "@crypt_0a1b:3"}, events.FromReply},
		{wx.RouteSendFriendMessage, events.Params{"id": "@f3", "content": "re:both"}, events.FromReply},
		{wx.RouteSendFriendMessage, events.Params{"id": "@f3", "media_path": "https://example.com/both.png"}, events.FromReply},
		{wx.RouteSendGroupMessage, events.Params{"id": "@@g2", "content": "re:group"}, events.FromReply},
		{wx.RouteSendFriendMessage, events.Params{"id": "@f6", "content": "re:api-send"}, events.FromReply},
	}
	got := api.got()
	// Conversations go in parallel: compare each conversation's calls, in order.
	byTo := func(cs []wxCall) map[string][]wxCall {
		m := map[string][]wxCall{}
		for _, c := range cs {
			m[c.params["id"]] = append(m[c.params["id"]], c)
		}
		return m
	}
	if !reflect.DeepEqual(byTo(got), byTo(want)) {
		t.Errorf("calls:\n%+v\nwant:\n%+v", got, want)
	}
	// The friend_request event (Openwx's default list) was posted.
	if !hasEvent(rc.accepted(), events.EventFriendRequest) {
		t.Error("friend_request not posted")
	}
}

// An answer is applied once per item, part by part, across retries: the reply went out, the
// media was refused for a while (the client not running), the item came again; the reply is
// not sent twice and the media goes once.
func TestWXAnswerAppliedOnceAcrossRetries(t *testing.T) {
	t.Parallel()
	b := startWXBus(t)
	api := startWXAPI(t, b.nc)
	var mu sync.Mutex
	refusals := 0
	api.fail = func(c wxCall) int {
		if _, ok := c.params["media_path"]; ok {
			mu.Lock()
			defer mu.Unlock()
			if refusals < 2 {
				refusals++
				return events.CodeNotReady
			}
		}
		return 0
	}
	rc := newReceiver(t, func(p post) answer {
		if p.str("content") == "both" {
			return answer{status: http.StatusOK, ctype: "application/json", body: `{"reply":"R","media":"https://example.com/m.jpg"}`}
		}
		return answer{status: http.StatusOK}
	})
	runReporter(t, b.srv, wxConfig(rc.url()))
	b.publish(t, wxRecvFriend("201", "@f1", "both"))
	rc.waitFor(t, 20*time.Second, "three tries", func(ps []post) bool { return len(ps) >= 3 })
	b.waitIdle(t, rc.url(), 20*time.Second)
	want := []wxCall{
		{wx.RouteSendFriendMessage, events.Params{"id": "@f1", "content": "R"}, events.FromReply},
		{wx.RouteSendFriendMessage, events.Params{"id": "@f1", "media_path": "https://example.com/m.jpg"}, events.FromReply},
	}
	if got := api.got(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %+v\nwant %+v", got, want)
	}
}

// wxArrival is one POST of an Openwx report as the receiver saw it start.
func wxArrivals(rs []proctest.Request) []arrival {
	out := make([]arrival, 0, len(rs))
	for _, r := range rs {
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(r.Body, &m)
		id, _ := strconv.ParseInt(m.ID, 10, 64)
		out = append(out, arrival{key: (wxPlatform{}).orderKey(r.Body), id: id, status: r.Status, reporter: r.Header.Get(events.HTTPHeaderReporter)})
	}
	return out
}

// Zero loss and order for wx.events.*: 3,000 Openwx reports over 60 conversations (friend and
// group messages both ways, group notices) and the account's events, two reporter processes
// started with SUBJECT_PREFIX=wx sharing four partitions, a receiver that answers 500 to 5%
// of first tries; the first replica is SIGKILLed midway and another started. Every item
// arrives, none of a conversation after a later one of it.
func TestWXZeroLossAndOrderTwoReporters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs reporter processes")
	}
	t.Parallel()
	bin, err := proctest.Binaries(context.Background(), proctest.BinReporter)
	if err != nil {
		t.Fatal(err)
	}
	g, err := proctest.NewGroup(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := startWXBus(t)
	var mu sync.Mutex
	tries := map[string]int{}
	rc := proctest.StartReceiver(t, proctest.ReceiverOptions{Respond: func(r *proctest.Request) proctest.Answer {
		mu.Lock()
		tries[string(r.Body)]++
		try := tries[string(r.Body)]
		mu.Unlock()
		delay := time.Duration(rand.IntN(6)) * time.Millisecond
		if try == 1 && rand.IntN(100) < 5 {
			return proctest.Answer{Status: http.StatusInternalServerError, Delay: delay}
		}
		return proctest.Answer{Status: http.StatusOK, Delay: delay}
	}})
	env := map[string]string{
		"NATS_URL": b.srv.ClientURL(), "SUBJECT_PREFIX": "wx", "POST_API": rc.URL, "POST_CONCURRENCY": "16",
		"POST_RETRY_MIN": "50ms", "POST_RETRY_MAX": "500ms", "POST_TIMEOUT": "5s", "POST_ACK_WAIT": "2s", "POST_PIN_TTL": "2s",
		"POST_DRAIN_TIMEOUT": "1s", "POST_PARTITIONS": "4", "HEALTH_ADDR": "127.0.0.1:0", "LOG_LEVEL": "warn",
	}

	const total, convs = 3000, 60
	want := map[string][]int64{}
	var msgs []*nats.Msg
	for i := range total {
		id := strconv.Itoa(i + 1)
		c := rand.IntN(convs + 1)
		var item map[string]any
		switch {
		case c == convs: // the account's own events
			item = wxEvent(events.EventStateChange, "running", "running")
			item["id"] = id // only so that the receiver can tell them apart
		case c%5 == 0:
			item = wxRecvFriend(id, fmt.Sprintf("@f%d", c), "m"+id)
		case c%5 == 1:
			item = wxSendFriend(id, fmt.Sprintf("@f%d", c-1), "m"+id, "api")
		case c%5 == 2:
			item = wxRecvGroup(id, fmt.Sprintf("@@g%d", c), "@m1", "m"+id)
		case c%5 == 3:
			item = wxSendGroup(id, fmt.Sprintf("@@g%d", c-1), "m"+id, "api")
		default:
			item = wxGroupNotice(id, fmt.Sprintf("@@g%d", c-2), "n"+id)
		}
		data, _ := json.Marshal(item)
		name, _ := item["type"].(string)
		if name == "" {
			name = item["event"].(string)
		}
		k := (wxPlatform{}).orderKey(data)
		want[k] = append(want[k], int64(i+1))
		m := nats.NewMsg(b.subj.Event(name))
		m.Data = data
		msgs = append(msgs, m)
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := b.js.PublishMsgAsync(msgs[i]); err != nil {
				t.Error(err)
				return
			}
			if (i+1)%256 == 0 || i == to-1 {
				select {
				case <-b.js.PublishAsyncComplete():
				case <-time.After(20 * time.Second):
					t.Error("publish did not complete")
					return
				}
			}
		}
	}
	publish(0, total/2)

	t.Cleanup(func() {
		if t.Failed() {
			g.LogOutputs(t, 200)
		}
	})
	t.Cleanup(func() {
		for _, p := range g.Procs() {
			p.Signal(syscall.SIGKILL, 5*time.Second)
		}
	})
	var procs []*proctest.Proc
	start := func() {
		name := fmt.Sprintf("wx-replica-%d", len(procs))
		e := maps.Clone(env)
		e["REPORTER_NAME"] = name
		p, err := g.Start(name, proctest.BinReporter, e)
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	delivered := func() int {
		n := 0
		for _, r := range rc.Requests() {
			n += b2i(r.Status == http.StatusOK)
		}
		return n
	}
	start()
	start()
	go publish(total/2, total)
	waitUntil(t, 30*time.Second, "1,200 items delivered", func() bool { return delivered() >= 1200 })
	if !procs[0].Signal(syscall.SIGKILL, 5*time.Second) { // no drain, no unpin, items in hand
		t.Fatal("the first reporter did not die of SIGKILL")
	}
	start()

	var rep orderReport
	waitUntilf(t, 60*time.Second, func() string { return fmt.Sprintf("every item: %+v", rep) }, func() bool {
		rep = checkOrder(want, wxArrivals(rc.Requests()))
		return rep.lost == 0
	})
	all := wxArrivals(rc.Requests())
	t.Logf("2 wx reporters, one SIGKILLed midway and replaced: %d items over %d keys: %d lost, %d out of order, %d duplicates, %d requests",
		total, len(want), rep.lost, rep.outOfOrder, rep.duplicates, len(all))
	if rep.outOfOrder != 0 {
		t.Errorf("%d out of order; first: %s", rep.outOfOrder, rep.firstProblem)
	}
	by := map[string]int{}
	for _, a := range all {
		if a.status == http.StatusOK {
			by[a.reporter]++
		}
	}
	t.Logf("delivered by replica: %v", by)
	if len(by) < 2 {
		t.Errorf("one replica delivered everything: %v", by)
	}
}

// FuzzWXActions: whatever the report and the answer, a media answer becomes a media_path only
// for an http(s) URL and a media_id only for a plain id; our own answers, group notices and
// events are never answered; and no answer makes more than a reply and a media.
func FuzzWXActions(f *testing.F) {
	enc := func(m map[string]any) []byte { b, _ := json.Marshal(m); return b }
	for _, s := range []struct {
		item         []byte
		reply, media string
		format       string
	}{
		{enc(wxRecvFriend("1", "@f1", "hi")), "R", "https://example.com/a.jpg", ""},
		{enc(wxRecvGroup("1", "@@g1", "@m1", "hi")), "", "@crypt_ab12:3", ""},
		{enc(wxRecvFriend("1", "@f1", "hi")), "", "/etc/passwd", ""},
		{enc(wxRecvFriend("1", "@f1", "hi")), "", "file:///etc/passwd", ""},
		{enc(wxRecvFriend("1", "@f1", "hi")), "", "HTTPS://X", ""},
		{enc(wxSendFriend("2", "@f1", "hi", "reply")), "R", "https://x/y", ""},
		{enc(wxSendGroup("2", "@@g1", "hi", "api")), "R", "https://x/y", "json"},
		{enc(wxGroupNotice("3", "@@g1", "joined")), "R", "https://x/y", ""},
		{enc(wxEvent(events.EventLogin, 1)), "R", "", ""},
		{[]byte(`{"post_type":"receive_message","type":"friend_message","sender_id":7}`), "R", "", ""},
	} {
		f.Add(s.item, s.reply, s.media, s.format)
	}
	log := quietLogger(f, slog.LevelError)
	f.Fuzz(func(t *testing.T, item []byte, reply, media, format string) {
		a := Answer{Reply: reply, Media: strings.TrimSpace(media), Format: format}
		_, calls := (wxPlatform{}).actions(item, a, log)
		if len(calls) > 2 {
			t.Fatalf("%d calls", len(calls))
		}
		var h struct {
			PostType string `json:"post_type"`
			Type     string `json:"type"`
			From     string `json:"from"`
		}
		_ = json.Unmarshal(item, &h)
		if len(calls) > 0 && (h.From == wx.FromReply || h.Type == wx.GroupNotice || h.PostType == events.PostEvent) {
			t.Fatalf("answered %s", item)
		}
		for _, c := range calls {
			if c.route != wx.RouteSendFriendMessage && c.route != wx.RouteSendGroupMessage {
				t.Fatalf("route %q", c.route)
			}
			if c.params["id"] == "" {
				t.Fatalf("a call without id: %v", c.params)
			}
			if p, ok := c.params["media_path"]; ok {
				l := strings.ToLower(p)
				if !strings.HasPrefix(l, "http://") && !strings.HasPrefix(l, "https://") {
					t.Fatalf("media_path %q is not an http(s) URL", p)
				}
			}
			if id, ok := c.params["media_id"]; ok && (id == "" || strings.ContainsAny(id, "/\\ \t\r\n") || strings.Contains(id, "://")) {
				t.Fatalf("media_id %q", id)
			}
		}
	})
}
