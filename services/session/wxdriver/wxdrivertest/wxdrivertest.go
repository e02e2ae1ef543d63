// Package wxdrivertest is the conformance suite of WeChat drivers (package wxdriver), as
// drivertest is for QQ ones: a driver's own test calls Run with a Harness that makes the
// driver and the account behind it, and the suite checks, each in a subtest with a fresh
// pair, that the driver keeps the contract: login and its states, the roster handed over,
// every message format received, every send (text, media, both) and a failed send's code,
// revoke, the admin calls, avatars, roster changes, a lost connection, cancellation and a new
// QR login with new ids, and concurrent use (run it with -race). It drives the driver directly
// with a recording Sink: no session, no NATS. The optional capabilities the driver declares
// are tested; the others are skipped with a message that names them. A backend that cannot
// carry part of WeChat declares its Limits (LimitedAccount): the checks they rule out are
// skipped, each naming the limit and its reason, and the rest are checked.
package wxdrivertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/internal/conformance"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Run runs the conformance suite against the drivers h makes.
func Run(t *testing.T, h Harness) {
	tests := suite()
	ts := make([]conformance.Test[Harness], len(tests))
	for i, tc := range tests {
		ts[i] = conformance.Test[Harness]{Name: tc.Name, F: func(t *testing.T, h Harness) {
			// A test the backend cannot carry at all is skipped once its account says so.
			tc.F(t, func(t *testing.T) (wxdriver.Driver, Account) {
				d, acc := h(t)
				if la, ok := acc.(LimitedAccount); ok {
					la.Limits().skipCannot(t, tc.Name)
				}
				return d, acc
			})
		}}
	}
	conformance.RunAll(t, h, ts)
}

// suite is the suite's tests.
func suite() []conformance.Test[Harness] {
	return []conformance.Test[Harness]{
		{Name: "Login", F: testLogin},
		{Name: "RosterHandedOver", F: testRosterHandedOver},
		{Name: "Receive", F: testReceive},
		{Name: "Send", F: testSend},
		{Name: "SendFails", F: testSendFails},
		{Name: "Revoke", F: testRevoke},
		{Name: "CreateGroupAndInvite", F: testCreateGroupAndInvite},
		{Name: "Kick", F: testKick},
		{Name: "SetGroupName", F: testSetGroupName},
		{Name: "Stick", F: testStick},
		{Name: "SetMarkname", F: testSetMarkname},
		{Name: "MakeFriend", F: testMakeFriend},
		{Name: "Avatar", F: testAvatar},
		{Name: "AdminFails", F: testAdminFails},
		{Name: "RosterChanges", F: testRosterChanges},
		{Name: "LostConnection", F: testLostConnection},
		{Name: "CancelAndLogInAgain", F: testCancelAndLogInAgain},
		{Name: "Concurrent", F: testConcurrent},
		{Name: "Capability/FriendRequests", F: testFriendRequests},
		{Name: "Capability/SentElsewhere", F: testSentElsewhere},
		{Name: "Capability/Properties", F: testProperties},
		{Name: "Capability/Injection", F: testInjection},
		{Name: "Unsupported", F: testUnsupported},
	}
}

// testNames are the suite's tests, for Limits.Cannot.
func testNames() []string {
	var names []string
	for _, tc := range suite() {
		names = append(names, tc.Name)
	}
	return names
}

// rig is a driver running against its account, as the session runs it: a Run that ends with
// an error (not a fatal one) is called again, at once.
type rig struct {
	d    wxdriver.Driver
	acc  Account
	caps wxdriver.Capabilities
	// limits are the backend's, as its account declares them.
	limits Limits
	rec    *recorder
	fx     Fixture // of the first login
	run    conformance.Runner
}

// open makes a driver and its account, without running it. The check that no undeclared
// capability was used runs last, once the driver has stopped.
func open(t *testing.T, h Harness) *rig {
	t.Helper()
	d, acc := h(t)
	if d == nil || acc == nil {
		t.Fatal("wxdrivertest: the harness returned no driver or no account")
	}
	caps := d.Capabilities()
	r := &rig{d: d, acc: acc, caps: caps, rec: newRecorder(caps)}
	if la, ok := acc.(LimitedAccount); ok {
		r.limits = la.Limits()
		r.limits.checkNames(t, testNames())
	}
	r.run = conformance.Runner{Prefix: "wxdrivertest", Fatal: wxdriver.ErrFatal, Run: func(ctx context.Context) error { return d.Run(ctx, r.rec) }}
	r.rec.CheckViolations(t)
	return r
}

// start opens a driver, runs it and waits for its first login.
func start(t *testing.T, h Harness) *rig {
	t.Helper()
	r := open(t, h)
	r.start(t)
	return r
}

func (r *rig) start(t *testing.T) {
	t.Helper()
	r.run.Start(t)
	r.rec.Login(t, 1)
	r.fx = r.acc.Fixture(t)
	r.speakFirst(t, r.fx)
}

// speakFirst makes the friend write first, when the backend needs it (FriendSpeaksFirst).
func (r *rig) speakFirst(t *testing.T, fx Fixture) {
	t.Helper()
	if r.limits.FriendSpeaksFirst == "" {
		return
	}
	in := wxdriver.Incoming{Type: wx.FriendMessage, SenderID: fx.Friend, Body: text("wxdrivertest: the friend speaks first")}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
}

// loginOrder are the states a login may go through before running, in their order;
// loading may come first.
var loginOrder = []events.State{events.StateLoading, events.StateScaning, events.StateConfirming, events.StateUpdating}

func checkLoginStates(t *testing.T, states []events.State) {
	t.Helper()
	conformance.CheckLoginStates(t, states, loginOrder)
}

// isImage reports whether b starts as a JPEG or a PNG.
func isImage(b []byte) bool {
	return bytes.HasPrefix(b, []byte("\xff\xd8\xff")) || bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n"))
}

// checkFixture checks that a roster holds the fixture's ids, as the contract says; what the
// backend's limits rule out (NoGroups, OneFriend) must be empty.
func checkFixture(t *testing.T, ro *wxroster.Roster, fx Fixture, l Limits) {
	t.Helper()
	if err := ro.Validate(); err != nil {
		t.Errorf("the roster handed over is not valid: %v", err)
	}
	friends, contacts := []string{fx.Friend, fx.Friend2}, []string{fx.Friend, fx.Official, fx.Member}
	if l.OneFriend != "" {
		if fx.Friend2 != "" || fx.Official != "" {
			t.Errorf("OneFriend declared, but the fixture names a second friend %q or an official account %q", fx.Friend2, fx.Official)
		}
		if len(ro.Friends) != 1 {
			t.Errorf("OneFriend declared, but the roster has %d friends", len(ro.Friends))
		}
		friends, contacts = friends[:1], contacts[:1]
	} else if f := ro.Friend(fx.Official); f == nil || f.Category != wx.CategoryOfficial {
		t.Errorf("official account %s missing from the roster, or not a 公众号", fx.Official)
	}
	for _, id := range friends {
		if f := ro.Friend(id); f == nil || !isPerson(*f) {
			t.Errorf("friend %s missing from the roster, or not a person (好友)", id)
		}
	}
	if l.NoGroups != "" {
		if fx.Group != "" || fx.Member != "" || len(ro.Groups) != 0 {
			t.Errorf("NoGroups declared, but the fixture names group %q, member %q, or the roster has %d groups", fx.Group, fx.Member, len(ro.Groups))
		}
	} else {
		contacts = append(contacts, fx.Member)
		if g := ro.Group(fx.Group); g == nil {
			t.Errorf("group %s missing from the roster", fx.Group)
		} else if wxroster.GroupMember(g, fx.Member) == nil {
			t.Errorf("member %s missing from group %s", fx.Member, fx.Group)
		}
		if ro.Friend(fx.Member) != nil {
			t.Errorf("the member %s is a friend; the fixture wants one who is not", fx.Member)
		}
		if !wx.IsGroupID(fx.Group) {
			t.Errorf("group id %q is not a WeChat group id (@@…)", fx.Group)
		}
	}
	if ro.Friend(fx.Stranger) != nil || ro.Group(fx.Stranger) != nil {
		t.Errorf("the stranger %s is in the roster", fx.Stranger)
	}
	for _, id := range slices.Compact(contacts) {
		if !strings.HasPrefix(id, "@") || wx.IsGroupID(id) {
			t.Errorf("contact id %q is not a WeChat contact id (@…)", id)
		}
	}
}

// Login: the states before running, a QR code (JPEG or PNG) with scaning when a QR code was
// scanned, the roster handed over with the fixture's ids and the file assistant, and
// capabilities that stay.
func testLogin(t *testing.T, h Harness) {
	r := start(t, h)
	l := r.rec.Login(t, 1)
	states, qrs := r.rec.FirstLogin()
	checkLoginStates(t, states)
	if l.Scanned && (!slices.Contains(states, events.StateScaning) || len(qrs) == 0) {
		t.Errorf("a QR login reported no scaning or no QR code (states %v, %d QR codes)", states, len(qrs))
	}
	for i, img := range qrs {
		if !isImage(img) {
			t.Errorf("QR code %d is not a JPEG or PNG image", i)
		}
	}
	checkFixture(t, l.Roster, r.fx, r.limits)
	if l.Roster.User.ID == "" || l.Roster.User.DisplayName() == wx.UnknownNickname {
		t.Errorf("the roster's user has no id or no name: %+v", l.Roster.User)
	}
	again := r.d.Capabilities()
	if again != r.caps {
		t.Errorf("Capabilities changed: %+v, then %+v", r.caps, again)
	}
	t.Run("file assistant", func(t *testing.T) {
		skipIf(t, "NoFileHelper", r.limits.NoFileHelper)
		if f := l.Roster.Friend(wx.FileHelperID); f == nil || f.Category != wx.CategorySystem {
			t.Errorf("the file assistant %q is missing or not a 系统帐号: %+v", wx.FileHelperID, f)
		}
	})
	t.Log(describe(r.limits))
}

// RosterHandedOver: the roster handed over is the session's to change; the driver keeps its
// own and still delivers from, and sends to, someone the session removed.
func testRosterHandedOver(t *testing.T, h Harness) {
	r := start(t, h)
	ro := r.rec.Login(t, 1).Roster
	ro.RemoveFriend(r.fx.Friend)
	ro.RemoveGroup(r.fx.Group)
	in := wxdriver.Incoming{Type: wx.FriendMessage, SenderID: r.fx.Friend, Body: text("wxdrivertest: still here")}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
	typ, id := r.second()
	if _, err := r.d.Send(context.Background(), wxdriver.Outgoing{Type: typ, TargetID: id, Content: "wxdrivertest: and you"}); err != nil {
		t.Errorf("send to a %s the session removed from its copy: %v", typ, err)
	}
}

func text(s string) wxdriver.Body { return wxdriver.Body{Format: wx.FormatText, Content: s} }

func readAll(m *wxdriver.IncomingMedia) ([]byte, error) { return io.ReadAll(m.Open()) }

// matches reports whether got is the message in, as the driver reports it: type, sender,
// group, format and what the format carries (a media's name and MIME type only when the
// backend keeps them).
func (r *rig) matches(got received, in wxdriver.Incoming) bool {
	g := got.in
	if g.Type != in.Type || g.SenderID != in.SenderID || g.GroupID != in.GroupID || g.Content != in.Content {
		return false
	}
	format := func(f string) string {
		if f == "" {
			return wx.FormatText
		}
		return f
	}
	if format(g.Format) != format(in.Format) {
		return false
	}
	switch format(in.Format) {
	case wx.FormatMedia:
		if g.Media == nil || g.Media.Type != in.Media.Type || !bytes.Equal(got.data, in.Media.Data) {
			return false
		}
		return r.limits.MediaNamesNotKept != "" || g.Media.Name == in.Media.Name && g.Media.Mime == in.Media.Mime
	case wx.FormatApp:
		return g.App != nil && *g.App == *in.App
	case wx.FormatCard:
		return g.Card != nil && *g.Card == *in.Card
	case wx.FormatRevoke:
		return g.RevokeID == in.RevokeID
	}
	return true
}

// waitReceived waits until the driver reported in, and checks its time.
func (r *rig) waitReceived(t *testing.T, in wxdriver.Incoming) received {
	t.Helper()
	var got received
	r.rec.Wait(t, fmt.Sprintf("%s (%s) %q reported", in.Type, in.Format, in.Content), func() bool {
		i := slices.IndexFunc(r.rec.received, func(g received) bool { return r.matches(g, in) })
		if i >= 0 {
			got = r.rec.received[i]
		}
		return i >= 0
	})
	if got.in.Time.IsZero() {
		t.Errorf("%s %q reported without a time", in.Type, in.Content)
	}
	return got
}

// pixel is a tiny PNG: media bytes that are not text.
var pixel = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

// receiveCases are the messages of every type and format.
func receiveCases(fx Fixture) []struct {
	name string
	in   wxdriver.Incoming
} {
	friend := func(b wxdriver.Body) wxdriver.Incoming {
		return wxdriver.Incoming{Type: wx.FriendMessage, SenderID: fx.Friend, Body: b}
	}
	group := func(b wxdriver.Body) wxdriver.Incoming {
		return wxdriver.Incoming{Type: wx.GroupMessage, SenderID: fx.Member, GroupID: fx.Group, Body: b}
	}
	media := func(name, mime, typ string, data []byte) wxdriver.Body {
		return wxdriver.Body{Format: wx.FormatMedia, Media: &wxdriver.IncomingMedia{Type: typ, Name: name, Mime: mime, Data: data}}
	}
	return []struct {
		name string
		in   wxdriver.Incoming
	}{
		{"friend text", friend(text("wxdrivertest: 你好 <&>"))},
		{"friend image", friend(media("cat.png", "image/png", wx.MediaImage, pixel))},
		{"friend file", friend(media("notes.txt", "text/plain", wx.MediaFile, []byte("wxdrivertest: a file\n")))},
		{"friend voice", friend(media("hello.mp3", "audio/mpeg", wx.MediaVoice, []byte("ID3 wxdrivertest")))},
		{"friend app", friend(wxdriver.Body{Format: wx.FormatApp, Content: "[应用分享]标题:wxdrivertest", App: &wx.App{
			Desc: "撩拨你的深夜味蕾", ID: "wx123456", Name: "饿了么", Title: "wxdrivertest", URL: "https://h.ele.me/hongbao"}})},
		{"friend card", friend(wxdriver.Body{Format: wx.FormatCard, Content: "[名片](小冰)", Card: &wx.Card{
			Account: "ms-xiaoice", City: "海淀", Name: "小冰", Province: "北京", Sex: wx.SexFemale}})},
		{"friend revoke", friend(wxdriver.Body{Format: wx.FormatRevoke, Content: "[撤回消息](1234)", RevokeID: "1234"})},
		{"friend payment", friend(wxdriver.Body{Format: wx.FormatPayment, Content: "[转账](收到转账0.01元)"})},
		{"group text", group(text("wxdrivertest: 群里好"))},
		{"group image", group(media("dog.png", "image/png", wx.MediaImage, pixel))},
		{"group notice", wxdriver.Incoming{Type: wx.GroupNotice, GroupID: fx.Group, Body: text("wxdrivertest: 你邀请灰太狼加入了群聊")}},
	}
}

// Receive: every type and format reaches the sink with its sender, place and content, media
// with their bytes.
func testReceive(t *testing.T, h Harness) {
	r := start(t, h)
	for _, c := range receiveCases(r.fx) {
		t.Run(c.name, func(t *testing.T) {
			r.limits.skipCannot(t, "Receive/"+c.name)
			if c.in.Type != wx.FriendMessage {
				skipIf(t, "NoGroups", r.limits.NoGroups)
			}
			r.acc.Receive(t, c.in)
			r.waitReceived(t, c.in)
		})
	}
}

// media is an Outgoing's file over bytes, and counts how often it was opened.
func media(name, mime, typ string, data []byte) *wxdriver.Media {
	return &wxdriver.Media{
		Meta: wxdriver.MediaMeta{ID: "wxdrivertest-" + name, Type: typ, Name: name, Mime: mime, Size: int64(len(data))},
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
	}
}

// delivered finds the delivery of msgID on the far side.
func (r *rig) delivered(t *testing.T, msgID string) (Delivered, bool) {
	t.Helper()
	sent := r.acc.Sent(t)
	i := slices.IndexFunc(sent, func(d Delivered) bool { return d.MsgID == msgID })
	if i < 0 {
		return Delivered{}, false
	}
	return sent[i], true
}

type sendCase struct {
	name string
	out  wxdriver.Outgoing
}

// sendCases are the sends of testSend; friend2 is a second friend.
func sendCases(fx Fixture, friend2 string) []sendCase {
	data := bytes.Repeat([]byte("wxdrivertest media "), 4096) // 76 KB
	return []sendCase{
		{"friend text", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: fx.Friend, Content: "wxdrivertest: 你好 <&>"}},
		{"group text", wxdriver.Outgoing{Type: wx.GroupMessage, TargetID: fx.Group, Content: "wxdrivertest: 大家好"}},
		{"friend image", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: fx.Friend, Media: media("cat.png", "image/png", wx.MediaImage, pixel)}},
		{"friend file", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: fx.Friend, Media: media("notes.txt", "text/plain", wx.MediaFile, []byte("wxdrivertest: a file\n"))}},
		{"group file", wxdriver.Outgoing{Type: wx.GroupMessage, TargetID: fx.Group, Media: media("big.bin", "application/octet-stream", wx.MediaFile, data)}},
		{"friend text and image", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: friend2, Content: "wxdrivertest: 看图", Media: media("c.png", "image/png", wx.MediaImage, pixel)}},
		{"file assistant", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: wx.FileHelperID, Content: "wxdrivertest: 备忘"}},
	}
}

// sendCaseNames name the cases of testSend, for Limits.Cannot.
var sendCaseNames = func() (names []string) {
	for _, c := range sendCases(Fixture{}, "") {
		names = append(names, c.name)
	}
	return names
}()

// Send: text, media and both, to a friend and to a group, reach the far side as asked, each
// with an id of its own; media with their bytes.
func testSend(t *testing.T, h Harness) {
	r := start(t, h)
	ids := map[string]bool{}
	for _, c := range sendCases(r.fx, r.friend2()) {
		t.Run(c.name, func(t *testing.T) {
			r.limits.skipCannot(t, "Send/"+c.name)
			switch {
			case c.out.Type == wx.GroupMessage:
				skipIf(t, "NoGroups", r.limits.NoGroups)
			case c.out.TargetID == wx.FileHelperID:
				skipIf(t, "NoFileHelper", r.limits.NoFileHelper)
			}
			id, err := r.d.Send(context.Background(), c.out)
			if err != nil {
				t.Fatalf("Send(%+v): %v", c.out, err)
			}
			if id == "" || ids[id] || strings.Contains(id, ":") {
				t.Fatalf("Send returned the id %q: empty, repeated or with a colon (the API joins it with the peer)", id)
			}
			ids[id] = true
			sent := r.acc.Sent(t)
			i := slices.IndexFunc(sent, func(d Delivered) bool { return d.MsgID == id })
			if i < 0 {
				t.Fatalf("message %s did not reach the far side", id)
			}
			d, content := sent[i], c.out.Content
			if r.limits.MediaApart != "" && c.out.Media != nil && content != "" {
				// The text went first, as a message of its own to the same conversation.
				if i == 0 || sent[i-1].Content != content || sent[i-1].TargetID != c.out.TargetID || sent[i-1].MediaData != nil {
					t.Errorf("the text %q is not delivered just before the media (MediaApart)", content)
				}
				content = ""
			}
			if d.Type != c.out.Type || d.TargetID != c.out.TargetID || d.Content != content {
				t.Errorf("the far side got %+v, want %+v", d, c.out)
			}
			if m := c.out.Media; m != nil {
				want, _ := m.Open(context.Background())
				b, _ := io.ReadAll(want)
				named := r.limits.MediaNamesNotKept != "" || d.MediaName == m.Meta.Name && d.MediaMime == m.Meta.Mime
				if !named || !bytes.Equal(d.MediaData, b) {
					t.Errorf("the far side got media %q (%s, %d bytes), want %q (%s, %d bytes)", d.MediaName, d.MediaMime, len(d.MediaData), m.Meta.Name, m.Meta.Mime, len(b))
				}
			}
		})
	}
}

// SendFails: a send WeChat refuses is a *wxdriver.SendError with a non-zero Ret and a text;
// nothing reaches the far side.
func testSendFails(t *testing.T, h Harness) {
	r := start(t, h)
	before := len(r.acc.Sent(t))
	cases := []struct {
		name string
		out  wxdriver.Outgoing
	}{
		{"stranger", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: r.fx.Stranger, Content: "wxdrivertest: to nobody"}},
		{"unknown group", wxdriver.Outgoing{Type: wx.GroupMessage, TargetID: "@@" + strings.TrimPrefix(r.fx.Stranger, "@"), Content: "wxdrivertest: to no group"}},
		{"empty", wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: r.fx.Friend}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.d.Send(context.Background(), c.out)
			var se *wxdriver.SendError
			switch {
			case !errors.As(err, &se):
				t.Fatalf("Send: %v, want a *wxdriver.SendError", err)
			case se.Ret == 0:
				t.Error("send error with Ret 0: the API would answer code 0")
			case se.ErrMsg == "":
				t.Error("send error without ErrMsg")
			}
		})
	}
	if n := len(r.acc.Sent(t)); n != before {
		t.Errorf("%d failed sends reached the far side", n-before)
	}
}

// Revoke: a message just sent is withdrawn on the far side; an unknown one, or one
// withdrawn already, is an error.
func testRevoke(t *testing.T, h Harness) {
	r := open(t, h)
	r.limits.skipUnsupported(t, "Revoke")
	r.start(t)
	ctx := context.Background()
	id, err := r.d.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: r.fx.Friend, Content: "wxdrivertest: oops"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.d.Revoke(ctx, id, r.fx.Friend); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if d, _ := r.delivered(t, id); !d.Revoked {
		t.Error("the message is not revoked on the far side")
	}
	if err := r.d.Revoke(ctx, id, r.fx.Friend); err == nil {
		t.Error("revoking twice succeeded")
	}
	if err := r.d.Revoke(ctx, "1", r.fx.Friend); err == nil {
		t.Error("revoking an unknown message succeeded")
	}
	t.Run("wrong peer", func(t *testing.T) {
		skipIf(t, "NoGroups", r.limits.NoGroups) // one conversation: no wrong peer to name
		id2, err := r.d.Send(ctx, wxdriver.Outgoing{Type: wx.GroupMessage, TargetID: r.fx.Group, Content: "wxdrivertest: oops"})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.d.Revoke(ctx, id2, r.fx.Friend); err == nil {
			t.Error("revoking a message with the wrong peer succeeded")
		}
	})
}

// waitChange waits until a change of kind matching is reported.
func (r *rig) waitChange(t *testing.T, kind string, is func(wxdriver.Change) bool) wxdriver.Change {
	t.Helper()
	var got wxdriver.Change
	r.rec.Wait(t, kind+" reported", func() bool {
		i := slices.IndexFunc(r.rec.changes, func(c wxdriver.Change) bool { return c.Kind == kind && is(c) })
		if i >= 0 {
			got = r.rec.changes[i]
		}
		return i >= 0
	})
	return got
}

// CreateGroupAndInvite: a new group of two friends, then a third invited: the far side has
// them, and the sink heard of both.
func testCreateGroupAndInvite(t *testing.T, h Harness) {
	r := open(t, h)
	skipIf(t, "NoGroups", r.limits.NoGroups)
	r.limits.skipUnsupported(t, "CreateGroup", "Invite")
	r.start(t)
	ctx := context.Background()
	gid, err := r.d.CreateGroup(ctx, "wxdrivertest 新群", []string{r.fx.Friend})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if !wx.IsGroupID(gid) {
		t.Fatalf("CreateGroup returned %q, not a group id", gid)
	}
	g := r.acc.Roster(t).Group(gid)
	if g == nil || g.Name != "wxdrivertest 新群" || wxroster.GroupMember(g, r.fx.Friend) == nil {
		t.Fatalf("the far side's group %s: %+v", gid, g)
	}
	c := r.waitChange(t, events.EventNewGroup, func(c wxdriver.Change) bool { return c.Group.ID == gid })
	if wxroster.GroupMember(&c.Group, r.fx.Friend) == nil {
		t.Errorf("new_group reported without its members: %+v", c.Group)
	}
	if err := r.d.Invite(ctx, gid, []string{r.fx.Friend2}); err != nil {
		t.Fatalf("Invite: %v", err)
	}
	if r.acc.Roster(t).Member(gid, r.fx.Friend2) == nil {
		t.Error("the invited friend is not in the far side's group")
	}
	r.waitChange(t, events.EventNewGroupMember, func(c wxdriver.Change) bool { return c.GroupID == gid && c.Member.ID == r.fx.Friend2 })
}

// Kick: the member is out of the far side's group, and the sink heard of it.
func testKick(t *testing.T, h Harness) {
	r := open(t, h)
	skipIf(t, "NoGroups", r.limits.NoGroups)
	r.limits.skipUnsupported(t, "Kick")
	r.start(t)
	if err := r.d.Kick(context.Background(), r.fx.Group, []string{r.fx.Member}); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	if r.acc.Roster(t).Member(r.fx.Group, r.fx.Member) != nil {
		t.Error("the member is still in the far side's group")
	}
	r.waitChange(t, events.EventLoseGroupMember, func(c wxdriver.Change) bool { return c.GroupID == r.fx.Group && c.Member.ID == r.fx.Member })
}

// waitProperty waits for a property change when the driver declares Properties.
func (r *rig) waitProperty(t *testing.T, want wxdriver.PropertyChange) {
	t.Helper()
	if !r.caps.Properties {
		return
	}
	r.rec.Wait(t, want.Kind()+" "+want.Property+" reported", func() bool { return slices.Contains(r.rec.props, want) })
}

// SetGroupName: the far side's group has the new name.
func testSetGroupName(t *testing.T, h Harness) {
	r := open(t, h)
	skipIf(t, "NoGroups", r.limits.NoGroups)
	r.limits.skipUnsupported(t, "SetGroupName")
	r.start(t)
	if err := r.d.SetGroupName(context.Background(), r.fx.Group, "wxdrivertest 改名"); err != nil {
		t.Fatalf("SetGroupName: %v", err)
	}
	if g := r.acc.Roster(t).Group(r.fx.Group); g == nil || g.Name != "wxdrivertest 改名" {
		t.Errorf("the far side's group: %+v", g)
	}
	r.waitProperty(t, wxdriver.PropertyChange{GroupID: r.fx.Group, Property: wxdriver.PropertyName, New: "wxdrivertest 改名"})
}

// Stick: a group and a friend pinned, then a friend unpinned, on the far side.
func testStick(t *testing.T, h Harness) {
	r := open(t, h)
	r.limits.skipUnsupported(t, "Stick")
	r.start(t)
	ctx := context.Background()
	ids := []string{r.fx.Group, r.fx.Friend}
	if r.limits.NoGroups != "" {
		t.Logf("wxdrivertest: limit NoGroups (%s): only a friend is stuck", r.limits.NoGroups)
		ids = ids[1:]
	}
	for _, id := range ids {
		if err := r.d.Stick(ctx, id, true); err != nil {
			t.Fatalf("Stick(%s): %v", id, err)
		}
	}
	if err := r.d.Stick(ctx, r.fx.Friend, false); err != nil {
		t.Fatalf("unstick: %v", err)
	}
	ro := r.acc.Roster(t)
	if r.limits.NoGroups == "" && !ro.IsStuck(r.fx.Group) || ro.IsStuck(r.fx.Friend) {
		t.Errorf("the far side has stuck %v, want only %s", ro.Stuck, r.fx.Group)
	}
}

// SetMarkname: a friend's and a member's remark on the far side.
func testSetMarkname(t *testing.T, h Harness) {
	r := open(t, h)
	r.limits.skipUnsupported(t, "SetMarkname")
	r.start(t)
	ctx := context.Background()
	if err := r.d.SetMarkname(ctx, r.fx.Friend, "", "wxdrivertest 备注"); err != nil {
		t.Fatalf("SetMarkname(friend): %v", err)
	}
	if f := r.acc.Roster(t).Friend(r.fx.Friend); f == nil || f.Markname != "wxdrivertest 备注" {
		t.Errorf("the far side's friend: %+v", f)
	}
	r.waitProperty(t, wxdriver.PropertyChange{FriendID: r.fx.Friend, Property: wxdriver.PropertyMarkname, New: "wxdrivertest 备注"})
	t.Run("member", func(t *testing.T) {
		skipIf(t, "NoGroups", r.limits.NoGroups)
		if err := r.d.SetMarkname(ctx, r.fx.Member, r.fx.Group, "wxdrivertest 成员备注"); err != nil {
			t.Fatalf("SetMarkname(member): %v", err)
		}
		if m := r.acc.Roster(t).Member(r.fx.Group, r.fx.Member); m == nil || m.Markname != "wxdrivertest 成员备注" {
			t.Errorf("the far side's member: %+v", m)
		}
	})
}

// MakeFriend: asking a member who is no friend succeeds; asking a friend again fails.
func testMakeFriend(t *testing.T, h Harness) {
	r := open(t, h)
	skipIf(t, "NoGroups", r.limits.NoGroups)
	r.limits.skipUnsupported(t, "MakeFriend")
	r.start(t)
	ctx := context.Background()
	if err := r.d.MakeFriend(ctx, r.fx.Member, "wxdrivertest: 加个好友"); err != nil {
		t.Fatalf("MakeFriend: %v", err)
	}
	if err := r.d.MakeFriend(ctx, r.fx.Stranger, "wxdrivertest"); err == nil {
		t.Error("MakeFriend with an unknown id succeeded")
	}
}

// Avatar: a picture (JPEG or PNG, with an image/* type) for a friend, a group, a member and
// the user; ErrUnknown for an unknown id.
func testAvatar(t *testing.T, h Harness) {
	r := start(t, h)
	ctx := context.Background()
	if _, _, err := r.d.Avatar(ctx, r.fx.Stranger, ""); !errors.Is(err, wxdriver.ErrUnknown) {
		t.Errorf("Avatar(stranger): %v, want ErrUnknown", err)
	}
	user := r.acc.Roster(t).User.ID
	for _, c := range []struct{ name, id, group string }{
		{"friend", r.fx.Friend, ""}, {"group", r.fx.Group, ""}, {"member", r.fx.Member, r.fx.Group}, {"user", user, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r.limits.skipUnsupported(t, "Avatar")
			if c.name == "group" || c.name == "member" {
				skipIf(t, "NoGroups", r.limits.NoGroups)
			}
			mime, data, err := r.d.Avatar(ctx, c.id, c.group)
			if err != nil {
				t.Fatalf("Avatar(%s): %v", c.name, err)
			}
			if !strings.HasPrefix(mime, "image/") || !isImage(data) {
				t.Errorf("Avatar(%s): %q, %d bytes: not an image", c.name, mime, len(data))
			}
		})
	}
}

// AdminFails: the admin calls refuse unknown ids, and change nothing on the far side.
func testAdminFails(t *testing.T, h Harness) {
	r := start(t, h)
	ctx := context.Background()
	noGroup := "@@" + strings.TrimPrefix(r.fx.Stranger, "@")
	before := r.acc.Roster(t)
	cases := []struct {
		name string
		call func() error
	}{
		{"create with a stranger", func() error { _, err := r.d.CreateGroup(ctx, "x", []string{r.fx.Stranger}); return err }},
		{"invite into no group", func() error { return r.d.Invite(ctx, noGroup, []string{r.fx.Friend}) }},
		{"invite a stranger", func() error { return r.d.Invite(ctx, r.fx.Group, []string{r.fx.Stranger}) }},
		{"kick a stranger", func() error { return r.d.Kick(ctx, r.fx.Group, []string{r.fx.Stranger}) }},
		{"rename no group", func() error { return r.d.SetGroupName(ctx, noGroup, "x") }},
		{"stick a stranger", func() error { return r.d.Stick(ctx, r.fx.Stranger, true) }},
		{"markname of a stranger", func() error { return r.d.SetMarkname(ctx, r.fx.Stranger, "", "x") }},
		{"accept no request", func() error {
			return r.d.AcceptFriendRequest(ctx, wx.FriendRequest{ID: r.fx.Stranger, Ticket: "wxdrivertest-none"})
		}},
	}
	for _, c := range cases {
		if err := c.call(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	after := r.acc.Roster(t)
	if len(after.Groups) != len(before.Groups) || len(after.Friends) != len(before.Friends) || len(after.Stuck) != len(before.Stuck) {
		t.Error("failed admin calls changed the far side's roster")
	}
}

// RosterChanges: a new friend, a friend lost, a newcomer to a group and a member who leaves
// are reported with the far side's ids.
func testRosterChanges(t *testing.T, h Harness) {
	r := start(t, h)
	fx := r.fx
	newFriend := r.acc.Change(t, wxdriver.Change{Kind: events.EventNewFriend, Friend: wx.Friend{Name: "wxdrivertest 新朋友", Category: wx.CategoryFriend}})
	r.waitChange(t, events.EventNewFriend, func(c wxdriver.Change) bool {
		return c.Friend.ID == newFriend && c.Friend.Name == "wxdrivertest 新朋友"
	})
	r.acc.Change(t, wxdriver.Change{Kind: events.EventLoseFriend, Friend: wx.Friend{ID: fx.Friend2}})
	r.waitChange(t, events.EventLoseFriend, func(c wxdriver.Change) bool { return c.Friend.ID == fx.Friend2 })
	newcomer := r.acc.Change(t, wxdriver.Change{Kind: events.EventNewGroupMember, GroupID: fx.Group, Member: wx.Member{Name: "wxdrivertest 新人"}})
	r.waitChange(t, events.EventNewGroupMember, func(c wxdriver.Change) bool { return c.GroupID == fx.Group && c.Member.ID == newcomer })
	r.acc.Change(t, wxdriver.Change{Kind: events.EventLoseGroupMember, GroupID: fx.Group, Member: wx.Member{ID: fx.Member}})
	r.waitChange(t, events.EventLoseGroupMember, func(c wxdriver.Change) bool { return c.GroupID == fx.Group && c.Member.ID == fx.Member })
	for _, id := range []string{newFriend, newcomer} {
		if !strings.HasPrefix(id, "@") || wx.IsGroupID(id) {
			t.Errorf("a new contact got the id %q, not a contact id", id)
		}
	}
}

// LostConnection: after a dropped connection the driver logs in again, hands over the roster
// again, and delivers and sends again. If it says no QR code was scanned, the ids are the
// same. (Connectionless: no new login; messages still come and go.)
func testLostConnection(t *testing.T, h Harness) {
	r := start(t, h)
	before := r.rec.NumStates()
	r.acc.Drop(t)
	fx := r.fx
	t.Run("logs in again", func(t *testing.T) {
		skipIf(t, "Connectionless", r.limits.Connectionless)
		l := r.rec.Login(t, 2)
		checkLoginStates(t, r.rec.StatesBeforeRunning(before))
		fx = r.acc.Fixture(t)
		checkFixture(t, l.Roster, fx, r.limits)
		if !l.Scanned && fx != r.fx {
			t.Errorf("the ids changed on a login without a QR scan: %+v, then %+v", r.fx, fx)
		}
	})
	if t.Failed() {
		return
	}
	in := wxdriver.Incoming{Type: wx.FriendMessage, SenderID: fx.Friend, Body: text("wxdrivertest: after the drop")}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
	if _, err := r.d.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: fx.Friend, Content: "wxdrivertest: back"}); err != nil {
		t.Errorf("send after the new login: %v", err)
	}
}

// CancelAndLogInAgain: Run returns nil once its context ends, and a new Run logs in again
// with a QR code: new ids, which the new roster has and the old ones no longer name; what the
// far side changed stays. (KeepsLogin: the new Run logs in without a QR code, with the same
// ids.)
func testCancelAndLogInAgain(t *testing.T, h Harness) {
	r := start(t, h)
	ctx := context.Background()
	kicked := t.Run("kick before", func(t *testing.T) {
		skipIf(t, "NoGroups", r.limits.NoGroups)
		r.limits.skipUnsupported(t, "Kick")
		if err := r.d.Kick(ctx, r.fx.Group, []string{r.fx.Member}); err != nil {
			t.Fatalf("Kick: %v", err)
		}
	}) && r.limits.NoGroups == "" && r.limits.Unsupported["Kick"] == ""
	r.run.Stop(t)
	if t.Failed() {
		return
	}
	if _, err := r.d.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: r.fx.Friend, Content: "wxdrivertest: logged out"}); err == nil {
		t.Error("a send while not logged in succeeded")
	}
	r.run.Start(t)
	l := r.rec.Login(t, 2)
	fx := r.acc.Fixture(t)
	checkFixture(t, l.Roster, fx, r.limits)
	t.Run("QR login with new ids", func(t *testing.T) {
		skipIf(t, "KeepsLogin", r.limits.KeepsLogin)
		if !l.Scanned {
			t.Fatal("the new login after a cancel says no QR code was scanned")
		}
		if fx.Friend == r.fx.Friend || r.limits.NoGroups == "" && fx.Group == r.fx.Group {
			t.Errorf("the ids did not change at the new QR login: %+v", fx)
		}
		if l.Roster.Friend(r.fx.Friend) != nil || r.limits.NoGroups == "" && l.Roster.Group(r.fx.Group) != nil {
			t.Error("the new roster still has the old ids")
		}
		if _, err := r.d.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: r.fx.Friend, Content: "wxdrivertest: old id"}); err == nil {
			t.Error("a send to an id of the previous login succeeded")
		}
	})
	if !l.Scanned && fx != r.fx {
		t.Errorf("the ids changed on a login without a QR scan: %+v, then %+v", r.fx, fx)
	}
	if g := l.Roster.Group(fx.Group); kicked && g != nil && len(g.Member) != len(r.rec.Login(t, 1).Roster.Group(r.fx.Group).Member)-1 {
		t.Errorf("the new login's group has %d members; the kicked one is back?", len(g.Member))
	}
	in := wxdriver.Incoming{Type: wx.FriendMessage, SenderID: fx.Friend, Body: text("wxdrivertest: after the new login")}
	r.acc.Receive(t, in)
	r.waitReceived(t, in)
	if _, err := r.d.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: fx.Friend, Content: "wxdrivertest: back again"}); err != nil {
		t.Errorf("send after the new login: %v", err)
	}
}

// Concurrent: sends, media sends, avatars and incoming messages at once (run with -race).
func testConcurrent(t *testing.T, h Harness) {
	r := start(t, h)
	fx := r.fx
	typ2, id2 := r.second()
	avatars := r.limits.Unsupported["Avatar"] == ""
	if !avatars {
		t.Logf("wxdrivertest: limit Unsupported Avatar (%s): no avatars among the concurrent calls", r.limits.Unsupported["Avatar"])
	}
	const workers, each = 4, 8
	conformance.Concurrency[wxdriver.Incoming]{
		Workers: workers, Each: each,
		Work: func(ctx context.Context, w, i int) (errs []error) {
			out := wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: fx.Friend, Content: fmt.Sprintf("wxdrivertest: worker %d, send %d", w, i)}
			switch (w + i) % 3 {
			case 1:
				out.Type, out.TargetID = typ2, id2
			case 2:
				out.Media = media(fmt.Sprintf("w%d-%d.png", w, i), "image/png", wx.MediaImage, pixel)
			}
			if _, err := r.d.Send(ctx, out); err != nil {
				errs = append(errs, fmt.Errorf("send %+v: %w", out, err))
			}
			if avatars && i%4 == 0 {
				if _, _, err := r.d.Avatar(ctx, fx.Friend, ""); err != nil {
					errs = append(errs, fmt.Errorf("avatar: %w", err))
				}
			}
			return errs
		},
		Incoming: func(i int) wxdriver.Incoming {
			in := wxdriver.Incoming{Type: wx.FriendMessage, SenderID: fx.Friend, Body: text(fmt.Sprintf("wxdrivertest: incoming %d", i))}
			r.acc.Receive(t, in)
			return in
		},
		Received: func(in wxdriver.Incoming) { r.waitReceived(t, in) },
		Sent:     func() int { return len(r.acc.Sent(t)) },
	}.Check(t)
}

// Unsupported: every call the backend declares unsupported answers wxdriver.ErrUnsupported
// (the API answers it with code 202, naming the driver), and changes nothing on the far side.
func testUnsupported(t *testing.T, h Harness) {
	r := open(t, h)
	if len(r.limits.Unsupported) == 0 {
		t.Skip("wxdrivertest: the driver declares no unsupported call")
	}
	r.start(t)
	ctx := context.Background()
	group, member := r.fx.Group, r.fx.Member
	if r.limits.NoGroups != "" {
		group, member = "@@"+strings.TrimPrefix(r.fx.Stranger, "@"), r.fx.Friend
	}
	before := r.acc.Roster(t)
	do := map[string]func() error{
		"Revoke":       func() error { return r.d.Revoke(ctx, "1", r.fx.Friend) },
		"CreateGroup":  func() error { _, err := r.d.CreateGroup(ctx, "wxdrivertest", []string{r.fx.Friend}); return err },
		"Invite":       func() error { return r.d.Invite(ctx, group, []string{r.fx.Friend}) },
		"Kick":         func() error { return r.d.Kick(ctx, group, []string{member}) },
		"SetGroupName": func() error { return r.d.SetGroupName(ctx, group, "wxdrivertest") },
		"Stick":        func() error { return r.d.Stick(ctx, r.fx.Friend, true) },
		"SetMarkname":  func() error { return r.d.SetMarkname(ctx, r.fx.Friend, "", "wxdrivertest") },
		"MakeFriend":   func() error { return r.d.MakeFriend(ctx, member, "wxdrivertest") },
		"Avatar":       func() error { _, _, err := r.d.Avatar(ctx, r.fx.Friend, ""); return err },
	}
	for _, call := range calls {
		if why := r.limits.Unsupported[call]; why != "" {
			if err := do[call](); !errors.Is(err, wxdriver.ErrUnsupported) {
				t.Errorf("%s is declared unsupported (%s), but answers %v, not ErrUnsupported", call, why, err)
			}
		}
	}
	after := r.acc.Roster(t)
	if len(after.Groups) != len(before.Groups) || len(after.Friends) != len(before.Friends) || len(after.Stuck) != len(before.Stuck) {
		t.Error("unsupported calls changed the far side's roster")
	}
}
