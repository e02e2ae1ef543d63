package ilink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxdriver/ilink"
	"github.com/openqq/openqq/services/session/wxdriver/ilink/ilinktest"
	"github.com/openqq/openqq/services/session/wxroster"
)

// sink records what the driver reports.
type sink struct {
	mu       sync.Mutex
	changed  chan struct{}
	states   []events.State
	qrs      [][]byte
	logins   []bool
	rosters  []*wxroster.Roster
	received []wxdriver.Incoming
	changes  []wxdriver.Change
}

func newSink() *sink { return &sink{changed: make(chan struct{})} }

func (s *sink) note(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *sink) State(st events.State)       { s.note(func() { s.states = append(s.states, st) }) }
func (s *sink) QRCode(_ string, img []byte) { s.note(func() { s.qrs = append(s.qrs, img) }) }
func (s *sink) LoggedIn(r *wxroster.Roster, scanned bool) {
	s.note(func() { s.logins, s.rosters = append(s.logins, scanned), append(s.rosters, r) })
}

func (s *sink) Receive(_ context.Context, in wxdriver.Incoming) (string, error) {
	if in.Media != nil && in.Media.Data == nil {
		b, err := io.ReadAll(in.Media.Open())
		if err != nil {
			return "", err
		}
		in.Media.Data = b
	}
	s.note(func() { s.received = append(s.received, in) })
	return in.MsgID, nil
}

func (s *sink) Change(_ context.Context, c wxdriver.Change) error {
	s.note(func() { s.changes = append(s.changes, c) })
	return nil
}
func (s *sink) Sent(context.Context, wxdriver.SentMessage) (string, error) {
	panic("Sent: not declared")
}
func (s *sink) ChangeProperty(context.Context, wxdriver.PropertyChange) error {
	panic("ChangeProperty: not declared")
}
func (s *sink) FriendRequest(context.Context, wx.FriendRequest) error {
	panic("FriendRequest: not declared")
}

func (s *sink) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func config(f *ilinktest.Server, dir string) ilink.Config {
	return ilink.Config{BaseURL: f.URL, CDNURL: f.CDN, StateDir: dir, QRCodeDir: dir, PollTimeout: 2 * time.Second,
		APITimeout: 5 * time.Second, RetryMin: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond}
}

func newDriver(t *testing.T, cfg ilink.Config) *ilink.Driver {
	t.Helper()
	d, err := ilink.New(cfg, wxdriver.Params{Account: "ilinktest"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// running runs d until the test ends; its result is sent on the channel.
func running(t *testing.T, d *ilink.Driver, s *sink) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, s) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

var pixel = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")

func owner() string { return "@" + ilinktest.OwnerID }

func mediaOf(name, mime, typ string, data []byte) *wxdriver.Media {
	return &wxdriver.Media{Meta: wxdriver.MediaMeta{ID: "m-" + name, Type: typ, Name: name, Mime: mime, Size: int64(len(data))},
		Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// The QR login walks scaning and confirming with a PNG QR code, hands over the user and the
// one friend, receives every item type with its bytes, and sends text and media back with
// the context_token.
func TestQRLoginReceiveAndSend(t *testing.T) {
	f := ilinktest.New(t)
	dir := t.TempDir()
	d := newDriver(t, config(f, dir))
	s := newSink()
	running(t, d, s)
	s.wait(t, "login", func() bool { return len(s.logins) == 1 })
	s.mu.Lock()
	if !s.logins[0] || len(s.qrs) != 1 || !bytes.HasPrefix(s.qrs[0], []byte("\x89PNG")) {
		t.Errorf("a QR login: scanned %v, %d QR codes", s.logins[0], len(s.qrs))
	}
	if want := []events.State{events.StateLoading, events.StateScaning, events.StateConfirming, events.StateUpdating}; !slices.Equal(s.states, want) {
		t.Errorf("states %v, want %v", s.states, want)
	}
	ro := s.rosters[0]
	s.mu.Unlock()
	if ro.User.ID != "@"+ilinktest.BotID || len(ro.Friends) != 1 || ro.Friends[0].ID != owner() || len(ro.Groups) != 0 || ro.Validate() != nil {
		t.Fatalf("roster %+v", ro)
	}
	ctx := context.Background()
	if _, err := d.Send(ctx, wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: owner(), Content: "too early"}); !isSendError(err, ilink.RetNoContextToken) {
		t.Errorf("a send before the owner wrote: %v, want the no-context_token SendError", err)
	}

	f.Text("你好 <&>")
	f.Media(ilink.ItemImage, "", pixel)
	f.Media(ilink.ItemFile, "notes.txt", []byte("a file\n"))
	f.Media(ilink.ItemVoice, "", []byte("#!SILK_V3 voice"))
	f.Media(ilink.ItemVideo, "", []byte("\x00\x00\x00\x18ftypmp42 video"))
	s.wait(t, "5 messages", func() bool { return len(s.received) == 5 })
	s.mu.Lock()
	got := slices.Clone(s.received)
	s.mu.Unlock()
	if got[0].Content != "你好 <&>" || got[0].SenderID != owner() || got[0].Type != wx.FriendMessage || got[0].Time.IsZero() || got[0].MsgID == "" {
		t.Errorf("text: %+v", got[0])
	}
	for i, want := range []struct {
		typ, name, mime string
		data            []byte
	}{
		{wx.MediaImage, "image.png", "image/png", pixel},
		{wx.MediaFile, "notes.txt", "text/plain", []byte("a file\n")},
		{wx.MediaVoice, "voice.silk", "audio/silk", []byte("#!SILK_V3 voice")},
		{wx.MediaVideo, "video.mp4", "video/mp4", []byte("\x00\x00\x00\x18ftypmp42 video")},
	} {
		m := got[i+1].Media
		if got[i+1].Format != wx.FormatMedia || m == nil || m.Type != want.typ || m.Name != want.name || !strings.HasPrefix(m.Mime, want.mime) || !bytes.Equal(m.Data, want.data) {
			t.Errorf("media %d: %+v, want %+v", i, m, want)
		}
	}

	data := bytes.Repeat([]byte("ilink media "), 5000)
	for _, out := range []wxdriver.Outgoing{
		{Type: wx.FriendMessage, TargetID: owner(), Content: "回复"},
		{Type: wx.FriendMessage, TargetID: owner(), Media: mediaOf("cat.png", "image/png", wx.MediaImage, pixel)},
		{Type: wx.FriendMessage, TargetID: owner(), Content: "看文件", Media: mediaOf("big.bin", "application/octet-stream", wx.MediaFile, data)},
	} {
		id, err := d.Send(ctx, out)
		if err != nil || id == "" || strings.Contains(id, ":") {
			t.Fatalf("Send(%+v): %q, %v", out, id, err)
		}
	}
	sent := f.Sent()
	if len(sent) != 4 {
		t.Fatalf("the fake got %d messages: %+v", len(sent), sent)
	}
	last := "ctx-" // the context_token of the last message the owner sent
	for _, m := range sent {
		if !strings.HasPrefix(m.ContextToken, last) {
			t.Errorf("sent without the context_token: %+v", m)
		}
	}
	if sent[0].Text != "回复" || sent[1].ItemType != ilink.ItemImage || !bytes.Equal(sent[1].Data, pixel) ||
		sent[2].Text != "看文件" || sent[3].ItemType != ilink.ItemFile || sent[3].FileName != "big.bin" || !bytes.Equal(sent[3].Data, data) {
		t.Errorf("the fake got %+v", sent)
	}
	if r := f.Rejected(); len(r) != 0 {
		t.Errorf("the fake refused requests: %v", r)
	}
}

func isSendError(err error, ret int) bool {
	var se *wxdriver.SendError
	return errors.As(err, &se) && se.Ret == ret && se.ErrMsg != ""
}

// Sends iLink cannot carry, and the admin calls, answer clear errors.
func TestUnsupported(t *testing.T) {
	f := ilinktest.New(t)
	d := newDriver(t, config(f, t.TempDir()))
	s := newSink()
	running(t, d, s)
	s.wait(t, "login", func() bool { return len(s.logins) == 1 })
	f.Text("hi")
	s.wait(t, "hi", func() bool { return len(s.received) == 1 })
	ctx := context.Background()
	for name, out := range map[string]wxdriver.Outgoing{
		"group":    {Type: wx.GroupMessage, TargetID: "@@g", Content: "x"},
		"stranger": {Type: wx.FriendMessage, TargetID: "@nobody@im.wechat", Content: "x"},
		"empty":    {Type: wx.FriendMessage, TargetID: owner()},
	} {
		if _, err := d.Send(ctx, out); !isSendError(err, wxdriver.RetNoSuchUser) && !isSendError(err, wxdriver.RetFailure) {
			t.Errorf("%s: %v, want a SendError", name, err)
		}
	}
	for name, err := range map[string]error{
		"revoke":       d.Revoke(ctx, "1", owner()),
		"invite":       d.Invite(ctx, "@@g", []string{owner()}),
		"kick":         d.Kick(ctx, "@@g", []string{owner()}),
		"rename":       d.SetGroupName(ctx, "@@g", "x"),
		"stick":        d.Stick(ctx, owner(), true),
		"markname":     d.SetMarkname(ctx, owner(), "", "x"),
		"make_friend":  d.MakeFriend(ctx, owner(), "x"),
		"create_group": func() error { _, err := d.CreateGroup(ctx, "x", []string{owner()}); return err }(),
		"avatar":       func() error { _, _, err := d.Avatar(ctx, owner(), ""); return err }(),
	} {
		if !errors.Is(err, wxdriver.ErrUnsupported) {
			t.Errorf("%s: %v, want ErrUnsupported", name, err)
		}
	}
	if _, _, err := d.Avatar(ctx, "@nobody", ""); !errors.Is(err, wxdriver.ErrUnknown) {
		t.Errorf("avatar of a stranger: %v, want ErrUnknown", err)
	}
	if len(f.Sent()) != 0 {
		t.Error("refused sends reached the fake")
	}
}

// The token, the cursor and the context_token survive a restart: no QR code, nothing
// delivered twice, nothing lost, and a reply possible at once.
func TestStateSurvivesRestart(t *testing.T) {
	f := ilinktest.New(t)
	dir := t.TempDir()
	d := newDriver(t, config(f, dir))
	s := newSink()
	stop := running(t, d, s)
	s.wait(t, "login", func() bool { return len(s.logins) == 1 })
	f.Text("one")
	f.Text("two")
	s.wait(t, "two messages", func() bool { return len(s.received) == 2 })
	// The cursor is saved after the batch: wait until the fake saw a poll carrying it.
	f.Wait(t, "a poll carrying the cursor past both", func() bool {
		c := f.Cursors()
		return len(c) > 0 && c[len(c)-1] == ilinktest.Cursor(2)
	})
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	f.Text("three, while away")

	d2 := newDriver(t, config(f, dir))
	s2 := newSink()
	running(t, d2, s2)
	s2.wait(t, "login again", func() bool { return len(s2.logins) == 1 })
	s2.wait(t, "the message sent while away", func() bool { return len(s2.received) >= 1 })
	s2.mu.Lock()
	scanned, rec := s2.logins[0], slices.Clone(s2.received)
	s2.mu.Unlock()
	if scanned || len(s2.qrs) != 0 || f.QRCodesIssued() != 1 {
		t.Errorf("the restart scanned a QR code (%d issued)", f.QRCodesIssued())
	}
	if len(rec) != 1 || rec[0].Content != "three, while away" {
		t.Errorf("after the restart got %+v, want only the third message", rec)
	}
	if _, err := d2.Send(context.Background(), wxdriver.Outgoing{Type: wx.FriendMessage, TargetID: owner(), Content: "back"}); err != nil {
		t.Errorf("reply after the restart: %v", err)
	}
}

// A session that expires (errcode -14) ends Run; the next Run logs in with a new QR code.
func TestSessionExpired(t *testing.T) {
	f := ilinktest.New(t)
	d := newDriver(t, config(f, t.TempDir()))
	s := newSink()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Run(ctx, s) }()
	s.wait(t, "login", func() bool { return len(s.logins) == 1 })
	f.Expire()
	err := <-errc
	if !errors.Is(err, ilink.ErrSessionExpiredLogin) || errors.Is(err, wxdriver.ErrFatal) {
		t.Fatalf("Run after -14: %v, want ErrSessionExpiredLogin, not fatal", err)
	}
	go func() { errc <- d.Run(ctx, s) }()
	s.wait(t, "a QR login again", func() bool { return len(s.logins) == 2 })
	s.mu.Lock()
	if !s.logins[1] || len(s.qrs) != 2 {
		t.Errorf("the login after -14: scanned %v, %d QR codes", s.logins[1], len(s.qrs))
	}
	s.mu.Unlock()
	f.Text("after")
	s.wait(t, "a message after the new login", func() bool { return len(s.received) == 1 })
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

// A refused token is fatal, with a message that says what to do.
func TestRefusedToken(t *testing.T) {
	f := ilinktest.New(t)
	tok := f.Token()
	f.Refuse(tok)
	cfg := config(f, t.TempDir())
	cfg.Token = tok
	d := newDriver(t, cfg)
	err := d.Run(context.Background(), newSink())
	if !errors.Is(err, wxdriver.ErrFatal) || !errors.Is(err, ilink.ErrRefused) || !strings.Contains(err.Error(), "ILINK_TOKEN") {
		t.Fatalf("Run with a refused token: %v", err)
	}
	if f.QRCodesIssued() != 0 {
		t.Error("a refused token led to a QR login")
	}
}

// A dropped connection, garbage and a stalled poll are survived: messages still arrive, the
// cursor is not advanced by garbage.
func TestFaults(t *testing.T) {
	f := ilinktest.New(t)
	cfg := config(f, t.TempDir())
	cfg.Token = f.Token()
	cfg.PollTimeout = 300 * time.Millisecond
	d := newDriver(t, cfg)
	s := newSink()
	running(t, d, s)
	s.wait(t, "login", func() bool { return len(s.logins) == 1 })
	if s.logins[0] || len(s.qrs) != 0 {
		t.Error("a configured token led to a QR login")
	}
	n := 0
	for name, fault := range map[string]func() func(){
		"drop":    func() func() { f.Drop(2); return func() {} },
		"garbage": func() func() { f.Garbage(2); return func() {} },
		"stall":   func() func() { return f.Stall() },
	} {
		t.Run(name, func(t *testing.T) {
			polls := f.Polls()
			release := fault()
			f.Wait(t, "two polls under the fault", func() bool { return f.Polls() >= polls+2 })
			release()
			f.Text("after " + name)
			n++
			s.wait(t, "the message after "+name, func() bool {
				return slices.ContainsFunc(s.received, func(in wxdriver.Incoming) bool { return in.Content == "after "+name })
			})
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) != n {
		t.Errorf("received %d messages, want %d (none repeated)", len(s.received), n)
	}
}
