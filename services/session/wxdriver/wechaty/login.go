package wechaty

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
	"github.com/openqq/openqq/services/session/wxroster"
)

const (
	stateLoading    = events.StateLoading
	stateScaning    = events.StateScaning
	stateConfirming = events.StateConfirming
	stateUpdating   = events.StateUpdating
)

// login follows one Run's event stream.
type login struct {
	d        *Driver
	sink     wxdriver.Sink
	scanned  bool // a QR code was shown in this Run: the login is a new one
	loggedIn bool
}

// handle acts on one event. Only a logout ends the Run (with an error, so that the session
// runs it again and the account goes back to scaning); a malformed event is logged and
// skipped.
func (l *login) handle(ctx context.Context, e *pb.EventResponse) error {
	v, err := decodeEvent(e)
	if err != nil {
		l.d.log.Warn("wechaty: event skipped", "err", err)
		return nil
	}
	switch p := v.(type) {
	case *scanPayload:
		l.scan(p)
	case *loginPayload:
		if e.GetType() == pb.EventType_EVENT_TYPE_LOGOUT {
			if l.loggedIn {
				return errLoggedOut
			}
			return nil
		}
		if l.loggedIn {
			return nil
		}
		l.sink.State(stateUpdating)
		ro, err := l.d.loadRoster(ctx, p.ContactID)
		if err != nil {
			return err
		}
		l.d.mu.Lock()
		l.d.self, l.d.ro, l.d.sink, l.d.runCtx, l.d.failures = p.ContactID, ro, l.sink, ctx, 0
		l.d.mu.Unlock()
		l.loggedIn = true
		l.sink.LoggedIn(ro.Clone(), l.scanned)
	default:
		if !l.loggedIn {
			l.d.log.Debug("wechaty: event before the login skipped", "type", e.GetType())
			return nil
		}
		if err := l.d.event(ctx, v); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A payload the puppet cannot give, or the sink refusing, costs one event, not the
			// connection.
			l.d.log.Warn("wechaty: event not delivered", "type", e.GetType(), "err", err)
		}
	}
	return nil
}

func (l *login) scan(p *scanPayload) {
	switch p.Status {
	case scanWaiting, scanUnknown, scanTimeout, scanCancel:
		if p.QRCode == "" {
			return
		}
		path, img, err := l.d.qrcode(p.QRCode)
		if err != nil {
			l.d.log.Warn("wechaty: QR code", "err", err)
			return
		}
		l.scanned = true
		l.sink.QRCode(path, img)
		l.sink.State(stateScaning)
	case scanScanned:
		l.sink.State(stateConfirming)
	}
}

// qrcode draws the puppet's QR code text as a JPEG, as Mojo-Weixin saved it.
func (d *Driver) qrcode(text string) (string, []byte, error) {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return "", nil, err
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, q.Image(256), &jpeg.Options{Quality: 90}); err != nil {
		return "", nil, err
	}
	path := filepath.Join(d.cfg.QRCodeDir, "openwx_qrcode_"+d.account+".jpg")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		d.log.Warn("wechaty: could not save the QR code", "path", path, "err", err)
	}
	return path, buf.Bytes(), nil
}

// contactID and roomID are the wx ids of puppet ids.
func contactID(pid string) string {
	if pid == wx.FileHelperID {
		return pid
	}
	return "@" + pid
}

func roomID(pid string) string { return "@@" + pid }

// pid resolves a wx id handed out to its puppet id. Callers hold mu.
func (d *Driver) pid(id string) (string, bool) {
	p, ok := d.pids[id]
	return p, ok
}

func (d *Driver) contact(ctx context.Context, pid string) (*pb.ContactPayloadResponse, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	return d.c.ContactPayload(cctx, &pb.ContactPayloadRequest{Id: pid})
}

func sex(g pb.ContactGender) string {
	switch g {
	case pb.ContactGender_CONTACT_GENDER_MALE:
		return wx.SexMale
	case pb.ContactGender_CONTACT_GENDER_FEMALE:
		return wx.SexFemale
	}
	return "none"
}

// friendOf maps a contact: alias (the remark) → markname, weixin → account, the puppet id →
// uid.
func friendOf(c *pb.ContactPayloadResponse) wx.Friend {
	f := wx.Friend{ID: contactID(c.GetId()), UID: c.GetId(), Account: c.GetWeixin(), Name: c.GetName(), Markname: c.GetAlias(),
		City: c.GetCity(), Province: c.GetProvince(), Signature: c.GetSignature(), Sex: sex(c.GetGender()), Category: wx.CategoryFriend}
	switch {
	case c.GetId() == wx.FileHelperID || c.GetId() == "weixin":
		f.Category = wx.CategorySystem
	case c.GetType() == pb.ContactType_CONTACT_TYPE_OFFICIAL:
		f.Category = wx.CategoryOfficial
	}
	return f
}

func memberOf(f wx.Friend, alias string) wx.Member {
	return wx.Member{ID: f.ID, UID: f.UID, Account: f.Account, Name: f.Name, Markname: f.Markname, City: f.City,
		Province: f.Province, Signature: f.Signature, Sex: f.Sex, Display: alias}
}

// loadRoster reads the account's contacts and rooms: the friends (and official accounts,
// and the file assistant), the rooms with their members.
func (d *Driver) loadRoster(ctx context.Context, self string) (*wxroster.Roster, error) {
	ro := &wxroster.Roster{}
	pids := map[string]string{}
	me, err := d.contact(ctx, self)
	if err != nil {
		return nil, fmt.Errorf("wechaty: the account's own contact %s: %w", self, err)
	}
	u := friendOf(me)
	ro.User = wx.User{ID: u.ID, UID: u.UID, Account: u.Account, Name: u.Name, City: u.City, Province: u.Province, Signature: u.Signature, Sex: u.Sex}
	pids[u.ID] = self
	cctx, cancel := d.call(ctx)
	list, err := d.c.ContactList(cctx, &pb.ContactListRequest{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("wechaty: ContactList: %w", err)
	}
	helper := false
	for _, id := range list.GetIds() {
		if id == self {
			continue
		}
		c, err := d.contact(ctx, id)
		if err != nil {
			d.log.Warn("wechaty: contact skipped", "id", id, "err", err)
			continue
		}
		f := friendOf(c)
		if !c.GetFriend() && f.Category == wx.CategoryFriend {
			continue // a stranger met in a room: a member, not a friend
		}
		helper = helper || f.ID == wx.FileHelperID
		ro.Friends = append(ro.Friends, f)
		pids[f.ID] = id
	}
	if !helper {
		// Every WeChat account has the file assistant, whether the puppet lists it or not.
		ro.Friends = append(ro.Friends, wx.Friend{ID: wx.FileHelperID, UID: wx.FileHelperID, Account: wx.FileHelperID, Name: "文件传输助手", Category: wx.CategorySystem})
		pids[wx.FileHelperID] = wx.FileHelperID
	}
	rctx, rcancel := d.call(ctx)
	rooms, err := d.c.RoomList(rctx, &pb.RoomListRequest{})
	rcancel()
	if err != nil {
		return nil, fmt.Errorf("wechaty: RoomList: %w", err)
	}
	for _, rid := range rooms.GetIds() {
		g, err := d.room(ctx, rid, ro, pids)
		if err != nil {
			d.log.Warn("wechaty: room skipped", "id", rid, "err", err)
			continue
		}
		ro.Groups = append(ro.Groups, g)
	}
	if err := ro.Validate(); err != nil {
		return nil, fmt.Errorf("wechaty: roster: %w", err)
	}
	d.mu.Lock()
	d.pids = pids
	d.mu.Unlock()
	return ro, nil
}

// room reads a room and its members; the ids it hands out go to pids.
func (d *Driver) room(ctx context.Context, rid string, ro *wxroster.Roster, pids map[string]string) (wx.Group, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	r, err := d.c.RoomPayload(cctx, &pb.RoomPayloadRequest{Id: rid})
	if err != nil {
		return wx.Group{}, err
	}
	g := wx.Group{ID: roomID(rid), UID: rid, Name: r.GetTopic(), OwnerUID: r.GetOwnerId()}
	ml, err := d.c.RoomMemberList(cctx, &pb.RoomMemberListRequest{Id: rid})
	if err != nil {
		return wx.Group{}, err
	}
	for _, mid := range ml.GetMemberIds() {
		m, err := d.member(ctx, rid, mid, ro)
		if err != nil {
			d.log.Warn("wechaty: member skipped", "room", rid, "id", mid, "err", err)
			continue
		}
		g.Member = append(g.Member, m)
		pids[m.ID] = mid
	}
	pids[g.ID] = rid
	return g, nil
}

// member reads a room member: the contact's attributes, the room alias as display.
func (d *Driver) member(ctx context.Context, rid, mid string, ro *wxroster.Roster) (wx.Member, error) {
	cctx, cancel := d.call(ctx)
	defer cancel()
	rm, err := d.c.RoomMemberPayload(cctx, &pb.RoomMemberPayloadRequest{Id: rid, MemberId: mid})
	if err != nil {
		return wx.Member{}, err
	}
	var f wx.Friend
	if mid == ro.User.UID {
		u := ro.User
		f = wx.Friend{ID: u.ID, UID: u.UID, Account: u.Account, Name: u.Name}
	} else if c, err := d.contact(ctx, mid); err == nil {
		f = friendOf(c)
	} else {
		f = wx.Friend{ID: contactID(mid), UID: mid, Name: rm.GetName()}
	}
	if f.Name == "" {
		f.Name = rm.GetName()
	}
	return memberOf(f, rm.GetRoomAlias()), nil
}

// sinkFor returns the sink of the current login, or a send error.
func (d *Driver) loggedIn() (wxdriver.Sink, context.Context, error) {
	if d.sink == nil {
		return nil, nil, &wxdriver.SendError{Ret: wxdriver.RetNotLoggedIn, ErrMsg: "not logged in"}
	}
	return d.sink, d.runCtx, nil
}

func msgTime(p *pb.MessagePayloadResponse) time.Time {
	if t := p.GetReceiveTime(); t != nil && t.IsValid() && t.AsTime().Unix() > 0 {
		return t.AsTime()
	}
	//lint:ignore SA1019 puppets older than receive_time fill only this
	if s := p.GetTimestampDeprecated(); s > 0 {
		return time.Unix(int64(s), 0)
	}
	return time.Now()
}

var errNotLoggedIn = errors.New("wechaty: not logged in")
