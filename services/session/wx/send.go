package wx

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/events/wx"
	"github.com/openqq/openqq/pkg/infra/media"
	"github.com/openqq/openqq/services/session/engine"
	"github.com/openqq/openqq/services/session/wxdriver"
	"github.com/openqq/openqq/services/session/wxroster"
)

// A send resolves its target under the read lock into a target (the ids and the names its
// send_message report carries), checks that it says something, resolves its media (stored once
// in the media store), then sends without the lock: the text first, then the media.

// target is where a message goes, with what its report says of it.
type target struct {
	typ      string // wx.FriendMessage or wx.GroupMessage
	id       string
	sender   *wx.Sender   // the account
	receiver *wx.Receiver // a friend message's
	group    *wx.GroupRef // a group message's
}

// message is what one call sends: text, a media, or both.
type message struct {
	content string
	media   *media.Meta
}

func (w *Platform) sendFriendMessage(ctx context.Context, p events.Params) (any, error) {
	if p["id"] == wx.AllFriends {
		return w.sendAll(ctx, p)
	}
	return w.send(ctx, p, friendTarget)
}

func (w *Platform) sendGroupMessage(ctx context.Context, p events.Params) (any, error) {
	return w.send(ctx, p, groupTarget)
}

// friendTarget finds a friend by id, account, displayname or markname (all given must match).
func friendTarget(ro *wxroster.Roster, p events.Params) (target, bool) {
	f := ro.FindFriend(selector(p, wxroster.FriendSelectors...))
	if f == nil {
		return target{}, false
	}
	return toFriend(ro, f), true
}

func toFriend(ro *wxroster.Roster, f *wx.Friend) target {
	return target{
		typ: wx.FriendMessage, id: f.ID, sender: wx.UserSender(&ro.User), receiver: wx.FriendReceiver(f),
	}
}

// groupTarget finds a group by id or displayname.
func groupTarget(ro *wxroster.Roster, p events.Params) (target, bool) {
	g := ro.FindGroup(selector(p, wxroster.GroupSelectors...))
	if g == nil {
		return target{}, false
	}
	return target{typ: wx.GroupMessage, id: g.ID, sender: wx.UserSender(&ro.User), group: wx.GroupRefOf(g)}, true
}

// resolve finds a send's target and reads what it says: content, media, or both; neither is
// a clear error (Mojo's call hung). Media named by media_id, media_data or media_path is stored
// (once) before anything is sent; a bad one is refused with the store's reply.
func (w *Platform) resolve(ctx context.Context, p events.Params, find func(*wxroster.Roster, events.Params) (target, bool)) (target, message, error) {
	var t target
	var found bool
	if err := w.roster(func(ro *wxroster.Roster) error { t, found = find(ro, p); return nil }); err != nil {
		return target{}, message{}, err
	}
	if !found {
		return target{}, message{}, wx.ErrSendNotFound
	}
	m, err := w.message(ctx, p)
	return t, m, err
}

// message reads the content and the media of a call.
func (w *Platform) message(ctx context.Context, p events.Params) (message, error) {
	m := message{content: p["content"]}
	if !hasMedia(p) {
		if m.content == "" {
			return message{}, wx.ErrNoContent
		}
		return m, nil
	}
	meta, ok, err := w.media.Resolve(ctx, p)
	if err != nil {
		return message{}, err
	}
	if ok {
		m.media = &meta
	} else if m.content == "" {
		return message{}, wx.ErrNoContent
	}
	return m, nil
}

// send is send_friend_message and send_group_message: at once and in the background with
// async=1, else waiting for WeChat's answer.
func (w *Platform) send(ctx context.Context, p events.Params, find func(*wxroster.Roster, events.Params) (target, bool)) (any, error) {
	t, m, err := w.resolve(ctx, p, find)
	if err != nil {
		return asReply(err)
	}
	if p.Truthy("async") {
		w.background(ctx, func(ctx context.Context) { w.deliver(ctx, t, m) })
		return events.StatusInProcess, nil
	}
	return w.deliver(ctx, t, m), nil
}

// background runs f through the engine (its stop waits for it) with a context of its own that
// keeps ctx's values (who asked) but not its deadline: the call has been answered.
func (w *Platform) background(ctx context.Context, f func(ctx context.Context)) {
	ctx = context.WithoutCancel(ctx)
	w.e.Go(func() { f(ctx) })
}

// sendAll is send_friend_message with id=@all: every friend gets the message, in the
// background; the call answers {"id":0,"code":0,"status":"request already executed"} at once.
func (w *Platform) sendAll(ctx context.Context, p events.Params) (any, error) {
	var targets []target
	err := w.roster(func(ro *wxroster.Roster) error {
		for i := range ro.Friends {
			targets = append(targets, toFriend(ro, &ro.Friends[i]))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	m, err := w.message(ctx, p)
	if err != nil {
		return asReply(err)
	}
	w.log.Info("send to every friend", "friends", len(targets), "media", m.media != nil)
	w.background(ctx, func(ctx context.Context) {
		for _, t := range targets {
			if ctx.Err() != nil {
				return
			}
			w.deliver(ctx, t, m)
		}
	})
	return wx.NewAllSentReply(), nil
}

// deliver sends the text, then the media, each bounded by DRIVER_TIMEOUT from now, and answers
// as the last send does (with the media's id when there is one). A failed text stops there:
// the media is not sent after it.
func (w *Platform) deliver(ctx context.Context, t target, m message) *wx.SendReply {
	var r *wx.SendReply
	if m.content != "" {
		r = w.sendOne(ctx, t, m.content, nil)
		if r.Code != events.CodeOK || m.media == nil {
			return r
		}
	}
	r = w.sendOne(ctx, t, "", m.media)
	if r.Code == events.CodeOK {
		return r.WithMedia(m.media.ID)
	}
	return r.WithMedia("")
}

// sendOne sends one message through the driver and publishes its send_message report,
// whatever the outcome.
func (w *Platform) sendOne(ctx context.Context, t target, content string, meta *media.Meta) *wx.SendReply {
	ctx, cancel := context.WithTimeout(ctx, w.e.Config().DriverTimeout)
	defer cancel()
	out := wxdriver.Outgoing{Type: t.typ, TargetID: t.id, Content: content}
	report := &wx.Message{
		Class: events.ClassSend, Content: content, Format: wx.FormatText, From: engine.From(ctx),
		PostType: events.PostSendMessage, Source: wx.SourceLocal, Time: time.Now().Unix(), Type: t.typ,
		Sender: t.sender, Receiver: t.receiver, GroupRef: t.group,
	}
	if meta != nil {
		out.Media = w.outgoingMedia(*meta)
		report.Format = wx.FormatMedia
		report.Media = reportMedia(*meta)
		report.Content = mediaContent(*meta)
	}
	msgID, err := w.drv.Send(ctx, out)
	var reply *wx.SendReply
	if err == nil {
		report.ID = wx.JoinMsgID(msgID, t.id)
		reply = wx.NewSendReply(report.ID)
		report.SendResult = &wx.SendResult{Code: events.CodeOK, Info: wx.SendOK, Msg: wx.SendOK, Status: wx.SendOK}
	} else {
		// As Mojo: a message WeChat refused keeps the local id it was queued with.
		report.ID = strconv.FormatInt(w.e.NextID(), 10)
		ret, text := -1, wx.SendUnknown
		var se *wxdriver.SendError
		if errors.As(err, &se) {
			ret, text = se.Ret, se.ErrMsg
		} else if u := w.unsupported("send", err); u != nil {
			ret, text = u.Code, u.Status
		}
		reply = wx.NewSendFailure(report.ID, ret, text)
		report.SendResult = &wx.SendResult{Code: reply.Code, Info: reply.Status, Msg: reply.Status, Status: reply.Status}
		w.log.Warn("send failed", "type", t.typ, "target", t.id, "id", report.ID, "media", meta != nil, "err", err)
	}
	if err := w.e.PublishItem(report, report.ID); err != nil {
		w.log.Error("send_message report not published", "id", report.ID, "err", err)
	}
	return reply
}

// outgoingMedia hands a stored media to the driver, its bytes read from the store.
func (w *Platform) outgoingMedia(m media.Meta) *wxdriver.Media { return w.media.Attachment(m) }

// reportMedia is the media part of a report: the stored media's fields, never its bytes
// (the reporter adds media_data for post_api).
func reportMedia(m media.Meta) *wx.Media { return m.Report() }

// mediaContent is a media message's content as Mojo-Weixin writes it: [图片](<media_path>).
func mediaContent(m media.Meta) string { return wx.MediaContent(m.Type, m.Path) }

// asReply answers a send's refusal: a *wx.SendReply goes out as a value (HTTP 200 with its own
// code, which may be -1), any other error as the engine answers errors.
func asReply(err error) (any, error) {
	var sr *wx.SendReply
	if errors.As(err, &sr) {
		return sr, nil
	}
	return nil, err
}
