package ilink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/wait"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// botType is get_bot_qrcode's bot_type, the plugin's default.
const botType = "3"

// maxQRRefresh is how many QR codes a login shows before it gives up, as the plugin.
const maxQRRefresh = 3

// ErrSessionExpiredLogin ends Run when iLink answers errcode -14: the session calls Run again,
// which logs in with a new QR code.
var ErrSessionExpiredLogin = errors.New("ilink: session expired (errcode -14): log in again")

// Run logs in (the token configured or saved, else a QR login), hands over the roster, then
// long-polls getupdates until ctx ends. A refused token is fatal; an expired session ends
// Run so that the next one logs in with a QR code; network faults and garbage are retried
// with back-off.
func (d *Driver) Run(ctx context.Context, sink wxdriver.Sink) error {
	defer func() {
		d.mu.Lock()
		d.online = false
		d.mu.Unlock()
	}()
	sink.State(events.StateLoading)
	d.mu.Lock()
	token := d.st.Token
	if d.cfg.Token != "" && !d.expired {
		token = d.cfg.Token
	}
	d.mu.Unlock()
	scanned := false
	if token == "" {
		if err := d.qrLogin(ctx, sink); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		scanned = true
	}
	sink.State(events.StateUpdating)
	d.mu.Lock()
	ro := d.rosterLocked()
	d.online = true
	d.mu.Unlock()
	sink.LoggedIn(ro, scanned)
	err := d.poll(ctx, sink)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// base is the API URL: the login's baseurl, else the configured one.
func (d *Driver) base() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.BaseURL != "" {
		return d.st.BaseURL
	}
	return d.cfg.BaseURL
}

// token is the bot token in use.
func (d *Driver) token() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.Token != "" && !d.expired {
		return d.cfg.Token
	}
	return d.st.Token
}

// rosterLocked is the one chat's roster: the user is the bot, the one friend the owner (its
// id "@"+ilink_user_id, account and uid the ilink_user_id, name OwnerName: iLink gives no
// nickname). Before the owner is known (a configured token, no message yet) it has no
// friend; the first message reports new_friend. Callers hold mu.
func (d *Driver) rosterLocked() *wxroster.Roster {
	bot := d.st.BotID
	if bot == "" {
		bot = "ilink-bot-" + d.account
	}
	ro := &wxroster.Roster{User: wx.User{ID: contactID(bot), Account: bot, UID: bot, Name: d.cfg.BotName}}
	if d.st.OwnerID != "" {
		ro.Friends = append(ro.Friends, d.friend(d.st.OwnerID))
	}
	return ro
}

// friend is the Openwx friend of an iLink user.
func (d *Driver) friend(id string) wx.Friend {
	return wx.Friend{ID: contactID(id), Account: id, UID: id, Name: d.cfg.OwnerName, Category: wx.CategoryFriend}
}

// qrLogin walks the QR login: a code shown (scaning), scanned (confirming), confirmed (the
// token kept). An expired code is replaced, at most maxQRRefresh times.
func (d *Driver) qrLogin(ctx context.Context, sink wxdriver.Sink) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.LoginTimeout)
	defer cancel()
	base := d.cfg.BaseURL
	for shown := 1; ; shown++ {
		if shown > maxQRRefresh {
			return fmt.Errorf("ilink: the QR code expired %d times", maxQRRefresh)
		}
		b, err := d.c.post(ctx, base, "ilink/bot/get_bot_qrcode?bot_type="+botType, "", map[string]any{"local_token_list": []string{}}, d.cfg.APITimeout)
		if err != nil {
			return err
		}
		var qr QRCodeResp
		if err := json.Unmarshal(b, &qr); err != nil || qr.QRCode == "" || qr.QRCodeImgContent == "" {
			return fmt.Errorf("ilink: get_bot_qrcode: a bad answer %q (%v)", trim(b), err)
		}
		path, img, err := d.qrImage(qr.QRCodeImgContent)
		if err != nil {
			return err
		}
		sink.QRCode(path, img)
		sink.State(events.StateScaning)
		confirming := false
		for {
			b, err := d.c.get(ctx, base, "ilink/bot/get_qrcode_status?qrcode="+url.QueryEscape(qr.QRCode), d.cfg.PollTimeout)
			if ctx.Err() != nil {
				return fmt.Errorf("ilink: QR login: %w", ctx.Err())
			}
			var st QRStatusResp
			if err == nil {
				err = json.Unmarshal(b, &st)
			}
			if err != nil {
				// As the plugin: a failed status poll is a "wait".
				d.log.Warn("ilink: get_qrcode_status failed", "err", err)
				if wait.Sleep(ctx, d.cfg.RetryMin) != nil {
					return fmt.Errorf("ilink: QR login: %w", ctx.Err())
				}
				continue
			}
			switch st.Status {
			case QRWait:
			case QRScanned:
				if !confirming {
					confirming = true
					sink.State(events.StateConfirming)
				}
			case QRConfirmed:
				if st.BotToken == "" {
					return errors.New("ilink: the login was confirmed without a bot_token")
				}
				d.mu.Lock()
				d.st.Token, d.st.BotID, d.st.BaseURL, d.expired = st.BotToken, st.ILinkBotID, st.BaseURL, false
				if st.ILinkUserID != "" {
					d.st.OwnerID = st.ILinkUserID
				}
				d.mu.Unlock()
				if err := d.saveState(); err != nil {
					d.log.Error("ilink: the bot token could not be saved", "err", err)
				}
				d.log.Info("ilink: logged in", "bot", st.ILinkBotID, "owner", st.ILinkUserID)
				return nil
			case QRExpired:
				d.log.Info("ilink: the QR code expired", "shown", shown)
			default:
				return fmt.Errorf("ilink: QR login: status %q", st.Status)
			}
			if st.Status == QRExpired {
				break
			}
		}
	}
}

// qrImage renders the QR code's text (a URL to open in WeChat) as a PNG, and saves it.
func (d *Driver) qrImage(text string) (string, []byte, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", nil, fmt.Errorf("ilink: qrcode: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, q.Image(256)); err != nil {
		return "", nil, fmt.Errorf("ilink: qrcode: %w", err)
	}
	path := filepath.Join(d.cfg.QRCodeDir, "openwx_qrcode_"+d.account+".png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		d.log.Warn("ilink: could not save the QR code", "path", path, "err", err)
	}
	return path, buf.Bytes(), nil
}

// poll long-polls getupdates. The cursor is saved after each batch is delivered: a restart
// neither loses a batch nor repeats one delivered (one cut short by a crash is delivered
// again).
func (d *Driver) poll(ctx context.Context, sink wxdriver.Sink) error {
	timeout := d.cfg.PollTimeout
	backoff := d.cfg.RetryMin
	retry := func(err error) error {
		d.log.Warn("ilink: getupdates failed, retrying", "in", backoff, "err", err)
		if wait.Sleep(ctx, backoff) != nil {
			return ctx.Err()
		}
		backoff = min(2*backoff, d.cfg.RetryMax)
		return nil
	}
	for ctx.Err() == nil {
		d.mu.Lock()
		cursor := d.st.Cursor
		d.mu.Unlock()
		// The client waits a little longer than the server's long poll.
		b, err := d.c.post(ctx, d.base(), "ilink/bot/getupdates", d.token(), GetUpdatesReq{GetUpdatesBuf: cursor}, timeout+5*time.Second)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrRefused):
			return errFatal(fmt.Errorf("%w: set ILINK_TOKEN to a valid bot token, or leave it empty and delete %s for a QR login", err, stateFile(d.cfg.StateDir)))
		case errors.Is(err, context.DeadlineExceeded):
			continue // a long poll with nothing to say
		case err != nil:
			if retry(err) != nil {
				return nil
			}
			continue
		}
		resp, err := DecodeUpdates(b)
		if err != nil {
			d.log.Warn("ilink: a malformed getupdates answer skipped", "err", err, "body", trim(b))
			if retry(err) != nil {
				return nil
			}
			continue
		}
		if code := (Result{Ret: resp.Ret, ErrCode: resp.ErrCode}).Code(); code != 0 {
			if code == ErrSessionExpired {
				d.expireSession()
				return ErrSessionExpiredLogin
			}
			if retry(fmt.Errorf("ilink: getupdates: ret %d errcode %d: %s", resp.Ret, resp.ErrCode, resp.ErrMsg)) != nil {
				return nil
			}
			continue
		}
		backoff = d.cfg.RetryMin
		if resp.LongPollingTimeoutMS > 0 {
			timeout = time.Duration(resp.LongPollingTimeoutMS) * time.Millisecond
		}
		for _, m := range resp.Msgs {
			d.deliver(ctx, sink, m)
		}
		d.mu.Lock()
		changed := resp.GetUpdatesBuf != "" && resp.GetUpdatesBuf != d.st.Cursor
		if changed {
			d.st.Cursor = resp.GetUpdatesBuf
		}
		d.mu.Unlock()
		if changed || len(resp.Msgs) > 0 {
			if err := d.saveState(); err != nil {
				d.log.Error("ilink: the cursor could not be saved", "err", err)
			}
		}
	}
	return nil
}

// expireSession forgets the token whose session expired (and its cursor and context tokens,
// which belong to it): the next Run logs in with a QR code.
func (d *Driver) expireSession() {
	d.mu.Lock()
	d.st.Token, d.st.Cursor, d.expired, d.online = "", "", true, false
	clear(d.st.ContextTokens)
	d.mu.Unlock()
	if err := d.saveState(); err != nil {
		d.log.Error("ilink: the state could not be saved", "err", err)
	}
	d.log.Warn("ilink: the session expired (errcode -14): logging in again with a QR code")
}
