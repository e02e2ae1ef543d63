package sim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/sim"
	"github.com/openqq/openqq/services/session/wxroster"
)

// sink records what the sim reports; each report is also sent on ch.
type sink struct {
	mu       sync.Mutex
	logins   []bool
	rosters  []*wxroster.Roster
	received []wxdriver.Incoming
	qr       [][]byte
	ch       chan string
}

func newSink() *sink { return &sink{ch: make(chan string, 100)} }

func (k *sink) State(events.State)        {}
func (k *sink) QRCode(_ string, b []byte) { k.mu.Lock(); k.qr = append(k.qr, b); k.mu.Unlock() }
func (k *sink) LoggedIn(r *wxroster.Roster, scanned bool) {
	k.mu.Lock()
	k.logins, k.rosters = append(k.logins, scanned), append(k.rosters, r)
	k.mu.Unlock()
	k.ch <- "login"
}
func (k *sink) Receive(_ context.Context, in wxdriver.Incoming) (string, error) {
	k.mu.Lock()
	k.received = append(k.received, in)
	k.mu.Unlock()
	k.ch <- "receive"
	return "r", nil
}
func (k *sink) Change(context.Context, wxdriver.Change) error { k.ch <- "change"; return nil }
func (k *sink) Sent(context.Context, wxdriver.SentMessage) (string, error) {
	k.ch <- "sent"
	return "s", nil
}
func (k *sink) ChangeProperty(context.Context, wxdriver.PropertyChange) error {
	k.ch <- "property"
	return nil
}
func (k *sink) FriendRequest(context.Context, wx.FriendRequest) error { k.ch <- "request"; return nil }

// next waits for the next report of the kind; the others are skipped.
func (k *sink) next(t *testing.T, kind string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-k.ch:
			if got == kind {
				return
			}
		case <-timeout:
			t.Fatalf("no %s reported", kind)
		}
	}
}

// run runs s until the test ends and waits for its login.
func run(t *testing.T, s *sim.Sim) *sink {
	t.Helper()
	k := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			s.Run(ctx, k)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	k.next(t, "login")
	return k
}

func friendBy(t *testing.T, ro *wxroster.Roster, p events.Params) wx.Friend {
	t.Helper()
	f := ro.FindFriend(p)
	if f == nil {
		t.Fatalf("no friend %v", p)
	}
	return *f
}

func TestRegistered(t *testing.T) {
	for _, cfg := range []any{sim.Config{QRCodeDir: t.TempDir()}, &sim.Config{QRCodeDir: t.TempDir()}} {
		d, err := wxdriver.Open("sim", cfg, wxdriver.Params{Account: "wxdrivertest"})
		if err != nil {
			t.Fatalf("Open(sim, %T): %v", cfg, err)
		}
		if _, ok := d.(*sim.Sim); !ok {
			t.Errorf("Open(sim) made a %T", d)
		}
	}
	if !slices.Contains(wxdriver.Drivers(), "sim") {
		t.Errorf("Drivers() = %v", wxdriver.Drivers())
	}
	t.Setenv("WX_SIM_ROSTER", "/nonexistent/roster.json")
	if _, err := wxdriver.Open("sim", nil, wxdriver.Params{}); err == nil {
		t.Error("Open(sim, nil) did not read WX_SIM_ROSTER from the environment")
	}
	t.Setenv("WX_SIM_ROSTER", "")
	t.Setenv("WX_SIM_REPLY_DELAY", "soon")
	if _, err := wxdriver.Open("sim", nil, wxdriver.Params{}); err == nil {
		t.Error("a malformed WX_SIM_REPLY_DELAY was taken")
	}
}

// 小冰 answers everything, and so do the configured answerers; the others do not.
func TestAnswers(t *testing.T) {
	s := newSim(t, sim.Config{ReplyDelay: time.Nanosecond, Answerers: []string{sim.XiaoiceAccount, "lina-nobody", "wxid_sim000"}})
	k := run(t, s)
	ro := s.Roster()
	xiaoice := friendBy(t, ro, events.Params{"account": sim.XiaoiceAccount})
	wang := friendBy(t, ro, events.Params{"markname": "老王"}) // wxid_sim000
	ctx := context.Background()
	for _, f := range []wx.Friend{xiaoice, wang} {
		if _, err := s.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: f.ID, Content: "在吗"}); err != nil {
			t.Fatal(err)
		}
		k.next(t, "receive")
		k.mu.Lock()
		got := k.received[len(k.received)-1]
		k.mu.Unlock()
		if got.SenderID != f.ID || got.Type != wx.FriendMessage || !bytes.Contains([]byte(got.Content), []byte("在吗")) || got.MsgID == "" {
			t.Errorf("answer %+v, want one from %s quoting the question", got, f.ID)
		}
	}
	// A friend who does not answer: nothing comes; a later answer from 小冰 shows the order.
	other := friendBy(t, ro, events.Params{"markname": "表妹"})
	if _, err := s.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: other.ID, Content: "你好"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: xiaoice.ID, Content: "再问"}); err != nil {
		t.Fatal(err)
	}
	k.next(t, "receive")
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, in := range k.received {
		if in.SenderID == other.ID {
			t.Errorf("a friend who is no answerer answered: %+v", in)
		}
	}
}

func TestRevokeTooOld(t *testing.T) {
	s := newSim(t, sim.Config{RevokeWindow: time.Minute})
	now := time.Now()
	sim.SetClock(s, func() time.Time { return now })
	run(t, s)
	wang := friendBy(t, s.Roster(), events.Params{"markname": "老王"})
	id, err := s.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: wang.ID, Content: "x"})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute + time.Second)
	if err := s.Revoke(context.Background(), id, wang.ID); !errors.Is(err, wxdriver.ErrTooOld) {
		t.Errorf("Revoke of an old message: %v, want ErrTooOld", err)
	}
	if s.Sent()[0].Revoked {
		t.Error("the old message was revoked")
	}
}

// A dropped connection logs in again with the cookie: no QR code, login [0], same ids; a
// new Run after a cancel scans again.
func TestCookieRelogin(t *testing.T) {
	s := newSim(t, sim.Config{})
	k := run(t, s)
	before := s.Roster()
	s.Drop()
	k.next(t, "login")
	k.mu.Lock()
	logins, qrs := slices.Clone(k.logins), len(k.qr)
	k.mu.Unlock()
	if !slices.Equal(logins, []bool{true, false}) || qrs != 1 {
		t.Errorf("logins scanned %v with %d QR codes, want [true false] and 1", logins, qrs)
	}
	if after := s.Roster(); after.User.ID != before.User.ID || after.Groups[0].ID != before.Groups[0].ID {
		t.Error("the ids changed on a cookie login")
	}
	if !bytes.HasPrefix(k.qr[0], []byte("\xff\xd8\xff")) {
		t.Error("the QR code is not a JPEG")
	}
}

func TestRosterFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "roster.json")
	os.WriteFile(good, []byte(`{"user":{"id":"@me","name":"我"},"friends":[{"id":"@a","name":"甲","category":"好友"}],"groups":[{"id":"@@g","name":"群","member":[{"id":"@me"},{"id":"@b","name":"乙"}]}]}`), 0o644)
	s := newSim(t, sim.Config{Roster: good})
	k := run(t, s)
	k.mu.Lock()
	ro := k.rosters[0]
	k.mu.Unlock()
	if len(ro.Friends) != 1 || ro.Friends[0].Name != "甲" || ro.Friends[0].ID == "@a" || len(ro.Groups[0].Member) != 2 {
		t.Errorf("the roster from the file, after a QR login (new ids): %+v", ro)
	}
	for name, body := range map[string]string{
		"not json":      `{`,
		"unknown field": `{"user":{"id":"@me"},"discusses":[]}`,
		"invalid":       `{"user":{"id":""}}`,
	} {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := sim.New(sim.Config{Roster: p}, wxdriver.Params{}); err == nil {
			t.Errorf("%s: the roster file was taken", name)
		}
	}
}

func TestInjectionRefusals(t *testing.T) {
	s := newSim(t, sim.Config{})
	if _, err := s.Inject(context.Background(), wx.Injection{Type: wx.FriendMessage}); !isCode(err, events.CodeNotReady) {
		t.Errorf("an injection before login: %v, want code %d", err, events.CodeNotReady)
	}
	run(t, s)
	ro := s.Roster()
	wang := friendBy(t, ro, events.Params{"markname": "老王"})
	g := ro.Groups[0]
	cases := []struct {
		name string
		in   wx.Injection
		code int
	}{
		{"both type and event", wx.Injection{Type: wx.FriendMessage, Event: events.EventNewFriend}, events.CodeBadRequest},
		{"text without content", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID}, events.CodeBadRequest},
		{"unknown format", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: "gif", Content: "x"}, events.CodeBadRequest},
		{"unknown media type", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatMedia, MediaType: "hologram", MediaData: []byte("x")}, events.CodeBadRequest},
		{"app without title", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatApp}, events.CodeBadRequest},
		{"card without name", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatCard, Card: &wx.Card{}}, events.CodeBadRequest},
		{"revoke without id", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Format: wx.FormatRevoke}, events.CodeBadRequest},
		{"unknown source", wx.Injection{Type: wx.FriendMessage, SenderID: wang.ID, Content: "x", Source: "moon"}, events.CodeBadRequest},
		{"group message from a stranger", wx.Injection{Type: wx.GroupMessage, GroupID: g.ID, SenderID: "@x", Content: "x"}, events.CodeNotFound},
		{"notice in no group", wx.Injection{Type: wx.GroupNotice, GroupID: "@@x", Content: "x"}, events.CodeNotFound},
		{"sent elsewhere to a stranger", wx.Injection{Type: wx.FriendMessage, Source: wx.SourceOuter, ReceiverID: "@x", Content: "x"}, events.CodeNotFound},
		{"sent elsewhere as a notice", wx.Injection{Type: wx.GroupNotice, Source: wx.SourceOuter, GroupID: g.ID, Content: "x"}, events.CodeBadRequest},
		{"new friend twice", wx.Injection{Event: events.EventNewFriend, Friend: &wx.Friend{ID: wang.ID}}, events.CodeFailure},
		{"new friend without friend", wx.Injection{Event: events.EventNewFriend}, events.CodeBadRequest},
		{"lose a stranger", wx.Injection{Event: events.EventLoseFriend, FriendID: "@x"}, events.CodeFailure},
		{"new group with a contact id", wx.Injection{Event: events.EventNewGroup, Group: &wx.Group{ID: "@x"}}, events.CodeBadRequest},
		{"property of nobody", wx.Injection{Event: wx.EventFriendPropertyChange, FriendID: "@x", Property: "name", Value: "x"}, events.CodeNotFound},
		{"property without its object", wx.Injection{Event: wx.EventGroupPropertyChange, Property: "name", Value: "x"}, events.CodeBadRequest},
		{"unsettable property", wx.Injection{Event: wx.EventFriendPropertyChange, FriendID: wang.ID, Property: "id", Value: "x"}, events.CodeBadRequest},
		{"unchanged property", wx.Injection{Event: wx.EventFriendPropertyChange, FriendID: wang.ID, Property: "markname", Value: "老王"}, events.CodeFailure},
		{"friend request from a friend", wx.Injection{Event: events.EventFriendRequest, Friend: &wx.Friend{ID: wang.ID, Name: "x"}}, events.CodeFailure},
		{"friend request without a name", wx.Injection{Event: events.EventFriendRequest, Friend: &wx.Friend{}}, events.CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Inject(context.Background(), c.in); !isCode(err, c.code) {
				t.Errorf("Inject: %v, want code %d", err, c.code)
			}
		})
	}
}

func isCode(err error, code int) bool {
	var st *events.Status
	return errors.As(err, &st) && st.Code == code
}

// The admin calls refuse what WeChat refuses, and MakeFriend leaves a request behind.
func TestAdminRules(t *testing.T) {
	s := newSim(t, sim.Config{})
	ctx := context.Background()
	if _, err := s.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: "filehelper", Content: "x"}); err == nil {
		t.Error("a send before login succeeded")
	}
	run(t, s)
	ro := s.Roster()
	var notOwned, owned wx.Group
	for _, g := range ro.Groups {
		if g.OwnerUID == ro.User.UID {
			owned = g
		} else {
			notOwned = g
		}
	}
	if err := s.Kick(ctx, notOwned.ID, []string{notOwned.Member[1].ID}); err == nil {
		t.Error("a kick in a group the account does not own succeeded")
	}
	if err := s.Kick(ctx, owned.ID, []string{ro.User.ID}); err == nil {
		t.Error("the account kicked itself")
	}
	pay := friendBy(t, ro, events.Params{"account": sim.PayAccount})
	if _, err := s.CreateGroup(ctx, "x", []string{pay.ID}); err == nil {
		t.Error("a group with an official account was created")
	}
	if _, err := s.CreateGroup(ctx, "x", nil); err == nil {
		t.Error("a group of nobody was created")
	}
	wang := friendBy(t, ro, events.Params{"markname": "老王"})
	if err := s.MakeFriend(ctx, wang.ID, "x"); err == nil {
		t.Error("make_friend with a friend succeeded")
	}
	var stranger wx.Member
	for _, m := range owned.Member {
		if ro.Friend(m.ID) == nil && m.ID != ro.User.ID {
			stranger = m
		}
	}
	if err := s.MakeFriend(ctx, stranger.ID, "你好"); err != nil {
		t.Fatal(err)
	}
	if got := s.FriendRequestsSent(); len(got) != 1 || got[0].ID != stranger.ID || got[0].Verify != "你好" {
		t.Errorf("FriendRequestsSent = %+v", got)
	}
	if s.Roster().Friend(stranger.ID) == nil {
		t.Error("the member who accepted is no friend")
	}
	// Avatars are stable per object and differ between objects.
	_, a1, _ := s.Avatar(ctx, wang.ID, "")
	_, a2, _ := s.Avatar(ctx, wang.ID, "")
	_, a3, _ := s.Avatar(ctx, pay.ID, "")
	if !bytes.Equal(a1, a2) || bytes.Equal(a1, a3) {
		t.Error("avatars are not one per object")
	}
}

// The sends it remembers hold at most a few MB of media bytes (a benchmark sends 100 MB), the
// oldest keeping their description only; the latest keeps its bytes whatever their size.
func TestSentMediaBytesBounded(t *testing.T) {
	s := newSim(t, sim.Config{})
	run(t, s)
	wang := friendBy(t, s.Roster(), events.Params{"markname": "老王"})
	send := func(size int) []byte {
		t.Helper()
		b := bytes.Repeat([]byte{byte(size)}, size)
		m := &wxdriver.Media{Meta: wxdriver.MediaMeta{ID: "m:3", Type: "image", Name: "a.jpg", Size: int64(size)},
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
		if _, err := s.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: wang.ID, Media: m}); err != nil {
			t.Fatal(err)
		}
		return b
	}
	const n = 10
	var last []byte
	for range n {
		last = send(1 << 20)
	}
	sent := s.Sent()
	held := 0
	for _, d := range sent {
		held += len(d.MediaData)
		if d.Media == nil || d.Media.Size != 1<<20 {
			t.Errorf("a send lost its media's description: %+v", d.Media)
		}
	}
	if len(sent) != n || held > 4<<20 || !bytes.Equal(sent[n-1].MediaData, last) {
		t.Errorf("%d sends hold %d bytes of media (latest %d bytes), want %d sends, at most 4 MB, the latest whole", len(sent), held, len(sent[n-1].MediaData), n)
	}
	big := send(6 << 20)
	if got := s.Sent(); !bytes.Equal(got[len(got)-1].MediaData, big) {
		t.Errorf("the latest send, 6 MB, kept %d bytes", len(got[len(got)-1].MediaData))
	}
}
