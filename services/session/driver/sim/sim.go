// Package sim is the simulated QQ account: a driver whose roster loads from a JSON file (a
// default ships, embedded), whose login walks every state of the seeds and shows a real QR
// code, and which "receives" the messages and roster changes it is asked to: it declares the
// Injector capability, and the session serves qq.sim.inject for it. Tests, demos and
// benchmarks drive the whole system through it.
//
// It registers itself as the driver "sim", configured by SIM_* variables (Config).
package sim

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session/driver"
	"github.com/openqq/openqq/services/session/driver/face"
	"github.com/openqq/openqq/services/session/roster"
)

//go:embed default_roster.json
var defaultRoster []byte

// Config configures the simulated account.
type Config struct {
	// Roster is a roster file (the format of default_roster.json); empty means the built-in one.
	Roster string `envconfig:"ROSTER"`
	// LoginDelay is how long the login stays in each of scaning, confirming and updating.
	LoginDelay time.Duration `envconfig:"LOGIN_DELAY" default:"0s"`
	// QRCodeDir is where the login QR code image is written.
	QRCodeDir string `envconfig:"QRCODE_DIR"`
}

// Sim is the simulated account. It keeps its own copy of the roster, the QQ server's view,
// which the session's copy follows through login and changes; a relogin keeps it, as logging
// in again to QQ does not undo a kick.
type Sim struct {
	cfg     Config
	account string
	log     *slog.Logger

	mu     sync.Mutex
	ro     *roster.Roster         // the server's roster: it outlives a login, as QQ's does
	sink   driver.Sink            // nil while not logged in
	drop   chan struct{}          // closed by Drop to end the login in progress
	muted  map[[2]int64]time.Time // (group, member) → muted until
	sent   []Delivery             // the latest sends, at most keepSent
	logins int
}

// keepSent is how many sends Sent remembers: enough for a test, bounded for a benchmark.
const keepSent = 64

func init() {
	driver.Register("sim", "SIM", func(cfg Config, p driver.Params) (driver.Driver, error) { return New(cfg, p) })
}

var _ driver.Injector = (*Sim)(nil)

// Validate tells whether an account can run with c, without opening it: a roster file given
// must decode (the default roster, embedded, is known to). The Controller checks a start_client
// with it, and decoding the default roster there would cost each start as much as its login.
func (c *Config) Validate() error {
	if c.Roster == "" {
		return nil
	}
	_, err := loadRoster(c.Roster)
	return err
}

// loadRoster decodes the roster file path, the default roster if path is "".
func loadRoster(path string) (*roster.Roster, error) {
	var src io.Reader = bytes.NewReader(defaultRoster)
	if path != "" {
		// Decoded from the file, not from a copy of it in memory: a roster of 100,000
		// members is a 27 MB file.
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("sim roster: %w", err)
		}
		defer f.Close()
		src = f
	}
	ro, err := roster.Decode(src)
	if err != nil {
		return nil, fmt.Errorf("sim roster %q: %w", path, err)
	}
	return ro, nil
}

// New loads the roster and returns a Sim. Of p it uses the account and the logger.
func New(cfg Config, p driver.Params) (*Sim, error) {
	ro, err := loadRoster(cfg.Roster)
	if err != nil {
		return nil, err
	}
	if cfg.Roster != "" {
		// Decoding a large roster leaves about twice the file's size as garbage, which the
		// runtime would otherwise hand back to the OS only slowly: return it now, once.
		debug.FreeOSMemory()
	}
	if cfg.QRCodeDir == "" {
		cfg.QRCodeDir = os.TempDir()
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	return &Sim{cfg: cfg, account: p.Account, log: log, ro: ro, drop: make(chan struct{}), muted: map[[2]int64]time.Time{}}, nil
}

// Capabilities declares injections (the account receives nothing else), the property
// changes they may make, faces and pictures.
func (s *Sim) Capabilities() driver.Capabilities {
	return driver.Capabilities{Injector: s, Properties: true, Faces: true, Media: true}
}

// Run logs in, then keeps the account logged in (taking injections) until ctx ends.
func (s *Sim) Run(ctx context.Context, sink driver.Sink) error {
	defer func() {
		s.mu.Lock()
		s.sink = nil
		s.mu.Unlock()
	}()

	s.mu.Lock()
	s.logins++
	attempt := s.logins
	drop := s.drop
	s.mu.Unlock()

	path, png, err := s.qrcode(attempt)
	if err != nil {
		return err
	}
	sink.QRCode(path, png)
	for _, st := range []events.State{events.StateScaning, events.StateConfirming, events.StateUpdating} {
		sink.State(st)
		if err := wait.Sleep(ctx, s.cfg.LoginDelay); err != nil {
			return nil
		}
	}
	s.mu.Lock()
	s.sink = sink
	ro := s.ro.Clone()
	s.mu.Unlock()
	sink.LoggedIn(ro, true)
	select {
	case <-ctx.Done():
		return nil
	case <-drop:
		return errDropped
	}
}

// errDropped is how a login ends when Drop cuts it.
var errDropped = errors.New("sim: connection dropped")

// Drop ends the login in progress as a lost connection would: Run returns an error, and the
// session logs in again. Tests of reconnection use it.
func (s *Sim) Drop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.drop)
	s.drop = make(chan struct{})
}

// Sent returns the latest messages the simulated account sent (at most 64), oldest first.
func (s *Sim) Sent() []driver.Outgoing {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]driver.Outgoing, len(s.sent))
	for i, d := range s.sent {
		out[i] = d.Outgoing
	}
	return out
}

// Deliveries are the latest sends as the simulated server got them (faces as faces, the
// picture's bytes), oldest first, as Sent.
func (s *Sim) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// InGroup reports whether a member is in a group of the simulated server.
func (s *Sim) InGroup(groupID, memberID int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.ro.Group(groupID)
	return g != nil && roster.GroupMember(g, memberID) != nil
}

// qrcode makes the login QR code and saves it where Mojo-Webqq saved its own.
func (s *Sim) qrcode(attempt int) (string, []byte, error) {
	text := fmt.Sprintf("openqq-sim://login?account=%s&attempt=%d&t=%d", s.account, attempt, time.Now().Unix())
	png, err := qrcode.Encode(text, qrcode.Medium, 256)
	if err != nil {
		return "", nil, fmt.Errorf("sim: qrcode: %w", err)
	}
	path := filepath.Join(s.cfg.QRCodeDir, "openqq_qrcode_"+s.account+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		// The event still carries the image; a read-only temp dir must not stop the login.
		s.log.Warn("sim: could not save the QR code", "path", path, "err", err)
	}
	return path, png, nil
}

// Delivery is a send as the simulated QQ server got it: the message, its content as QQ
// carries it (text and faces: [微笑] arrives as face 14, [不是表情] as text), and the
// picture's bytes.
type Delivery struct {
	driver.Outgoing
	Parts   []face.Part
	Picture []byte
}

// Send delivers a message to a target that exists on the simulated server.
func (s *Sim) Send(ctx context.Context, m driver.Outgoing) error {
	d := Delivery{Outgoing: m, Parts: face.Parse(m.Content)}
	if m.Media != nil {
		// Read before taking the lock: a large picture must not hold up the account.
		pic, err := readMedia(ctx, m.Media)
		if err != nil {
			return &driver.SendError{Code: -3, Info: events.SendErrInfo + ": reading the picture: " + err.Error()}
		}
		d.Picture = pic
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return &driver.SendError{Code: -3, Info: events.SendErrInfo}
	}
	var ok bool
	switch m.Type {
	case events.FriendMessage:
		ok = s.ro.Friend(m.TargetID) != nil
	case events.GroupMessage:
		ok = s.ro.Group(m.TargetID) != nil
	case events.DiscussMessage:
		ok = s.ro.Discuss(m.TargetID) != nil
	case events.SessMessage:
		if g := s.ro.Group(m.GroupID); g != nil {
			ok = roster.GroupMember(g, m.TargetID) != nil
		} else if d := s.ro.Discuss(m.DiscussID); d != nil {
			ok = roster.DiscussMember(d, m.TargetID) != nil
		}
	}
	if !ok {
		return &driver.SendError{Code: -3, Info: events.SendErrInfo}
	}
	if len(s.sent) == keepSent {
		s.sent = slices.Delete(s.sent, 0, 1)
	}
	s.sent = append(s.sent, d)
	return nil
}

// readMedia reads a picture's bytes once, into one buffer of its known size (not
// io.ReadAll's doublings).
func readMedia(ctx context.Context, a *media.Attachment) ([]byte, error) {
	if a.Open == nil {
		return nil, errors.New("no bytes")
	}
	rc, err := a.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, int(max(a.Meta.Size, 0))+bytes.MinRead))
	_, err = buf.ReadFrom(rc)
	return buf.Bytes(), err
}

// Mute records the members as muted for d.
func (s *Sim) Mute(_ context.Context, groupID int64, memberIDs []int64, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	until := time.Now().Add(d)
	for _, id := range memberIDs {
		s.muted[[2]int64{groupID, id}] = until
	}
	return nil
}

// MutedUntil reports until when a member is muted, and whether it is muted now.
func (s *Sim) MutedUntil(groupID, memberID int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.muted[[2]int64{groupID, memberID}]
	return until, ok && time.Now().Before(until)
}

// Kick removes the members from the simulated server's group.
func (s *Sim) Kick(_ context.Context, groupID int64, memberIDs []int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		return driver.ErrNotReady
	}
	for _, id := range memberIDs {
		s.ro.RemoveGroupMember(groupID, id)
	}
	return nil
}
