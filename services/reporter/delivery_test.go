package reporter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// injected is what a test injected and expects at post_api.
type injected struct {
	msgs   map[int64]string // message id → type
	events []string         // roster events, in order
}

// injectEverything injects one message of every kind and every roster event of the default
// post_event_list.
func injectEverything(t *testing.T, s *system) injected {
	t.Helper()
	in := injected{msgs: map[int64]string{}}
	for _, m := range []events.Injection{
		{Type: events.FriendMessage, SenderID: friendID, Content: "friend\nline two\n"},
		{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "group <&> \"quoted\""},
		{Type: events.DiscussMessage, DiscussID: discussID, SenderID: discussMember, Content: "discuss"},
		{Type: events.SessMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "sess via group"},
		{Type: events.SessMessage, DiscussID: discussID, SenderID: discussMember, Content: "sess via discuss"},
	} {
		in.msgs[s.mustInject(t, m)] = m.Type
	}
	for _, e := range []events.Injection{
		{Event: events.EventNewFriend, Friend: &events.Friend{ID: 3000000001, UID: 990001, Name: "新朋友"}},
		{Event: events.EventNewGroup, Group: &events.Group{ID: 3000000002, UID: 990002, Name: "新群", Role: "attend"}},
		{Event: events.EventNewGroupMember, GroupID: adminGroupID, Member: &events.GroupMember{ID: 3000000003, UID: 990003, Name: "新人"}},
		{Event: events.EventLoseGroupMember, GroupID: adminGroupID, MemberID: friendID},
		{Event: events.EventLoseFriend, FriendID: friendID},
		{Event: events.EventLoseGroup, GroupID: otherGroupID},
	} {
		s.mustInject(t, e)
		in.events = append(in.events, e.Event)
	}
	return in
}

func (in injected) arrived(ps []post) bool {
	for id := range in.msgs {
		if !hasMessage(ps, id, events.PostReceiveMessage) {
			return false
		}
	}
	for _, e := range in.events {
		if !hasEvent(ps, e) {
			return false
		}
	}
	return true
}

// isJSONInt reports whether v decoded (UseNumber) as an integer.
func isJSONInt(v any) bool {
	n, ok := v.(json.Number)
	if !ok {
		return false
	}
	_, err := strconv.ParseInt(n.String(), 10, 64)
	return err == nil
}

// checkIDs checks an object's id, uid, *_id, *_uid and time fields are JSON integers and its
// names strings.
func checkIDs(t *testing.T, where string, obj map[string]any) {
	t.Helper()
	for k, v := range obj {
		switch {
		case k == "id" || k == "uid" || k == "time" || strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "_uid"):
			if !isJSONInt(v) {
				t.Errorf("%s: %q = %#v, want a JSON integer", where, k, v)
			}
		case k == "sender" || k == "receiver" || k == "group" || k == "discuss" || k == "name" || k == "content":
			if _, ok := v.(string); !ok {
				t.Errorf("%s: %q = %#v, want a string", where, k, v)
			}
		}
	}
}

// checkPOST checks what every post_api request must carry.
func checkPOST(t *testing.T, p post) {
	t.Helper()
	if ct := p.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if p.Chunked {
		t.Errorf("chunked request body")
	}
	if cl := p.Header.Get("Content-Length"); cl != strconv.Itoa(len(p.Body)) || p.ContentLength != int64(len(p.Body)) {
		t.Errorf("Content-Length header %q, ContentLength %d, body %d bytes", cl, p.ContentLength, len(p.Body))
	}
	if _, err := strconv.ParseUint(p.Header.Get("X-Openqq-Delivery"), 10, 64); err != nil {
		t.Errorf("X-Openqq-Delivery %q", p.Header.Get("X-Openqq-Delivery"))
	}
	if n, err := strconv.Atoi(p.Header.Get("X-Openqq-Attempt")); err != nil || n < 1 {
		t.Errorf("X-Openqq-Attempt %q", p.Header.Get("X-Openqq-Attempt"))
	}
	if p.Item == nil {
		t.Errorf("body is not a JSON object: %q", p.Body)
	}
}

func params(t *testing.T, p post) []any {
	t.Helper()
	ps, ok := p.Item["params"].([]any)
	if !ok {
		t.Fatalf("%s: params %#v, want an array", p.str("event"), p.Item["params"])
	}
	return ps
}

func objectParam(t *testing.T, p post, i int) map[string]any {
	t.Helper()
	ps := params(t, p)
	if i >= len(ps) {
		t.Fatalf("%s: %d params, want more than %d", p.str("event"), len(ps), i)
	}
	o, ok := ps[i].(map[string]any)
	if !ok {
		t.Fatalf("%s: param %d = %#v, want an object", p.str("event"), i, ps[i])
	}
	checkIDs(t, p.str("event")+" param", o)
	return o
}

func idOf(o map[string]any) int64 {
	n, _ := o["id"].(json.Number)
	v, _ := n.Int64()
	return v
}

// Every message type and every event of the default post_event_list reaches post_api in
// Mojo's shape, in a plain (not chunked) JSON POST.
func TestDeliveryEveryItem(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	rc := newReceiver(t, nil)
	runReporter(t, s.srv, fastConfig(rc.url()))

	// The login happened before the reporter came up: POST_BACKFILL brings it.
	rc.waitFor(t, 15*time.Second, "the login events", func(ps []post) bool {
		return hasEvent(ps, events.EventLogin) && hasEvent(ps, events.EventInputQRCode) && hasEvent(ps, events.EventStateChange)
	})
	in := injectEverything(t, s)
	rc.waitFor(t, 15*time.Second, "every injected item", in.arrived)
	s.stop()
	ps := rc.waitFor(t, 15*time.Second, "the stop events", func(ps []post) bool {
		if !hasEvent(ps, events.EventStop) {
			return false
		}
		for _, p := range ps {
			if p.isEvent(events.EventStateChange) && strings.Contains(string(p.Body), `"stop"`) {
				return true
			}
		}
		return false
	})

	var states [][2]string
	seen := map[string]bool{}
	for _, p := range ps {
		checkPOST(t, p)
		switch pt := p.str("post_type"); pt {
		case events.PostReceiveMessage:
			checkMessage(t, p, in)
			seen[p.str("type")+"/"+p.str("via")] = true
		case events.PostEvent:
			name := p.str("event")
			seen[name] = true
			if len(p.Item) != 3 {
				t.Errorf("event %s has keys %v, want event, params, post_type", name, keys(p.Item))
			}
			switch name {
			case events.EventStateChange:
				ps := params(t, p)
				if len(ps) != 2 {
					t.Fatalf("state_change params %v", ps)
				}
				old, _ := ps[0].(string)
				nw, _ := ps[1].(string)
				states = append(states, [2]string{old, nw})
			case events.EventLogin:
				ps := params(t, p)
				if len(ps) != 1 || !isJSONInt(ps[0]) || (ps[0].(json.Number).String() != "1" && ps[0].(json.Number).String() != "0") {
					t.Errorf("login params %v, want [1] or [0]", ps)
				}
			case events.EventStop:
				if ps := params(t, p); len(ps) != 0 {
					t.Errorf("stop params %v, want []", ps)
				}
			case events.EventInputQRCode:
				checkQRCode(t, params(t, p))
			case events.EventNewFriend:
				if o := objectParam(t, p, 0); idOf(o) != 3000000001 || o["name"] != "新朋友" {
					t.Errorf("new_friend %v", o)
				}
			case events.EventLoseFriend:
				if o := objectParam(t, p, 0); idOf(o) != friendID {
					t.Errorf("lose_friend %v", o)
				}
			case events.EventNewGroup:
				if o := objectParam(t, p, 0); idOf(o) != 3000000002 {
					t.Errorf("new_group %v", o)
				}
			case events.EventLoseGroup:
				if o := objectParam(t, p, 0); idOf(o) != otherGroupID {
					t.Errorf("lose_group %v", o)
				}
			case events.EventNewGroupMember:
				m, g := objectParam(t, p, 0), objectParam(t, p, 1)
				if idOf(m) != 3000000003 || idOf(g) != adminGroupID || len(params(t, p)) != 2 {
					t.Errorf("new_group_member %v", params(t, p))
				}
			case events.EventLoseGroupMember:
				m, g := objectParam(t, p, 0), objectParam(t, p, 1)
				if idOf(m) != friendID || idOf(g) != adminGroupID || len(params(t, p)) != 2 {
					t.Errorf("lose_group_member %v", params(t, p))
				}
			default:
				t.Errorf("event %q is not in the default post_event_list", name)
			}
		default:
			t.Errorf("post_type %q: %s", pt, p.Body)
		}
	}
	for _, want := range []string{"friend_message/", "group_message/", "discuss_message/", "sess_message/group", "sess_message/discuss",
		"state_change", "input_qrcode", "login", "new_friend", "lose_friend", "new_group", "lose_group", "new_group_member", "lose_group_member", "stop"} {
		if !seen[want] {
			t.Errorf("%s never reached post_api", want)
		}
	}
	for _, want := range [][2]string{{"init", "loading"}, {"loading", "scaning"}, {"scaning", "confirming"}, {"confirming", "updating"}, {"updating", "running"}, {"running", "stop"}} {
		if !slices.Contains(states, want) {
			t.Errorf("state_change %v missing; got %v", want, states)
		}
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func checkMessage(t *testing.T, p post, in injected) {
	t.Helper()
	id, _ := p.num("id")
	typ := p.str("type")
	where := fmt.Sprintf("%s %d", typ, id)
	if want, ok := in.msgs[id]; !ok || want != typ {
		t.Errorf("%s: not an injected message (want type %q)", where, want)
	}
	checkIDs(t, where, p.Item)
	if p.str("class") != events.ClassRecv {
		t.Errorf("%s: class %q", where, p.str("class"))
	}
	need := []string{"id", "type", "class", "time", "content", "post_type", "sender", "sender_id", "sender_uid", "receiver", "receiver_id", "receiver_uid"}
	var absent []string
	switch typ {
	case events.FriendMessage:
		absent = []string{"group_id", "discuss_id"}
		if p.str("content") != "friend\nline two\n" {
			t.Errorf("%s: content %q lost its line breaks", where, p.str("content"))
		}
	case events.GroupMessage:
		need = append(need, "group", "group_id", "group_uid")
		absent = []string{"discuss_id"}
		if g, _ := p.num("group_id"); g != adminGroupID {
			t.Errorf("%s: group_id %d", where, g)
		}
		if p.str("content") != `group <&> "quoted"` {
			t.Errorf("%s: content %q", where, p.str("content"))
		}
	case events.DiscussMessage:
		need = append(need, "discuss", "discuss_id")
		absent = []string{"group_id"}
	case events.SessMessage:
		switch p.str("via") {
		case "group":
			need = append(need, "group", "group_id", "group_uid")
			absent = []string{"discuss_id"}
		case "discuss":
			need = append(need, "discuss", "discuss_id")
			absent = []string{"group_id"}
		default:
			t.Errorf("%s: via %q", where, p.str("via"))
		}
	}
	for _, k := range need {
		if _, ok := p.Item[k]; !ok {
			t.Errorf("%s: key %q missing: %s", where, k, p.Body)
		}
	}
	for _, k := range absent {
		if _, ok := p.Item[k]; ok {
			t.Errorf("%s: key %q should be absent: %s", where, k, p.Body)
		}
	}
	if r, _ := p.num("receiver_id"); r != myID {
		t.Errorf("%s: receiver_id %d, want the account %d", where, r, myID)
	}
}

func checkQRCode(t *testing.T, ps []any) {
	t.Helper()
	if len(ps) != 2 {
		t.Fatalf("input_qrcode params: %d, want [path, base64]", len(ps))
	}
	path, _ := ps[0].(string)
	b64, _ := ps[1].(string)
	if !strings.HasSuffix(path, ".png") {
		t.Errorf("input_qrcode path %q", path)
	}
	if !strings.HasSuffix(b64, "\n") {
		t.Errorf("input_qrcode base64 does not end with a line break")
	}
	for _, line := range strings.Split(strings.TrimSuffix(b64, "\n"), "\n") {
		if len(line) > 76 {
			t.Errorf("input_qrcode base64 line of %d chars", len(line))
			break
		}
	}
	png, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(b64, "\n", ""))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("input_qrcode is not a base64 PNG: %v", err)
	}
}

// barrier injects a group message and waits for it: with PostConcurrency 1 everything stored
// before it has been delivered by then.
// barrier waits until everything stored before it was delivered: a message after everything,
// then the target's consumers settled (the conversations of other partitions may trail it).
func barrier(t *testing.T, s *system, rc *receiver) []post {
	t.Helper()
	id := s.mustInject(t, events.Injection{Type: events.GroupMessage, GroupID: adminGroupID, SenderID: plainMemberID, Content: "barrier"})
	rc.waitFor(t, 15*time.Second, "the barrier message", func(ps []post) bool {
		return hasMessage(ps, id, events.PostReceiveMessage)
	})
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	return rc.all()
}

func eventNames(ps []post) []string {
	var out []string
	for _, p := range ps {
		if p.str("post_type") == events.PostEvent {
			out = append(out, p.str("event"))
		}
	}
	return out
}

func TestDeliveryPostEventOff(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	rc := newReceiver(t, nil)
	cfg := fastConfig(rc.url())
	cfg.PostEvent, cfg.PostConcurrency = false, 1
	runReporter(t, s.srv, cfg)
	in := injectEverything(t, s)
	ps := barrier(t, s, rc)
	for id := range in.msgs {
		if !hasMessage(ps, id, events.PostReceiveMessage) {
			t.Errorf("message %d not delivered", id)
		}
	}
	if names := eventNames(ps); len(names) != 0 {
		t.Errorf("POST_EVENT=0 delivered events %v", names)
	}
}

func TestDeliveryCustomEventList(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	rc := newReceiver(t, nil)
	cfg := fastConfig(rc.url())
	cfg.PostEventList, cfg.PostConcurrency = []string{events.EventNewFriend}, 1
	runReporter(t, s.srv, cfg)
	in := injectEverything(t, s)
	ps := barrier(t, s, rc)
	for id := range in.msgs {
		if !hasMessage(ps, id, events.PostReceiveMessage) {
			t.Errorf("message %d not delivered", id)
		}
	}
	if names := eventNames(ps); !slices.Equal(names, []string{events.EventNewFriend}) {
		t.Errorf("POST_EVENT_LIST=new_friend delivered events %v, want [new_friend]", names)
	}
}

func TestDeliverySignature(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-签名"
	s := startSystem(t)
	rc := newReceiver(t, nil)
	cfg := fastConfig(rc.url())
	cfg.PostSecret = secret
	runReporter(t, s.srv, cfg)
	id := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "signed"})
	ps := rc.waitFor(t, 15*time.Second, "the message", func(ps []post) bool { return hasMessage(ps, id, events.PostReceiveMessage) })
	for _, p := range ps {
		sig := p.Header.Get("X-Signature")
		if sig != Sign(secret, p.Body) {
			t.Errorf("X-Signature %q does not verify for %s", sig, p.Body)
		}
		if sig == Sign("other", p.Body) {
			t.Errorf("X-Signature verifies with the wrong secret")
		}
	}
	// Without a secret there is no signature.
	rc2 := newReceiver(t, nil)
	runReporter(t, s.srv, fastConfig(rc2.url()))
	ps = rc2.waitFor(t, 15*time.Second, "the message", func(ps []post) bool { return hasMessage(ps, id, events.PostReceiveMessage) })
	for _, p := range ps {
		if sig, ok := p.Header["X-Signature"]; ok {
			t.Errorf("unsigned reporter sent X-Signature %q", sig)
		}
	}
}

// Two POST_API URLs each get every item, and one that is down does not hold up the other.
func TestDeliveryTwoTargets(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	a := newReceiver(t, nil)
	b := newReceiver(t, func(post) answer { return answer{status: http.StatusServiceUnavailable} })
	runReporter(t, s.srv, fastConfig(a.url(), b.url()))
	in := injectEverything(t, s)
	psA := a.waitFor(t, 15*time.Second, "every item at A while B refuses", in.arrived)
	if len(b.all()) == 0 {
		t.Errorf("B was never tried")
	}
	b.setRespond(nil)
	psB := b.waitFor(t, 15*time.Second, "every item at B once it is back", in.arrived)

	itemKeys := func(ps []post) map[string]bool {
		out := map[string]bool{}
		for _, p := range ps {
			out[p.str("post_type")+" "+p.str("event")+" "+fmt.Sprint(p.Item["id"])+" "+fmt.Sprint(p.Item["params"])] = true
		}
		return out
	}
	// B was behind: wait until it has caught up on everything A has seen.
	waitUntil(t, 15*time.Second, "B has every item A has", func() bool {
		ka, kb := itemKeys(psA), itemKeys(b.accepted())
		for k := range ka {
			if !kb[k] {
				return false
			}
		}
		return true
	})
	_ = psB
	if ca, cb := a.all()[0].Header.Get("X-Openqq-Delivery"), b.all()[0].Header.Get("X-Openqq-Delivery"); ca == "" || cb == "" {
		t.Errorf("delivery headers %q %q", ca, cb)
	}
}

// POST_STDOUT prints each item as one JSON line.
func TestDeliveryStdout(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	cfg := fastConfig()
	cfg.PostStdout = true
	out := &proctest.SyncBuffer{}
	r, err := New(natstest.Connect(t, s.srv), cfg, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if r.stdout == nil {
		t.Fatal("POST_STDOUT=1 but no stdout target")
	}
	r.stdout.w = out
	startRun(t, r)

	in := injectEverything(t, s)
	// Everything on the stream that post_api would get is printed, once per line.
	var stored []string
	for _, m := range s.streamItems(t, "qq.events.>") {
		if slices.Contains(r.filterSubjects(), m.Subject) {
			stored = append(stored, string(m.Data))
		}
	}
	var lines []string
	waitUntilf(t, 15*time.Second, func() string {
		return fmt.Sprintf("%d lines for %d stored items:\n%s", len(lines), len(stored), out.String())
	}, func() bool {
		lines = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		return len(lines) >= len(stored) && out.String() != ""
	})
	if !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("output does not end with a line break")
	}
	slices.Sort(lines)
	slices.Sort(stored)
	if !slices.Equal(lines, stored) {
		t.Errorf("stdout lines differ from the stored items:\n got %q\nwant %q", lines, stored)
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("line is not a JSON object: %q", l)
		}
	}
	n := 0
	for _, l := range lines {
		for id := range in.msgs {
			if strings.Contains(l, fmt.Sprintf(`"id":%d`, id)) {
				n++
			}
		}
	}
	if n != len(in.msgs) {
		t.Errorf("%d of %d injected messages printed", n, len(in.msgs))
	}
}

// One receiver that hangs does not stall delivery to another.
func TestDeliverySlowTargetDoesNotStallOther(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	a := newReceiver(t, nil)
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	b := newReceiver(t, func(post) answer {
		<-release
		return answer{status: http.StatusOK}
	})
	t.Cleanup(free) // before b's server closes: it waits for its handlers
	runReporter(t, s.srv, fastConfig(a.url(), b.url()))
	var ids []int64
	for i := range 20 {
		ids = append(ids, s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: fmt.Sprint("m", i)}))
	}
	all := func(ps []post) bool {
		for _, id := range ids {
			if !hasMessage(ps, id, events.PostReceiveMessage) {
				return false
			}
		}
		return true
	}
	a.waitFor(t, 15*time.Second, "every message at A while B hangs", all)
	if n := len(b.accepted()); n != 0 {
		t.Fatalf("B answered %d while held", n)
	}
	free()
	b.waitFor(t, 20*time.Second, "every message at B once it answers", all)
}

// A receiver may call the API from inside its handler before it answers (many bots do, one
// request at a time): the API keeps serving while the POST waits.
func TestDeliveryReceiverCallsAPIFromItsHandler(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	var mu sync.Mutex
	var apiReplies []string
	rc := newReceiver(t, func(p post) answer {
		if p.str("post_type") != events.PostReceiveMessage {
			return answer{status: http.StatusOK}
		}
		m, err := s.nc.Request("qq.api.send_friend_message", []byte(fmt.Sprintf(`{"id":"%d","content":"from inside"}`, friendID)), 5*time.Second)
		mu.Lock()
		if err != nil {
			apiReplies = append(apiReplies, "error: "+err.Error())
		} else {
			apiReplies = append(apiReplies, string(m.Data))
		}
		mu.Unlock()
		return answer{status: http.StatusOK, ctype: "application/json", body: `{"reply":"and the answer"}`}
	})
	cfg := fastConfig(rc.url())
	cfg.PostConcurrency = 1
	runReporter(t, s.srv, cfg)
	s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "call the API"})
	rc.waitFor(t, 15*time.Second, "both sent messages' reports", func(ps []post) bool {
		var api, reply bool
		for _, p := range ps {
			if p.str("post_type") == events.PostSendMessage {
				api = api || p.str("content") == "from inside" && p.str("from") == "api"
				reply = reply || p.str("content") == "and the answer" && p.str("from") == events.FromReply
			}
		}
		return api && reply
	})
	mu.Lock()
	defer mu.Unlock()
	if len(apiReplies) != 1 || !strings.Contains(apiReplies[0], `"code":0`) {
		t.Errorf("API called from the handler: %q", apiReplies)
	}
}

// A restarted reporter keeps its place: what was delivered is not delivered again, what came
// while it was away is; and it takes the new POST_EVENT_LIST.
func TestDeliveryRestartKeepsPositionAndTakesNewFilter(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	rc := newReceiver(t, nil)
	cfg := fastConfig(rc.url())
	cfg.PostEventList = []string{events.EventNewFriend}
	_, stop := runReporter(t, s.srv, cfg)
	first := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "first"})
	rc.waitFor(t, 15*time.Second, "the first message", func(ps []post) bool { return hasMessage(ps, first, events.PostReceiveMessage) })
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	stop()

	second := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "while away"})
	s.mustInject(t, events.Injection{Event: events.EventLoseFriend, FriendID: 2372843426})
	cfg.PostEventList = nil // the default list, lose_friend included
	runReporter(t, s.srv, cfg)
	third := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "after"})
	s.mustInject(t, events.Injection{Event: events.EventLoseFriend, FriendID: 2372851345})
	rc.waitFor(t, 15*time.Second, "the messages since, and lose_friend", func(ps []post) bool {
		n := 0
		for _, p := range ps {
			if p.isEvent(events.EventLoseFriend) {
				n++
			}
		}
		return hasMessage(ps, second, events.PostReceiveMessage) && hasMessage(ps, third, events.PostReceiveMessage) && n >= 1
	})
	s.waitConsumerIdle(t, consumerName(rc.url()), 15*time.Second)
	ps := rc.accepted()
	n := 0
	for _, p := range ps {
		if id, _ := p.num("id"); id == first {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the first message was delivered %d times across the restart, want 1", n)
	}
	// The login events came once, with the first run's backfill, not again.
	if slices.Contains(eventNames(ps), events.EventLogin) {
		t.Errorf("login delivered although the list was only new_friend at first")
	}
	lose := 0
	for _, p := range ps {
		if p.isEvent(events.EventLoseFriend) {
			lose++
		}
	}
	if lose == 0 {
		t.Errorf("lose_friend after the restart not delivered: the new POST_EVENT_LIST was not taken")
	}
}
