package reporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/natstest"
	"github.com/openqq/openqq/pkg/infra/proctest"
)

// The accounts: the session (openqq-session, a session host) runs the default account from its
// environment and every account whose spec (DRIVER=sim) is put into the clients bucket directly,
// the desired-state contract the Controller writes; those are injected into through
// qq.sim.<client>.inject. Where a test needs many items of precise conversations, or of an
// account no session runs, they are stored on the account's subjects (qq.events.<client>.<name>)
// as its session stores them.

// clientsKV opens the clients bucket of the qq prefix, creating it if no host has yet (a
// bucket that exists is used as it is, as the hosts do).
func clientsKV(t testing.TB, js jetstream.JetStream) jetstream.KeyValue {
	t.Helper()
	ctx := context.Background()
	name := events.Subjects{Prefix: "qq"}.ClientsBucket()
	kv, err := js.KeyValue(ctx, name)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, History: 1})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// simAccount is the settings of a simulated account the session host runs.
func simAccount(t testing.TB, more map[string]string) map[string]string {
	out := map[string]string{"DRIVER": "sim", "SIM_QRCODE_DIR": t.TempDir()}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// injectAs has a named account the session host runs receive a message, once the account is
// there and ready; it returns the message's id.
func (s *system) injectAs(t testing.TB, client string, in events.Injection) int64 {
	t.Helper()
	data, _ := json.Marshal(in)
	subj := events.Subjects{Prefix: "qq", Client: client}.SimInject()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := s.nc.Request(subj, data, 5*time.Second)
		if err == nil {
			var rep events.InjectReply
			if err := json.Unmarshal(m.Data, &rep); err != nil {
				t.Fatalf("inject reply %q: %v", m.Data, err)
			}
			if rep.Code == events.CodeOK {
				return rep.ID
			}
			// Not logged in yet: not ready, or not running.
			err = fmt.Errorf("%+v", rep)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: injection not accepted within 30s (last: %v)", client, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func putSpec(t testing.TB, kv jetstream.KeyValue, client string, settings map[string]string) {
	t.Helper()
	b, _ := json.Marshal(events.ClientSpec{Client: client, Settings: settings, StartTime: time.Now().Unix(), Source: events.SourceController})
	if _, err := kv.Put(context.Background(), client, b); err != nil {
		t.Fatal(err)
	}
}

// friendMessage is a friend message an account received from sender.
func friendMessage(id, sender int64, content string) []byte {
	b, _ := json.Marshal(&events.Message{
		Class: "recv", Content: content, ID: id, PostType: events.PostReceiveMessage, Time: time.Now().Unix(),
		Type: events.FriendMessage, Sender: &events.Sender{Name: "peer", ID: sender, UID: sender},
		Receiver: &events.Receiver{Name: "me", ID: 1, UID: 1},
	})
	return b
}

// event is an account's event report (post_type event).
func event(name string) []byte {
	b, _ := json.Marshal(map[string]any{"post_type": events.PostEvent, "event": name, "params": []string{}})
	return b
}

// store stores an item of a named account on its subject, as its session would.
func (s *system) store(t testing.TB, client, name string, item []byte) {
	t.Helper()
	subj := events.Subjects{Prefix: "qq", Client: client}.Event(name)
	if _, err := s.js.Publish(context.Background(), subj, item); err != nil {
		t.Fatalf("store %s: %v", subj, err)
	}
}

// clientOf is the account a post names: its client= (none for the default account) and its
// header.
func clientOf(p post) (query, header string) {
	q, _ := url.ParseQuery(p.RawQuery)
	return q.Get(events.ParamClient), p.Header.Get(events.HTTPHeaderClient)
}

// TestAccountsDelivery: one reporter delivers every account's items, each by its own
// settings: the default account's to POST_API unchanged; another's with ?client=NAME and the
// header on every item; an account's own POST_API (its query kept, client= merged), its own
// POST_EVENT and POST_EVENT_LIST.
func TestAccountsDelivery(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	kv := clientsKV(t, s.js)
	shared := newReceiver(t, nil)
	bobs := newReceiver(t, nil)
	putSpec(t, kv, "alice", simAccount(t, nil))
	putSpec(t, kv, "bob", simAccount(t, map[string]string{"POST_API": bobs.url() + "?key=k1&client=spoof", "POST_EVENT": "0"}))
	putSpec(t, kv, "carol", simAccount(t, map[string]string{"POST_EVENT_LIST": "stop"}))
	runReporter(t, s.srv, fastConfig(shared.url()))

	id0 := s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "default's"})
	idA := s.injectAs(t, "alice", events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "alice's"})
	s.store(t, "alice", events.EventStop, event(events.EventStop))
	idB := s.injectAs(t, "bob", events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "bob's"})
	s.store(t, "bob", events.EventLogin, event(events.EventLogin)) // POST_EVENT=0: not bob's
	s.store(t, "carol", events.EventNewFriend, event(events.EventNewFriend))
	s.store(t, "carol", events.EventStop, event(events.EventStop))
	s.store(t, "dave", events.FriendMessage, friendMessage(4001, 44, "dave's")) // no spec: the reporter's settings

	has := func(ps []post, client string, match func(post) bool) bool {
		return slices.ContainsFunc(ps, func(p post) bool { q, _ := clientOf(p); return q == client && match(p) })
	}
	id := func(n int64) func(post) bool {
		return func(p post) bool { v, ok := p.num("id"); return ok && v == n }
	}
	isEvent := func(name string) func(post) bool { return func(p post) bool { return p.isEvent(name) } }
	shared.waitFor(t, 20*time.Second, "every account's items at the reporter's POST_API", func(ps []post) bool {
		return has(ps, "", id(id0)) && has(ps, "alice", id(idA)) && has(ps, "alice", isEvent(events.EventStop)) &&
			has(ps, "carol", isEvent(events.EventStop)) && has(ps, "dave", id(4001))
	})
	bobs.waitFor(t, 20*time.Second, "bob's message at bob's POST_API", func(ps []post) bool { return has(ps, "bob", id(idB)) })
	s.waitConsumerIdle(t, consumerName(shared.url()), 20*time.Second)
	s.waitConsumerIdle(t, newAccountTarget(nil, "bob", bobs.url()+"?key=k1&client=spoof", time.Time{}).consumer(), 20*time.Second)

	for _, p := range shared.all() {
		q, h := clientOf(p)
		switch q {
		case "":
			if p.RawQuery != "" || h != events.DefaultClient {
				t.Errorf("default account's item: query %q, %s %q; want the URL unchanged and %q", p.RawQuery, events.HTTPHeaderClient, h, events.DefaultClient)
			}
		case "alice", "carol", "dave":
			if p.RawQuery != "client="+q || h != q {
				t.Errorf("%s's item: query %q, header %q", q, p.RawQuery, h)
			}
		default:
			t.Errorf("an item of %q at the reporter's POST_API: %s", q, p.Body)
		}
		if q == "carol" && !p.isEvent(events.EventStop) {
			t.Errorf("carol's POST_EVENT_LIST=stop, got %s", p.Body)
		}
	}
	for _, p := range bobs.all() {
		if q, h := clientOf(p); p.RawQuery != "key=k1&client=bob" || q != "bob" || h != "bob" {
			t.Errorf("bob's item: query %q, header %q; want key=k1&client=bob and bob", p.RawQuery, h)
		}
		if p.str("post_type") == events.PostEvent {
			t.Errorf("bob's POST_EVENT=0, got %s", p.Body)
		}
	}
}

// TestAccountsAnswer: an answer to a named account's item is applied by that account (its own
// API subjects: its session sends the reply), and the default account's by the default
// account; neither sends the other's.
func TestAccountsAnswer(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	kv := clientsKV(t, s.js)
	// Each account's sent messages, from its own subjects only.
	sent := map[string]chan *events.Message{"default": make(chan *events.Message, 64), "alice": make(chan *events.Message, 64)}
	for c, ch := range sent {
		sub, err := s.nc.Subscribe(events.Subjects{Prefix: "qq", Client: c}.ClientEvents(), func(m *nats.Msg) {
			if it, err := events.DecodeItem(m.Data); err == nil {
				if msg, ok := it.(*events.Message); ok && msg.PostType == events.PostSendMessage {
					ch <- msg
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	rc := newReceiver(t, func(p post) answer {
		if p.str("post_type") != events.PostReceiveMessage {
			return answer{}
		}
		q, _ := clientOf(p)
		return answer{ctype: "application/json", body: `{"reply":"hello ` + cmpOr(q, "default") + `"}`}
	})
	putSpec(t, kv, "alice", simAccount(t, nil))
	runReporter(t, s.srv, fastConfig(rc.url()))
	s.injectAs(t, "alice", events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "hi"})
	s.mustInject(t, events.Injection{Type: events.FriendMessage, SenderID: friendID, Content: "hi"})

	for _, c := range []string{"alice", "default"} {
		select {
		case m := <-sent[c]:
			if m.Content != "hello "+c || m.Receiver == nil || m.Receiver.ID != friendID || m.From != events.FromReply {
				t.Errorf("%s sent %+v, want its answer hello %s to %d", c, m, c, friendID)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not send its answer", c)
		}
	}
	s.waitConsumerIdle(t, consumerName(rc.url()), 20*time.Second)
	for c, ch := range sent {
		select {
		case m := <-ch:
			t.Errorf("%s sent more: %q", c, m.Content)
		default:
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestAccountsOrderReplicas: with two reporter replicas (the reporter's targets split in
// partitions), each account's conversations arrive complete and in order, whatever the
// account and whichever receiver: accounts on the reporter's POST_API and one on its own.
func TestAccountsOrderReplicas(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	kv := clientsKV(t, s.js)
	// A receiver that refuses some first tries, so that retries happen mid-sequence.
	flaky := func(p post) answer {
		if a := p.Header.Get(events.HTTPHeaderAttempt); a == "1" && len(p.Body)%5 == 0 {
			return answer{status: 503}
		}
		return answer{}
	}
	shared := newReceiver(t, flaky)
	own := newReceiver(t, flaky)
	putSpec(t, kv, "carol", simAccount(t, map[string]string{"POST_API": own.url(), "POST_EVENT": "0"}))
	cfg := fastConfig(shared.url())
	cfg.PostPartitions = 4
	runReporter(t, s.srv, cfg)
	runReporter(t, s.srv, cfg)

	const perConv = 30
	accounts := []string{"alice", "bob", "carol"}
	peers := []int64{101, 102, 103}
	for i := range perConv {
		for _, c := range accounts {
			for _, p := range peers {
				s.store(t, c, events.FriendMessage, friendMessage(int64(i+1), p, strconv.Itoa(i)))
			}
		}
	}
	// Every conversation's contents, in arrival order, of the accepted posts.
	convs := func(ps []post) map[string][]int {
		out := map[string][]int{}
		for _, p := range ps {
			q, _ := clientOf(p)
			sender, _ := p.num("sender_id")
			n, _ := strconv.Atoi(p.str("content"))
			k := fmt.Sprintf("%s/%d", q, sender)
			out[k] = append(out[k], n)
		}
		return out
	}
	complete := func(m map[string][]int, clients ...string) bool {
		for _, c := range clients {
			for _, p := range peers {
				seen := map[int]bool{}
				for _, n := range m[fmt.Sprintf("%s/%d", c, p)] {
					seen[n] = true
				}
				if len(seen) < perConv {
					return false
				}
			}
		}
		return true
	}
	got := convs(shared.waitFor(t, 60*time.Second, "alice's and bob's conversations", func(ps []post) bool { return complete(convs(ps), "alice", "bob") }))
	ownGot := convs(own.waitFor(t, 60*time.Second, "carol's conversations", func(ps []post) bool { return complete(convs(ps), "carol") }))
	maps := []map[string][]int{got, ownGot}
	for _, m := range maps {
		for k, ns := range m {
			// A redelivery may repeat an item (at least once), never go back past a newer one.
			last := -1
			for _, n := range ns {
				if n < last {
					t.Errorf("%s out of order: %v", k, ns)
					break
				}
				last = n
			}
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "carol/") {
			t.Errorf("carol's item at the reporter's POST_API: %s", k)
		}
	}
	for k := range ownGot {
		if !strings.HasPrefix(k, "carol/") {
			t.Errorf("%s at carol's own POST_API", k)
		}
	}
}

// TestAccountsDeadReceiver: an account's own receiver that is down does not hold up another
// account's items: they arrive while the dead one's are still being retried, and those go to
// the dead letters as before, per item, under the account's own consumer.
func TestAccountsDeadReceiver(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	kv := clientsKV(t, s.js)
	shared := newReceiver(t, nil)
	dead := newReceiver(t, func(post) answer { return answer{status: 500} })
	// POST_EVENT=0: only the messages stored below go to bob's receiver, not the events of
	// bob's login (the session host runs bob too).
	putSpec(t, kv, "bob", simAccount(t, map[string]string{"POST_API": dead.url(), "POST_EVENT": "0"}))
	cfg := fastConfig(shared.url())
	cfg.PostMaxDeliver = 4
	cfg.PostRetryMin, cfg.PostRetryMax = time.Second, 2*time.Second
	runReporter(t, s.srv, cfg)
	bobTarget := newAccountTarget(nil, "bob", dead.url(), time.Time{}).consumer()

	// More of bob's conversations than POSTs in flight (POST_CONCURRENCY), each one retried.
	for i := range 3 * cfg.PostConcurrency {
		s.store(t, "bob", events.FriendMessage, friendMessage(int64(i+1), int64(500+i), "bob"))
	}
	if _, ok := dead.r.Wait(20*time.Second, func(rs []proctest.Request) bool { return len(rs) >= cfg.PostConcurrency }); !ok {
		t.Fatal("bob's receiver was not tried")
	}
	for i := range 10 {
		s.store(t, "alice", events.FriendMessage, friendMessage(int64(i+1), int64(600+i), "alice"))
	}
	shared.waitFor(t, 20*time.Second, "alice's items", func(ps []post) bool { return len(ps) >= 10 })
	if n := deadLetters(t, s.js, bobTarget); n != 0 {
		t.Errorf("alice's items waited for %d of bob's to be dead-lettered", n)
	}
	waitUntilf(t, 60*time.Second, func() string { return fmt.Sprintf("bob's %d items dead-lettered", 3*cfg.PostConcurrency) }, func() bool {
		return deadLetters(t, s.js, bobTarget) == 3*cfg.PostConcurrency
	})
	if n := len(dead.accepted()); n != 0 {
		t.Errorf("the dead receiver accepted %d", n)
	}
}

// deadLetters counts the parked items of a target.
func deadLetters(t testing.TB, js jetstream.JetStream, consumer string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.DeadLetterStreamName)
	if err != nil {
		return 0
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(events.Subjects{Prefix: "qq"}.DeadLetter(consumer)))
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Msgs)
}

// TestAccountsSpecGone: an account's own receiver keeps getting its items for a grace after its
// spec is deleted (its last words), and the reporter's POST_API none of them.
func TestAccountsSpecGone(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	kv := clientsKV(t, s.js)
	shared := newReceiver(t, nil)
	own := newReceiver(t, nil)
	putSpec(t, kv, "erin", simAccount(t, map[string]string{"POST_API": own.url()}))
	runReporter(t, s.srv, fastConfig(shared.url()))
	s.store(t, "erin", events.FriendMessage, friendMessage(1, 9, "before"))
	own.waitFor(t, 20*time.Second, "erin's message", func(ps []post) bool { return hasMessage(ps, 1, events.PostReceiveMessage) })
	if err := kv.Delete(context.Background(), "erin"); err != nil {
		t.Fatal(err)
	}
	s.store(t, "erin", events.EventStop, event(events.EventStop))
	own.waitFor(t, 20*time.Second, "erin's stop", func(ps []post) bool { return hasEvent(ps, events.EventStop) })
	s.waitConsumerIdle(t, consumerName(shared.url()), 20*time.Second)
	for _, p := range shared.all() {
		if q, _ := clientOf(p); q == "erin" {
			t.Errorf("erin's item at the reporter's POST_API: %s", p.Body)
		}
	}
}

// TestAccountsOnly: a reporter without a POST_API of its own delivers the accounts that have
// one (it does not idle as "not enabled").
func TestAccountsOnly(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	own := newReceiver(t, nil)
	cfg := fastConfig()
	if cfg.Enabled() {
		t.Fatal("a config without POST_API is enabled")
	}
	runReporter(t, s.srv, cfg)
	// The spec comes after the reporter started: it follows the bucket.
	putSpec(t, clientsKV(t, s.js), "frank", simAccount(t, map[string]string{"POST_API": own.url()}))
	s.store(t, "frank", events.FriendMessage, friendMessage(1, 9, "frank"))
	own.waitFor(t, 30*time.Second, "frank's message", func(ps []post) bool { return hasMessage(ps, 1, events.PostReceiveMessage) })
}

// TestAccountFrom: an account's settings over the reporter's, and the ones refused.
func TestAccountFrom(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	r, err := New(natstest.Connect(t, srv), Config{PostAPI: []string{"http://127.0.0.1:1/"}, PostEvent: true, PostMediaData: true}, natstest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	p := r.plat
	for _, tc := range []struct {
		name     string
		settings map[string]string
		own      []string
		wants    []string
		not      []string
		media    bool
		bad      bool
	}{
		{"none: the reporter's", nil, nil, []string{"friend_message", "login", "stop"}, []string{"nope"}, true, false},
		{"own URLs", map[string]string{"POST_API": " http://a/x , http://b/ "}, []string{"http://a/x", "http://b/"}, nil, nil, true, false},
		{"empty POST_API: the reporter's", map[string]string{"POST_API": " "}, nil, nil, nil, true, false},
		{"events off", map[string]string{"POST_EVENT": "0"}, nil, []string{"group_message"}, []string{"login"}, true, false},
		{"event list", map[string]string{"POST_EVENT_LIST": "stop, new_friend"}, nil, []string{"stop", "new_friend", "sess_message"}, []string{"login"}, true, false},
		{"media off", map[string]string{"POST_MEDIA_DATA": "false"}, nil, nil, nil, false, false},
		{"not delivery keys", map[string]string{"POST_SECRET": "x", "POST_TIMEOUT": "bad"}, nil, nil, nil, true, false},
		{"bad URL", map[string]string{"POST_API": "ftp://a/"}, nil, nil, nil, true, true},
		{"bad bool", map[string]string{"POST_EVENT": "maybe"}, nil, nil, nil, true, true},
		{"bad event", map[string]string{"POST_EVENT_LIST": "a.b"}, nil, nil, nil, true, true},
	} {
		a := r.accountFrom(events.ClientSpec{Client: "x", Settings: tc.settings}, time.Time{})
		if (a.err != nil) != tc.bad {
			t.Errorf("%s: err %v", tc.name, a.err)
			continue
		}
		if tc.bad {
			continue
		}
		if !slices.Equal(a.own, tc.own) || a.mediaData != tc.media {
			t.Errorf("%s: own %q media %v", tc.name, a.own, a.mediaData)
		}
		for _, n := range tc.wants {
			if !a.wants(p, n) {
				t.Errorf("%s: %s not wanted", tc.name, n)
			}
		}
		for _, n := range tc.not {
			if a.wants(p, n) {
				t.Errorf("%s: %s wanted", tc.name, n)
			}
		}
	}
	// The ordering key: the default account's as before accounts, another's with its client.
	for _, tc := range []struct{ subject, want string }{
		{"qq.events.friend_message", "friend.1"},
		{"qq.events.alice.friend_message", "alice/friend.1"},
		{"other.events.friend_message", "friend.1"},
	} {
		if got := r.orderKey(tc.subject, "friend.1"); got != tc.want {
			t.Errorf("orderKey(%s) = %q, want %q", tc.subject, got, tc.want)
		}
	}
}

// FuzzAccountFrom: any settings give an account or a refusal, never a panic, and an account's
// own URLs are http(s) URLs.
func FuzzAccountFrom(f *testing.F) {
	r := &Reporter{cfg: Config{PostEvent: true}, plat: newPlatform(events.PlatformQQ)}
	for _, s := range [][4]string{
		{"http://a/", "1", "stop,login", "0"}, {"", "", "", ""}, {"ftp://x", "yes", "a.b", "2"},
		{" http://a/?client=x , https://b ", "false", " ", "true"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, api, ev, list, media string) {
		a := r.accountFrom(events.ClientSpec{Settings: map[string]string{
			"POST_API": api, "POST_EVENT": ev, "POST_EVENT_LIST": list, "POST_MEDIA_DATA": media,
		}}, time.Time{})
		if a.err != nil {
			return
		}
		for _, u := range a.own {
			if checkURL(u) != nil {
				t.Fatalf("accepted POST_API %q", u)
			}
		}
	})
}
