package wechaty

import (
	"context"
	"errors"
	"fmt"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/services/session/wxdriver"
	pb "github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb"
	"github.com/openqq/openqq/services/session/wxroster"
)

// event delivers one event of a logged-in account.
func (d *Driver) event(ctx context.Context, v any) error {
	switch p := v.(type) {
	case *messagePayload:
		return d.message(ctx, p.MessageID)
	case *roomJoinPayload:
		return d.roomJoin(ctx, p)
	case *roomLeavePayload:
		return d.roomLeave(ctx, p)
	case *roomTopicPayload:
		return d.roomTopic(ctx, p)
	case *friendshipPayload:
		return d.friendship(ctx, p.FriendshipID)
	case *dirtyPayload:
		if p.PayloadType == dirtyContact {
			return d.contactChanged(ctx, p.PayloadID)
		}
	}
	return nil
}

// known records the wx id of a puppet contact met in an event, so that calls may name it.
func (d *Driver) known(pid string) string {
	id := contactID(pid)
	d.mu.Lock()
	d.pids[id] = pid
	d.mu.Unlock()
	return id
}

func (d *Driver) message(ctx context.Context, mid string) error {
	cctx, cancel := d.call(ctx)
	p, err := d.c.MessagePayload(cctx, &pb.MessagePayloadRequest{Id: mid})
	cancel()
	if err != nil {
		return fmt.Errorf("MessagePayload %s: %w", mid, err)
	}
	body, err := d.body(ctx, p)
	if err != nil {
		return fmt.Errorf("message %s: %w", mid, err)
	}
	d.mu.Lock()
	self := d.self
	if p.GetTalkerId() == self {
		// The account's own message: one Send made (skipped), or one sent from the phone.
		for d.inflight > 0 {
			d.cond.Wait()
		}
		_, mine := d.sent[p.GetId()]
		d.mu.Unlock()
		if mine {
			return nil
		}
		m := wxdriver.SentMessage{Type: wx.FriendMessage, MsgID: p.GetId(), TargetID: d.known(p.GetListenerId()), Time: msgTime(p), Body: body}
		if p.GetRoomId() != "" {
			m.Type, m.TargetID, m.GroupID = wx.GroupMessage, "", d.roomKnown(p.GetRoomId())
		}
		_, err := d.sinkOf().Sent(ctx, m)
		return err
	}
	d.mu.Unlock()
	in := wxdriver.Incoming{Type: wx.FriendMessage, MsgID: p.GetId(), Time: msgTime(p), Body: body}
	switch {
	case p.GetRoomId() != "" && (p.GetTalkerId() == "" || p.GetType() == pb.WireSystem || p.GetType() == pb.WireGroupNote):
		in.Type, in.GroupID = wx.GroupNotice, d.roomKnown(p.GetRoomId())
	case p.GetRoomId() != "":
		in.Type, in.GroupID, in.SenderID = wx.GroupMessage, d.roomKnown(p.GetRoomId()), d.known(p.GetTalkerId())
	case p.GetTalkerId() == "":
		return fmt.Errorf("%w: message %s without a talker", errMalformed, mid)
	default:
		in.SenderID = d.known(p.GetTalkerId())
	}
	_, err = d.sinkOf().Receive(ctx, in)
	return err
}

func (d *Driver) roomKnown(pid string) string {
	id := roomID(pid)
	d.mu.Lock()
	d.pids[id] = pid
	d.mu.Unlock()
	return id
}

// sinkOf returns the current sink (a Run's events come while it is set).
func (d *Driver) sinkOf() wxdriver.Sink {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sink == nil {
		return discard{}
	}
	return d.sink
}

// body maps a message's type to Openwx's formats, downloading its media.
func (d *Driver) body(ctx context.Context, p *pb.MessagePayloadResponse) (wxdriver.Body, error) {
	text := p.GetText()
	cctx, cancel := d.call(ctx)
	defer cancel()
	mediaOf := func(typ, box string) (wxdriver.Body, error) {
		name, mimeType, data, err := openBox(cctx, d.c, box)
		if err != nil {
			return wxdriver.Body{}, err
		}
		if name == "" {
			name = p.GetFilename()
		}
		return wxdriver.Body{Format: wx.FormatMedia, Media: &wxdriver.IncomingMedia{Type: typ, Name: name, Mime: mimeType, Data: data}}, nil
	}
	switch p.GetType() {
	case pb.WireImage:
		// MessageFile gives the file as sent, as Wechaty's Message.toFileBox does; MessageImage
		// (HD) is the fallback of puppets that keep images apart. (The mock's MessageImage is
		// a placeholder QR code.)
		r, err := d.c.MessageFile(cctx, &pb.MessageFileRequest{Id: p.GetId()})
		if err == nil {
			return mediaOf(wx.MediaImage, r.GetFileBox())
		}
		ri, err := d.c.MessageImage(cctx, &pb.MessageImageRequest{Id: p.GetId(), Type: pb.ImageType_IMAGE_TYPE_HD})
		if err != nil {
			return wxdriver.Body{}, fmt.Errorf("MessageFile, MessageImage: %w", err)
		}
		return mediaOf(wx.MediaImage, ri.GetFileBox())
	case pb.WireAttachment, pb.WireVideo, pb.WireAudio, pb.WireEmoticon:
		r, err := d.c.MessageFile(cctx, &pb.MessageFileRequest{Id: p.GetId()})
		if err != nil {
			return wxdriver.Body{}, fmt.Errorf("MessageFile: %w", err)
		}
		typ := map[pb.MessageType]string{pb.WireAttachment: wx.MediaFile, pb.WireVideo: wx.MediaVideo,
			pb.WireAudio: wx.MediaVoice, pb.WireEmoticon: wx.MediaEmoticon}[p.GetType()]
		return mediaOf(typ, r.GetFileBox())
	case pb.WireURL:
		r, err := d.c.MessageUrl(cctx, &pb.MessageUrlRequest{Id: p.GetId()})
		if err != nil {
			return wxdriver.Body{}, fmt.Errorf("MessageUrl: %w", err)
		}
		u := r.GetUrlLink()
		return wxdriver.Body{Format: wx.FormatApp, Content: "[应用分享]标题:" + u.GetTitle(),
			App: &wx.App{Title: u.GetTitle(), Desc: u.GetDescription(), URL: u.GetUrl()}}, nil
	case pb.WireMiniProgram:
		r, err := d.c.MessageMiniProgram(cctx, &pb.MessageMiniProgramRequest{Id: p.GetId()})
		if err != nil {
			return wxdriver.Body{}, fmt.Errorf("MessageMiniProgram: %w", err)
		}
		m := r.GetMiniProgram()
		return wxdriver.Body{Format: wx.FormatApp, Content: "[应用分享]标题:" + m.GetTitle(),
			App: &wx.App{ID: m.GetAppid(), Title: m.GetTitle(), Desc: m.GetDescription(), URL: m.GetPagePath()}}, nil
	case pb.WireContact:
		r, err := d.c.MessageContact(cctx, &pb.MessageContactRequest{Id: p.GetId()})
		if err != nil {
			return wxdriver.Body{}, fmt.Errorf("MessageContact: %w", err)
		}
		c, err := d.c.ContactPayload(cctx, &pb.ContactPayloadRequest{Id: r.GetId()})
		if err != nil {
			return wxdriver.Body{}, fmt.Errorf("ContactPayload %s: %w", r.GetId(), err)
		}
		f := friendOf(c)
		return wxdriver.Body{Format: wx.FormatCard, Content: "[名片](" + f.Name + ")",
			Card: &wx.Card{Account: f.Account, Name: f.Name, City: f.City, Province: f.Province, Sex: f.Sex}}, nil
	case pb.WireRecalled:
		// The puppet's text of a recalled message is the id of the message withdrawn.
		return wxdriver.Body{Format: wx.FormatRevoke, Content: "[撤回消息](" + text + ")", RevokeID: text}, nil
	case pb.WireTransfer:
		return wxdriver.Body{Format: wx.FormatPayment, Content: "[转账](" + text + ")"}, nil
	case pb.WireRedEnvelope:
		return wxdriver.Body{Format: wx.FormatPayment, Content: "[红包](" + text + ")"}, nil
	}
	return wxdriver.Body{Format: wx.FormatText, Content: text}, nil
}

func (d *Driver) roomJoin(ctx context.Context, p *roomJoinPayload) error {
	d.mu.Lock()
	g := d.ro.Group(roomID(p.RoomID))
	self := d.self
	d.mu.Unlock()
	if g == nil || contains(p.InviteeIDList, self) {
		return d.newRoom(ctx, p.RoomID)
	}
	var errs []error
	for _, mid := range p.InviteeIDList {
		d.mu.Lock()
		have := d.ro.Member(roomID(p.RoomID), contactID(mid)) != nil
		d.mu.Unlock()
		if have {
			continue
		}
		m, err := d.member(ctx, p.RoomID, mid, d.rosterCopy())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.mu.Lock()
		d.ro.AddMember(roomID(p.RoomID), m)
		d.pids[m.ID] = mid
		d.mu.Unlock()
		errs = append(errs, ignoreNoChange(d.sinkOf().Change(ctx, wxdriver.Change{Kind: events.EventNewGroupMember, GroupID: roomID(p.RoomID), Member: m})))
	}
	return errors.Join(errs...)
}

// newRoom reads a room the account joined (or created) and reports it.
func (d *Driver) newRoom(ctx context.Context, rid string) error {
	ro := d.rosterCopy()
	pids := map[string]string{}
	g, err := d.room(ctx, rid, ro, pids)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.ro.Group(g.ID) != nil {
		d.mu.Unlock()
		return nil
	}
	d.ro.AddGroup(g)
	for k, v := range pids {
		d.pids[k] = v
	}
	d.mu.Unlock()
	return ignoreNoChange(d.sinkOf().Change(ctx, wxdriver.Change{Kind: events.EventNewGroup, Group: g}))
}

func (d *Driver) roomLeave(ctx context.Context, p *roomLeavePayload) error {
	gid := roomID(p.RoomID)
	d.mu.Lock()
	self := d.self
	if contains(p.RemoveeIDList, self) {
		_, ok := d.ro.RemoveGroup(gid)
		d.mu.Unlock()
		if !ok {
			return nil
		}
		return ignoreNoChange(d.sinkOf().Change(ctx, wxdriver.Change{Kind: events.EventLoseGroup, Group: wx.Group{ID: gid}}))
	}
	var gone []string
	for _, mid := range p.RemoveeIDList {
		if _, _, ok := d.ro.RemoveMember(gid, contactID(mid)); ok {
			gone = append(gone, contactID(mid))
		}
	}
	d.mu.Unlock()
	var errs []error
	for _, id := range gone {
		errs = append(errs, ignoreNoChange(d.sinkOf().Change(ctx, wxdriver.Change{Kind: events.EventLoseGroupMember, GroupID: gid, Member: wx.Member{ID: id}})))
	}
	return errors.Join(errs...)
}

func (d *Driver) roomTopic(ctx context.Context, p *roomTopicPayload) error {
	gid := roomID(p.RoomID)
	d.mu.Lock()
	g := d.ro.Group(gid)
	if g == nil {
		d.mu.Unlock()
		return d.newRoom(ctx, p.RoomID)
	}
	changed := g.Name != p.NewTopic
	g.Name = p.NewTopic
	d.mu.Unlock()
	if !changed {
		return nil
	}
	return ignoreNoChange(d.sinkOf().ChangeProperty(ctx, wxdriver.PropertyChange{GroupID: gid, Property: wxdriver.PropertyName, New: p.NewTopic}))
}

func (d *Driver) friendship(ctx context.Context, fid string) error {
	cctx, cancel := d.call(ctx)
	f, err := d.c.FriendshipPayload(cctx, &pb.FriendshipPayloadRequest{Id: fid})
	cancel()
	if err != nil {
		return fmt.Errorf("FriendshipPayload %s: %w", fid, err)
	}
	switch f.GetType() {
	case pb.FriendshipType_FRIENDSHIP_TYPE_RECEIVE:
		name := f.GetContactId()
		if c, err := d.contact(ctx, f.GetContactId()); err == nil && c.GetName() != "" {
			name = c.GetName()
		}
		d.mu.Lock()
		d.requests[fid] = f.GetContactId()
		d.mu.Unlock()
		return d.sinkOf().FriendRequest(ctx, wx.FriendRequest{ID: d.known(f.GetContactId()), Displayname: name, Verify: f.GetHello(), Ticket: fid})
	case pb.FriendshipType_FRIENDSHIP_TYPE_CONFIRM:
		return d.contactChanged(ctx, f.GetContactId())
	}
	return nil
}

// contactChanged reads a contact again and reports what changed: a new friend, a friend
// lost, a changed remark, name or signature.
func (d *Driver) contactChanged(ctx context.Context, pid string) error {
	c, err := d.contact(ctx, pid)
	if err != nil {
		return fmt.Errorf("ContactPayload %s: %w", pid, err)
	}
	nf := friendOf(c)
	d.mu.Lock()
	old := d.ro.Friend(nf.ID)
	var had *wx.Friend
	if old != nil {
		cp := *old
		had = &cp
	}
	isFriend := c.GetFriend() || nf.Category != wx.CategoryFriend
	switch {
	case had == nil && isFriend:
		d.ro.AddFriend(nf)
		d.pids[nf.ID] = pid
	case had != nil && !isFriend:
		d.ro.RemoveFriend(nf.ID)
	case had != nil:
		*old = nf
	}
	d.mu.Unlock()
	sink := d.sinkOf()
	switch {
	case had == nil && isFriend:
		return ignoreNoChange(sink.Change(ctx, wxdriver.Change{Kind: events.EventNewFriend, Friend: nf}))
	case had != nil && !isFriend:
		return ignoreNoChange(sink.Change(ctx, wxdriver.Change{Kind: events.EventLoseFriend, Friend: wx.Friend{ID: nf.ID}}))
	case had != nil:
		var errs []error
		for _, pc := range []struct{ prop, old, new string }{
			{wxdriver.PropertyName, had.Name, nf.Name}, {wxdriver.PropertyMarkname, had.Markname, nf.Markname},
			{wxdriver.PropertySignature, had.Signature, nf.Signature}, {wxdriver.PropertyCity, had.City, nf.City},
			{wxdriver.PropertyProvince, had.Province, nf.Province}, {wxdriver.PropertyAccount, had.Account, nf.Account},
		} {
			if pc.old != pc.new {
				errs = append(errs, ignoreNoChange(sink.ChangeProperty(ctx, wxdriver.PropertyChange{FriendID: nf.ID, Property: pc.prop, New: pc.new})))
			}
		}
		return errors.Join(errs...)
	}
	return nil
}

func (d *Driver) rosterCopy() *wxroster.Roster {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ro.Clone()
}

func ignoreNoChange(err error) error {
	if errors.Is(err, wxdriver.ErrNoChange) {
		return nil
	}
	return err
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
