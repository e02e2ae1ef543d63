// Package ilink is the WeChat driver of the official iLink bot API (Tencent's "ClawBot"
// channel, specified by Tencent/openclaw-weixin's README.md and src/api/types.ts): HTTPS
// JSON, a QR login (get_bot_qrcode?bot_type=3, get_qrcode_status), a long-poll getupdates
// with a cursor, sendmessage with the peer's last context_token, media through an
// AES-128-ECB encrypted CDN (getuploadurl).
//
// iLink carries one 1:1 chat: the account owner (who scanned the QR code) and the bot. The
// roster is the user (the bot) and one friend (the owner); there are no groups, no contact
// list, no revoke, no avatars: those calls answer wxdriver.ErrUnsupported, a send to a group
// a *wxdriver.SendError.
//
// It registers itself as the WeChat driver "ilink", configured by ILINK_* variables.
package ilink

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
)

// DefaultBaseURL is iLink's API; DefaultCDNURL its media CDN.
const (
	DefaultBaseURL = "https://ilinkai.weixin.qq.com"
	DefaultCDNURL  = "https://novac2c.cdn.weixin.qq.com/c2c"
)

// Config configures the driver (ILINK_*).
type Config struct {
	// BaseURL is the iLink API (the login's baseurl replaces it when iLink gives one).
	BaseURL string `envconfig:"BASE_URL" default:"https://ilinkai.weixin.qq.com"`
	// CDNURL is the media CDN, for media whose answers carry no full URL.
	CDNURL string `envconfig:"CDN_URL" default:"https://novac2c.cdn.weixin.qq.com/c2c"`
	// Token is a bot token; empty: the one saved by the last QR login, else a QR login.
	Token string `envconfig:"TOKEN"`
	// StateDir keeps the token, the getupdates cursor and the context_tokens across restarts;
	// empty: a directory named after the account in the temp dir.
	StateDir string `envconfig:"STATE_DIR"`
	// QRCodeDir is where the login QR code image is written (empty: the temp dir).
	QRCodeDir string `envconfig:"QRCODE_DIR"`
	// OwnerName is the name the one friend (the account owner) gets: iLink gives none.
	OwnerName string `envconfig:"OWNER_NAME" default:"微信用户"`
	// BotName is the user's (the bot's) name.
	BotName string `envconfig:"BOT_NAME" default:"ClawBot"`
	// APITimeout bounds a call (sendmessage, getuploadurl, a CDN transfer).
	APITimeout time.Duration `envconfig:"API_TIMEOUT" default:"15s"`
	// PollTimeout bounds one getupdates long poll (and one get_qrcode_status) when iLink
	// suggests none.
	PollTimeout time.Duration `envconfig:"POLL_TIMEOUT" default:"35s"`
	// LoginTimeout is how long a QR login may wait for the scan and the confirmation.
	LoginTimeout time.Duration `envconfig:"LOGIN_TIMEOUT" default:"8m"`
	// RetryMin and RetryMax bound the back-off between failed calls of the poll.
	RetryMin time.Duration `envconfig:"RETRY_MIN" default:"1s"`
	RetryMax time.Duration `envconfig:"RETRY_MAX" default:"30s"`
	// MaxMedia bounds a media downloaded from the CDN.
	MaxMedia int64 `envconfig:"MAX_MEDIA" default:"104857600"`
}

func init() {
	wxdriver.Register("ilink", "ILINK", func(cfg Config, p wxdriver.Params) (wxdriver.Driver, error) { return New(cfg, p) })
}

// Driver is the iLink connection.
type Driver struct {
	cfg     Config
	account string
	log     *slog.Logger
	c       client

	// persist serialises the state's writes.
	persist sync.Mutex
	mu      sync.Mutex
	st      state
	expired bool // the configured token's session expired: log in with a QR code
	online  bool // logged in and polling
	nextID  uint64
}

// New returns a driver; it contacts nobody until Run.
func New(cfg Config, p wxdriver.Params) (*Driver, error) {
	def := Config{BaseURL: DefaultBaseURL, CDNURL: DefaultCDNURL, OwnerName: "微信用户", BotName: "ClawBot",
		APITimeout: 15 * time.Second, PollTimeout: 35 * time.Second, LoginTimeout: 8 * time.Minute,
		RetryMin: time.Second, RetryMax: 30 * time.Second, MaxMedia: 100 << 20}
	fill(&cfg.BaseURL, def.BaseURL)
	fill(&cfg.CDNURL, def.CDNURL)
	fill(&cfg.OwnerName, def.OwnerName)
	fill(&cfg.BotName, def.BotName)
	fill(&cfg.APITimeout, def.APITimeout)
	fill(&cfg.PollTimeout, def.PollTimeout)
	fill(&cfg.LoginTimeout, def.LoginTimeout)
	fill(&cfg.RetryMin, def.RetryMin)
	fill(&cfg.RetryMax, def.RetryMax)
	fill(&cfg.MaxMedia, def.MaxMedia)
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(os.TempDir(), "openqq-ilink-"+p.Account)
	}
	if cfg.QRCodeDir == "" {
		cfg.QRCodeDir = os.TempDir()
	}
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	st, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	if st.ContextTokens == nil {
		st.ContextTokens = map[string]string{}
	}
	return &Driver{cfg: cfg, account: p.Account, log: log.With("driver", "ilink"), st: st,
		c: client{http: &http.Client{}}, nextID: uint64(time.Now().UnixNano())}, nil
}

func fill[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Capabilities: none of the optional parts (iLink reports no sends from elsewhere, no
// profile changes, no friend requests).
func (d *Driver) Capabilities() wxdriver.Capabilities { return wxdriver.Capabilities{} }

// saveState writes a copy of the state taken under mu.
func (d *Driver) saveState() error {
	d.persist.Lock()
	defer d.persist.Unlock()
	d.mu.Lock()
	st := d.st
	st.ContextTokens = make(map[string]string, len(d.st.ContextTokens))
	for k, v := range d.st.ContextTokens {
		st.ContextTokens[k] = v
	}
	d.mu.Unlock()
	return st.save(d.cfg.StateDir)
}

// ID mapping: Openwx contact ids start with "@"; iLink's user ids ("…@im.wechat") become
// "@" + the iLink id, stable across logins (iLink has no per-login ids).

func contactID(ilinkID string) string { return "@" + ilinkID }

func ilinkID(id string) (string, bool) {
	if len(id) < 2 || id[0] != '@' || wx.IsGroupID(id) {
		return "", false
	}
	return id[1:], true
}

// errUnsupported answers a call iLink cannot carry.
func errUnsupported(call string) error {
	return fmt.Errorf("ilink: %s: %w (iLink carries one 1:1 chat: no groups, no contact list)", call, wxdriver.ErrUnsupported)
}

// Revoke: iLink has no revoke.
func (d *Driver) Revoke(context.Context, string, string) error { return errUnsupported("revoke") }

// CreateGroup: iLink has no groups.
func (d *Driver) CreateGroup(context.Context, string, []string) (string, error) {
	return "", errUnsupported("create_group")
}

// Invite: iLink has no groups.
func (d *Driver) Invite(context.Context, string, []string) error { return errUnsupported("invite") }

// Kick: iLink has no groups.
func (d *Driver) Kick(context.Context, string, []string) error { return errUnsupported("kick") }

// SetGroupName: iLink has no groups.
func (d *Driver) SetGroupName(context.Context, string, string) error {
	return errUnsupported("set_group_displayname")
}

// Stick: iLink has no chat list.
func (d *Driver) Stick(context.Context, string, bool) error { return errUnsupported("stick") }

// SetMarkname: iLink has no remarks.
func (d *Driver) SetMarkname(context.Context, string, string, string) error {
	return errUnsupported("set_markname")
}

// MakeFriend: iLink has no friend requests.
func (d *Driver) MakeFriend(context.Context, string, string) error {
	return errUnsupported("make_friend")
}

// AcceptFriendRequest: iLink has no friend requests (none is ever reported).
func (d *Driver) AcceptFriendRequest(context.Context, wx.FriendRequest) error {
	return fmt.Errorf("ilink: accept_friend_request: %w", wxdriver.ErrUnknown)
}

// Avatar: iLink gives no pictures. ErrUnknown for an id that is not the user's or the
// friend's, ErrUnsupported for theirs.
func (d *Driver) Avatar(_ context.Context, id, groupID string) (string, []byte, error) {
	d.mu.Lock()
	known := groupID == "" && (id == contactID(d.st.BotID) && d.st.BotID != "" || d.knownPeer(id))
	d.mu.Unlock()
	if !known {
		return "", nil, fmt.Errorf("ilink: avatar %s: %w", id, wxdriver.ErrUnknown)
	}
	return "", nil, errUnsupported("get_avatar")
}

// knownPeer reports whether id is the owner's or a peer's who wrote. Callers hold mu.
func (d *Driver) knownPeer(id string) bool {
	u, ok := ilinkID(id)
	if !ok {
		return false
	}
	_, wrote := d.st.ContextTokens[u]
	return wrote || u == d.st.OwnerID
}

var errNotLoggedIn = &wxdriver.SendError{Ret: wxdriver.RetNotLoggedIn, ErrMsg: "ilink: not logged in"}

// errFatal wraps a refused token: logging in again with it cannot help.
func errFatal(err error) error { return fmt.Errorf("%w: %w", wxdriver.ErrFatal, err) }
