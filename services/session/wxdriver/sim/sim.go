// Package sim is the simulated WeChat account: a driver whose roster is generated (or loaded
// from a JSON file of wxroster.Roster), whose ids change at every QR login as WeChat's do,
// whose login walks loading → scaning → confirming → updating with a real QR code, and which
// "receives" every message format and event it is asked to on wx.sim.inject (it declares the
// Injector capability). It keeps what is sent to it, media bytes included, answers messages
// from the friends configured to answer (小冰, ms-xiaoice, answers everything: consult's
// demo), and carries out the admin calls on its own copy of the roster, reporting their
// effects as WeChat's sync would.
//
// It registers itself as the WeChat driver "sim", configured by WX_SIM_* variables (Config).
package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// Config configures the simulated account.
type Config struct {
	// Roster is a roster file (a wxroster.Roster in JSON); empty means the generated one.
	Roster string `envconfig:"ROSTER"`
	// LoginDelay is how long the login stays in each of scaning, confirming and updating.
	LoginDelay time.Duration `envconfig:"LOGIN_DELAY" default:"0s"`
	// QRCodeDir is where the login QR code image is written.
	QRCodeDir string `envconfig:"QRCODE_DIR"`
	// Answerers are the accounts (or, for friends without one, the names) of the friends who
	// answer every text or media message sent to them, after ReplyDelay: consult's partners.
	Answerers []string `envconfig:"ANSWERERS" default:"ms-xiaoice"`
	// ReplyDelay is how long an answerer takes to answer.
	ReplyDelay time.Duration `envconfig:"REPLY_DELAY" default:"1s"`
	// RevokeWindow is how long after a send the message may still be revoked (WeChat: 2 min).
	RevokeWindow time.Duration `envconfig:"REVOKE_WINDOW" default:"2m"`
}

// Delivery is a message that reached the simulated server from this account.
type Delivery struct {
	MsgID    string
	Type     string
	TargetID string
	Content  string
	// Media is the file sent, its bytes read through the Media's Open.
	Media     *wxdriver.MediaMeta
	MediaData []byte
	Time      time.Time
	Revoked   bool
}

// FriendRequestSent is a make_friend request the account sent.
type FriendRequestSent struct {
	ID, Name, Verify string
}

// Sim is the simulated account. It keeps its own copy of the roster, the WeChat server's
// view, which the session's copy follows through login and changes.
type Sim struct {
	cfg     Config
	account string
	log     *slog.Logger

	mu        sync.Mutex
	ro        *wxroster.Roster // the server's roster, ids of the current login
	sink      wxdriver.Sink    // nil while not logged in
	runCtx    context.Context  // the current Run's context: answers end with it
	answers   sync.WaitGroup   // answers under way, which Run waits for
	drop      chan struct{}    // closed by Drop to end the login in progress
	dropped   bool             // the last Run was dropped: the next login reuses the cookie
	logins    int
	msgSeq    uint64
	sent      []Delivery // the latest sends, at most keepSent
	requests  map[string]wx.FriendRequest
	made      []FriendRequestSent
	answerers map[string]bool
	now       func() time.Time // the clock of the revoke window
}

// keepSent is how many sends Sent remembers: enough for a test, bounded for a benchmark.
const keepSent = 64

// keepSentBytes bounds the media bytes the remembered sends hold: beyond it the oldest sends
// keep their media's description but not its bytes, so that a stream of large media (`make
// bench` sends 100 × 1 MB) is not held 64 times over. The latest send keeps its bytes
// whatever their size.
const keepSentBytes = 4 << 20

func init() {
	wxdriver.Register("sim", "WX_SIM", func(cfg Config, p wxdriver.Params) (wxdriver.Driver, error) { return New(cfg, p) })
}

var _ wxdriver.Injector = (*Sim)(nil)

// New loads or generates the roster and returns a Sim. Of p it uses the account and the
// logger.
func New(cfg Config, p wxdriver.Params) (*Sim, error) {
	ro := defaultRoster()
	if cfg.Roster != "" {
		f, err := os.Open(cfg.Roster)
		if err != nil {
			return nil, fmt.Errorf("wx sim roster: %w", err)
		}
		defer f.Close()
		dec := json.NewDecoder(f)
		dec.DisallowUnknownFields()
		ro = &wxroster.Roster{}
		if err := dec.Decode(ro); err != nil {
			return nil, fmt.Errorf("wx sim roster %q: %w", cfg.Roster, err)
		}
		if err := ro.Validate(); err != nil {
			return nil, fmt.Errorf("wx sim roster %q: %w", cfg.Roster, err)
		}
	}
	if cfg.QRCodeDir == "" {
		cfg.QRCodeDir = os.TempDir()
	}
	if cfg.Answerers == nil {
		cfg.Answerers = []string{XiaoiceAccount}
	}
	if cfg.RevokeWindow == 0 {
		cfg.RevokeWindow = 2 * time.Minute
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Sim{
		cfg: cfg, account: p.Account, log: log, ro: ro, drop: make(chan struct{}),
		msgSeq: 2273934420223351000, requests: map[string]wx.FriendRequest{}, answerers: map[string]bool{}, now: time.Now,
	}
	for _, a := range cfg.Answerers {
		s.answerers[a] = true
	}
	return s, nil
}

// Capabilities: injections, messages sent from "the phone", property changes and friend
// requests.
func (s *Sim) Capabilities() wxdriver.Capabilities {
	return wxdriver.Capabilities{Injector: s, SentElsewhere: true, Properties: true, FriendRequests: true}
}

// Run logs in, then keeps the account logged in (taking injections) until ctx ends. A login
// after a dropped connection reuses the cookie (no QR code, same ids, login [0]); any other
// is a QR login, which gives every contact a new id.
func (s *Sim) Run(ctx context.Context, sink wxdriver.Sink) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer func() {
		// No new answer once the sink is gone; then those under way end.
		s.mu.Lock()
		s.sink, s.runCtx = nil, nil
		s.mu.Unlock()
		cancel()
		s.answers.Wait()
	}()

	s.mu.Lock()
	s.logins++
	attempt, drop, scan := s.logins, s.drop, !s.dropped
	s.dropped = false
	s.mu.Unlock()

	sink.State(events.StateLoading)
	steps := []events.State{events.StateUpdating}
	if scan {
		path, img, err := s.qrcode(attempt)
		if err != nil {
			return err
		}
		sink.QRCode(path, img)
		steps = []events.State{events.StateScaning, events.StateConfirming, events.StateUpdating}
	}
	for _, st := range steps {
		sink.State(st)
		if err := wait.Sleep(ctx, s.cfg.LoginDelay); err != nil {
			return nil
		}
	}
	s.mu.Lock()
	if scan {
		s.ro.RenewIDs(newID)
		clear(s.requests) // tickets name the old ids
	}
	s.sink, s.runCtx = sink, runCtx
	ro := s.ro.Clone()
	s.mu.Unlock()
	sink.LoggedIn(ro, scan)
	select {
	case <-ctx.Done():
		return nil
	case <-drop:
		s.mu.Lock()
		s.dropped = true
		s.mu.Unlock()
		return errDropped
	}
}

// errDropped is how a login ends when Drop cuts it.
var errDropped = errors.New("wx sim: connection dropped")

// Drop ends the login in progress as a lost connection would: Run returns an error, and the
// session logs in again (with the cookie: same ids).
func (s *Sim) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.drop)
	s.drop = make(chan struct{})
}

// trimSentMedia drops the bytes of the oldest sends' media while the sends hold more than
// keepSentBytes, the latest send's excepted. Callers hold mu.
func (s *Sim) trimSentMedia() {
	held := 0
	for _, d := range s.sent {
		held += len(d.MediaData)
	}
	for i := 0; held > keepSentBytes && i < len(s.sent)-1; i++ {
		held -= len(s.sent[i].MediaData)
		s.sent[i].MediaData = nil
	}
}

// Sent returns the latest messages the simulated account sent (at most 64), oldest first;
// the media bytes of the older ones are dropped beyond 4 MB in all (keepSentBytes).
func (s *Sim) Sent() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// FriendRequestsSent returns the make_friend requests the account sent.
func (s *Sim) FriendRequestsSent() []FriendRequestSent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.made)
}

// Roster returns a copy of the simulated server's roster, with the current login's ids.
func (s *Sim) Roster() *wxroster.Roster {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ro.Clone()
}

// qrcode makes the login QR code, a JPEG as WeChat's, and saves it where Mojo-Weixin saved
// its own.
func (s *Sim) qrcode(attempt int) (string, []byte, error) {
	text := fmt.Sprintf("openwx-sim://login?account=%s&attempt=%d&t=%d", s.account, attempt, time.Now().Unix())
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", nil, fmt.Errorf("wx sim: qrcode: %w", err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, q.Image(256), &jpeg.Options{Quality: 90}); err != nil {
		return "", nil, fmt.Errorf("wx sim: qrcode: %w", err)
	}
	path := filepath.Join(s.cfg.QRCodeDir, "openwx_qrcode_"+s.account+".jpg")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		// The event still carries the image; a read-only temp dir must not stop the login.
		s.log.Warn("wx sim: could not save the QR code", "path", path, "err", err)
	}
	return path, buf.Bytes(), nil
}

// nextMsgID makes a MsgID as WeChat's look: a 19-digit number. Callers hold mu.
func (s *Sim) nextMsgID() string {
	s.msgSeq++
	return strconv.FormatUint(s.msgSeq, 10)
}

// loggedIn returns the sink, or the error of a call made while not logged in.
func (s *Sim) loggedIn() (wxdriver.Sink, error) {
	if s.sink == nil {
		return nil, &wxdriver.SendError{Ret: wxdriver.RetNotLoggedIn, ErrMsg: "not logged in"}
	}
	return s.sink, nil
}

// Send delivers a message to a friend or a group of the simulated server; the media's bytes
// are read and kept.
func (s *Sim) Send(ctx context.Context, m wxdriver.Outgoing) (string, error) {
	s.mu.Lock()
	_, err := s.loggedIn()
	var friend *wx.Friend
	if err == nil {
		switch m.Type {
		case wx.FriendMessage:
			if f := s.ro.Friend(m.TargetID); f != nil {
				c := *f
				friend = &c
			} else {
				err = &wxdriver.SendError{Ret: wxdriver.RetNoSuchUser, ErrMsg: "no such contact: " + m.TargetID}
			}
		case wx.GroupMessage:
			if s.ro.Group(m.TargetID) == nil {
				err = &wxdriver.SendError{Ret: wxdriver.RetNoSuchUser, ErrMsg: "no such group: " + m.TargetID}
			}
		default:
			err = &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "unknown message type " + m.Type}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	if m.Content == "" && m.Media == nil {
		return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "empty message"}
	}
	d := Delivery{Type: m.Type, TargetID: m.TargetID, Content: m.Content}
	if m.Media != nil {
		if m.Media.Open == nil {
			return "", &wxdriver.SendError{Ret: wxdriver.RetFailure, ErrMsg: "media without bytes"}
		}
		data, err := readMedia(ctx, m.Media)
		if err != nil {
			return "", fmt.Errorf("wx sim: read media %s: %w", m.Media.Meta.ID, err)
		}
		meta := m.Media.Meta
		d.Media, d.MediaData = &meta, data
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return "", &wxdriver.SendError{Ret: wxdriver.RetNotLoggedIn, ErrMsg: "not logged in"}
	}
	d.MsgID, d.Time = s.nextMsgID(), s.now()
	if len(s.sent) == keepSent {
		s.sent = slices.Delete(s.sent, 0, 1)
	}
	s.sent = append(s.sent, d)
	s.trimSentMedia()
	if friend != nil && (s.answerers[friend.Account] || (friend.Account == "" && s.answerers[friend.Name])) {
		s.answer(*friend, d)
	}
	return d.MsgID, nil
}

func readMedia(ctx context.Context, m *wxdriver.Media) ([]byte, error) {
	rc, err := m.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// The size is known: one buffer of it, not io.ReadAll's doublings, which held a 1 MB image
	// about twice over while it was read (make bench's Openwx memory row).
	buf := bytes.NewBuffer(make([]byte, 0, int(max(m.Meta.Size, 0))+bytes.MinRead))
	_, err = buf.ReadFrom(rc)
	return buf.Bytes(), err
}

// answer makes a friend answer d after ReplyDelay. Callers hold mu.
func (s *Sim) answer(f wx.Friend, d Delivery) {
	sink, ctx := s.sink, s.runCtx
	text := "收到: " + d.Content
	if d.Content == "" {
		text = "收到一个文件: " + d.Media.Name
	}
	if f.Account == XiaoiceAccount {
		text = "[小冰] " + text
	}
	s.answers.Go(func() {
		if err := wait.Sleep(ctx, s.cfg.ReplyDelay); err != nil {
			return
		}
		in := wxdriver.Incoming{Type: wx.FriendMessage, SenderID: f.ID, Time: time.Now(), Body: wxdriver.Body{Format: wx.FormatText, Content: text}}
		s.mu.Lock()
		in.MsgID = s.nextMsgID()
		s.mu.Unlock()
		if _, err := sink.Receive(ctx, in); err != nil && ctx.Err() == nil {
			s.log.Warn("wx sim: answer not received", "from", f.ID, "err", err)
		}
	})
}

// Revoke withdraws a message sent less than RevokeWindow ago.
func (s *Sim) Revoke(_ context.Context, msgID, peerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.loggedIn(); err != nil {
		return err
	}
	i := slices.IndexFunc(s.sent, func(d Delivery) bool { return d.MsgID == msgID && d.TargetID == peerID })
	if i < 0 || s.sent[i].Revoked {
		return fmt.Errorf("revoke %s to %s: %w", msgID, peerID, wxdriver.ErrUnknown)
	}
	if age := s.now().Sub(s.sent[i].Time); age > s.cfg.RevokeWindow {
		return fmt.Errorf("revoke %s: sent %s ago: %w", msgID, age.Round(time.Second), wxdriver.ErrTooOld)
	}
	s.sent[i].Revoked = true
	return nil
}
